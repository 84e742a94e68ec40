//! The regex wrapper of the plugins (`plugins::regex::Regex`: the C library's regcomp/regexec):
//! input = pattern 0xFF subject 0xFF replacement (lossy UTF-8; a missing part is empty).
//!
//! Invariants: compiling and matching never panic; every range reported lies within the
//! subject, in order; a replacement happens exactly when the pattern matches and, without a
//! `\N` in it, is the subject with the whole match replaced.
#![no_main]

use libfuzzer_sys::fuzz_target;
use siproxd_rs::plugins::regex::Regex;

/// Patterns come from the configuration (trusted), subjects from the network. glibc's regcomp
/// needs memory exponential in stacked repetitions (`0+++...+` with 57 `+` takes over 2 GB):
/// a cost of the C library for hostile patterns, not a defect of the wrapper, so patterns are
/// kept short and with few repetition operators.
const MAX_PATTERN: usize = 256;
const MAX_REPETITIONS: usize = 8;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |&b| b == 0xff);
    let pattern = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let subject = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let replacement = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let repetitions = pattern.bytes().filter(|b| b"*+?{".contains(b)).count();
    if pattern.len() > MAX_PATTERN || repetitions > MAX_REPETITIONS {
        return;
    }
    let Ok(re) = Regex::new(&pattern) else {
        return;
    };
    let caps = re.captures(&subject);
    assert_eq!(caps.is_some(), re.is_match(&subject));
    if let Some(caps) = caps {
        assert!(caps[0].is_some(), "a match has a whole-match range");
        for (s, e) in caps.iter().flatten() {
            assert!(s <= e && *e <= subject.len());
        }
    }
    match re.replace(&subject, &replacement) {
        Some(out) => {
            let (s, e) = caps.and_then(|c| c[0]).expect("replaced without a match");
            if !replacement.contains('\\') {
                assert_eq!(out, format!("{}{replacement}{}", &subject[..s], &subject[e..]));
            }
        }
        // A match whose ends are not character boundaries is not replaced (bytes matched
        // inside a multi-byte character).
        None => {
            if let Some((s, e)) = caps.and_then(|c| c[0]) {
                assert!(!subject.is_char_boundary(s) || !subject.is_char_boundary(e));
            }
        }
    }
});
