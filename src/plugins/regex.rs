//! Regular expressions with siproxd's semantics: POSIX extended, case-insensitive, `\1`..`\9`
//! in replacements. The C library's `regcomp`/`regexec` do the matching (musl and glibc both
//! have them, so the router binary pays almost nothing); this is the small safe wrapper,
//! compiled once at start.

use std::ffi::CString;

/// Groups a replacement may name (`\0`..`\9`).
const GROUPS: usize = 10;

/// A compiled pattern.
pub struct Regex {
    re: Box<libc::regex_t>,
    pattern: String,
}

// SAFETY: the compiled `regex_t` is only read by `regexec` (thread-safe per POSIX) after
// `regcomp`, and freed once in `Drop`; it holds no thread-local state.
unsafe impl Send for Regex {}

impl std::fmt::Debug for Regex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Regex({:?})", self.pattern)
    }
}

/// Why a pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegexError(pub String);

impl std::fmt::Display for RegexError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Regex {
    /// Compiles `pattern` (POSIX extended, case-insensitive).
    pub fn new(pattern: &str) -> Result<Regex, RegexError> {
        let c = CString::new(pattern)
            .map_err(|_| RegexError(format!("pattern {pattern:?} contains a NUL byte")))?;
        // SAFETY: zeroed memory is a valid initial state for a regex_t that regcomp fills in.
        let mut re: Box<libc::regex_t> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: `re` points to writable memory of the right type and `c` is NUL-terminated.
        let rc =
            unsafe { libc::regcomp(&mut *re, c.as_ptr(), libc::REG_EXTENDED | libc::REG_ICASE) };
        if rc != 0 {
            let mut buf = [0u8; 128];
            // SAFETY: regerror writes at most buf.len() bytes, NUL-terminated, into buf.
            let n = unsafe { libc::regerror(rc, &*re, buf.as_mut_ptr().cast(), buf.len()) };
            let text = buf.get(..n.saturating_sub(1)).unwrap_or_default();
            // A failed regcomp leaves nothing to free (POSIX).
            return Err(RegexError(format!(
                "bad pattern {pattern:?}: {}",
                String::from_utf8_lossy(text)
            )));
        }
        Ok(Regex {
            re,
            pattern: pattern.to_string(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// The byte ranges of the whole match (0) and of each group, or `None` without a match.
    /// A subject with a NUL byte never matches (C strings end there).
    pub fn captures(&self, subject: &str) -> Option<[Option<(usize, usize)>; GROUPS]> {
        let c = CString::new(subject).ok()?;
        let mut m = [libc::regmatch_t {
            rm_so: -1,
            rm_eo: -1,
        }; GROUPS];
        // SAFETY: `self.re` was compiled by regcomp; `m` has GROUPS entries as passed.
        let rc = unsafe { libc::regexec(&*self.re, c.as_ptr(), GROUPS, m.as_mut_ptr(), 0) };
        if rc != 0 {
            return None;
        }
        let mut out = [None; GROUPS];
        for (o, g) in out.iter_mut().zip(m.iter()) {
            let (Ok(s), Ok(e)) = (usize::try_from(g.rm_so), usize::try_from(g.rm_eo)) else {
                continue;
            };
            if s <= e && e <= subject.len() {
                *o = Some((s, e));
            }
        }
        Some(out)
    }

    pub fn is_match(&self, subject: &str) -> bool {
        self.captures(subject).is_some()
    }

    /// siproxd's substitution: the matched part of `subject` replaced by `replacement` with
    /// `\N` naming group N (an unmatched group is empty), the rest of `subject` kept. `None`
    /// when the pattern does not match.
    pub fn replace(&self, subject: &str, replacement: &str) -> Option<String> {
        let caps = self.captures(subject)?;
        let (ms, me) = caps.first().copied().flatten()?;
        let mut out = String::with_capacity(subject.len() + replacement.len());
        out.push_str(subject.get(..ms)?);
        let mut chars = replacement.chars().peekable();
        while let Some(ch) = chars.next() {
            match (ch, chars.peek().and_then(|d| d.to_digit(10))) {
                ('\\', Some(d)) => {
                    chars.next();
                    let group = caps.get(d as usize).copied().flatten();
                    if let Some((s, e)) = group {
                        out.push_str(subject.get(s..e).unwrap_or_default());
                    }
                }
                _ => out.push(ch),
            }
        }
        out.push_str(subject.get(me..)?);
        Some(out)
    }
}

impl Drop for Regex {
    fn drop(&mut self) {
        // SAFETY: `self.re` was compiled by a successful regcomp and is freed only here.
        unsafe { libc::regfree(&mut *self.re) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extended_case_insensitive_with_groups() {
        let r = Regex::new("^sip:\\+?49([0-9]+)@(.*)$").unwrap();
        assert!(r.is_match("SIP:+4930123@example.com"));
        assert_eq!(
            r.replace("sip:+4930123@example.com", "sip:0\\1@\\2")
                .unwrap(),
            "sip:030123@example.com"
        );
        assert_eq!(r.replace("sip:0301@example.com", "x"), None);
    }

    #[test]
    fn the_unmatched_rest_is_kept_and_missing_groups_are_empty() {
        let r = Regex::new("0049").unwrap();
        assert_eq!(r.replace("sip:004930@h", "+49\\3").unwrap(), "sip:+4930@h");
        let r = Regex::new("^(a)|(b)$").unwrap();
        assert_eq!(r.replace("b", "[\\1\\2]").unwrap(), "[b]");
    }

    #[test]
    fn bad_patterns_and_odd_subjects_are_errors_not_panics() {
        let e = Regex::new("(unclosed").unwrap_err();
        assert!(e.0.contains("(unclosed"), "{e}");
        assert!(Regex::new("a\0b").is_err());
        let r = Regex::new(".*").unwrap();
        assert!(!r.is_match("a\0b"));
        assert_eq!(r.replace("", "x").unwrap(), "x");
        assert_eq!(r.replace("ü", "\\0\\0").unwrap(), "üü");
    }
}
