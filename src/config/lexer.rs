//! Line syntax of `siproxd.conf` (decisions §2) and C `%i` integers.

/// One line of a `siproxd.conf` file (or one `-s` argument).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line<'a> {
    /// Empty, blank or comment only.
    Blank,
    /// Text without `=` (siproxd: "Syntax error in config file").
    NoEquals(&'a str),
    /// `key = value`; the value is unquoted, or the reason it could not be.
    Entry {
        key: &'a str,
        value: Result<&'a str, ValueError>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueError {
    UnterminatedQuote,
    TextAfterQuote,
}

impl ValueError {
    pub fn message(self) -> &'static str {
        match self {
            ValueError::UnterminatedQuote => "double-quoted value has no closing quote",
            ValueError::TextAfterQuote => "unexpected text after the closing double quote",
        }
    }
}

/// Splits a line. The keyword is the trimmed text before the first `=`. `#` starts a comment at
/// the start of the line, after whitespace or right after the `=`, but never inside a
/// double-quoted value, so `pass#word` and `"a # b"` keep their `#`.
pub fn split_line(line: &str) -> Line<'_> {
    let mut seen_eq = false;
    let mut in_quote = false;
    let mut prev: Option<char> = None;
    let mut cut = line.len();
    for (i, c) in line.char_indices() {
        match c {
            '=' if !in_quote => seen_eq = true,
            '"' if seen_eq => in_quote = !in_quote,
            '#' if !in_quote && prev.is_none_or(|p| p.is_whitespace() || p == '=') => {
                cut = i;
                break;
            }
            _ => {}
        }
        prev = Some(c);
    }
    let content = line.get(..cut).unwrap_or(line).trim();
    if content.is_empty() {
        return Line::Blank;
    }
    let Some((key, raw)) = content.split_once('=') else {
        return Line::NoEquals(content);
    };
    Line::Entry {
        key: key.trim(),
        value: unquote(raw.trim()),
    }
}

fn unquote(raw: &str) -> Result<&str, ValueError> {
    let Some(rest) = raw.strip_prefix('"') else {
        return Ok(raw);
    };
    match rest.find('"') {
        None => Err(ValueError::UnterminatedQuote),
        Some(end) if end + 1 == rest.len() => Ok(rest.get(..end).unwrap_or("")),
        Some(_) => Err(ValueError::TextAfterQuote),
    }
}

/// A C `%i` integer: optional sign, then `0x` hex, leading-`0` octal or decimal. Parsing stops at
/// the first character that is not a digit of the base, as siproxd's `sscanf` does, so trailing
/// text is tolerated; the second value says whether there was any.
pub fn parse_c_int(s: &str) -> Result<(i64, bool), IntError> {
    let t = s.trim_start();
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, t.get(1..).unwrap_or("")),
        Some(b'+') => (false, t.get(1..).unwrap_or("")),
        _ => (false, t),
    };
    let b = t.as_bytes();
    let is_hex = matches!(b.get(..2), Some(b"0x") | Some(b"0X"))
        && b.get(2).is_some_and(|c| c.is_ascii_hexdigit());
    let (radix, digits) = if is_hex {
        (16, t.get(2..).unwrap_or(""))
    } else if b.first() == Some(&b'0') {
        (8, t)
    } else {
        (10, t)
    };
    let mut value: i64 = 0;
    let mut used = 0usize;
    for c in digits.chars() {
        let Some(d) = c.to_digit(radix) else { break };
        value = value
            .checked_mul(i64::from(radix))
            .and_then(|v| v.checked_add(i64::from(d)))
            .ok_or(IntError::TooLarge)?;
        used += 1;
    }
    if used == 0 {
        return Err(IntError::NotANumber);
    }
    let trailing = digits.len() > used;
    Ok((if neg { -value } else { value }, trailing))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntError {
    NotANumber,
    TooLarge,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn entry(line: &str) -> (&str, Result<&str, ValueError>) {
        match split_line(line) {
            Line::Entry { key, value } => (key, value),
            other => panic!("not an entry: {other:?}"),
        }
    }

    #[test]
    fn blank_and_comment_lines() {
        assert_eq!(split_line(""), Line::Blank);
        assert_eq!(split_line("   \t "), Line::Blank);
        assert_eq!(split_line("# sip_listen_port = 5060"), Line::Blank);
        assert_eq!(split_line("  \t# indented comment"), Line::Blank);
        assert_eq!(split_line("\r"), Line::Blank);
    }

    #[test]
    fn line_without_equals() {
        assert_eq!(split_line("daemonize 1"), Line::NoEquals("daemonize 1"));
    }

    #[test]
    fn key_is_trimmed_token_before_first_equals() {
        assert_eq!(entry("  rtp_timeout\t=  300  "), ("rtp_timeout", Ok("300")));
        assert_eq!(entry("ua_string = a=b"), ("ua_string", Ok("a=b")));
        assert_eq!(
            entry("registration_file = /home/user/regs"),
            ("registration_file", Ok("/home/user/regs"))
        );
    }

    #[test]
    fn comments_after_whitespace_are_stripped_but_inner_hash_kept() {
        assert_eq!(
            entry("sip_listen_port = 5060 # comment"),
            ("sip_listen_port", Ok("5060"))
        );
        assert_eq!(
            entry("proxy_auth_passwd = pass#word"),
            ("proxy_auth_passwd", Ok("pass#word"))
        );
        assert_eq!(entry("ua_string =# nothing"), ("ua_string", Ok("")));
        assert_eq!(entry("ua_string =\t# nothing"), ("ua_string", Ok("")));
    }

    #[test]
    fn quoted_values_keep_hash_and_spaces() {
        assert_eq!(
            entry(r#"proxy_auth_passwd = "se # cret""#),
            ("proxy_auth_passwd", Ok("se # cret"))
        );
        assert_eq!(
            entry(r#"ua_string = "  padded  "   # why"#),
            ("ua_string", Ok("  padded  "))
        );
        assert_eq!(entry(r#"ua_string = """#), ("ua_string", Ok("")));
        assert_eq!(
            entry(r#"ua_string = "open # x"#).1,
            Err(ValueError::UnterminatedQuote)
        );
        assert_eq!(
            entry(r#"ua_string = "a" b"#).1,
            Err(ValueError::TextAfterQuote)
        );
    }

    #[test]
    fn c_integers() {
        assert_eq!(parse_c_int("5060"), Ok((5060, false)));
        assert_eq!(parse_c_int("0x1F"), Ok((31, false)));
        assert_eq!(parse_c_int("0X00000100"), Ok((256, false)));
        assert_eq!(parse_c_int("0755"), Ok((493, false)));
        assert_eq!(parse_c_int("0"), Ok((0, false)));
        assert_eq!(parse_c_int("-1"), Ok((-1, false)));
        assert_eq!(parse_c_int("+42"), Ok((42, false)));
        assert_eq!(parse_c_int("-0x10"), Ok((-16, false)));
        assert_eq!(parse_c_int("300s"), Ok((300, true)));
        assert_eq!(parse_c_int("08"), Ok((0, true)));
        assert_eq!(parse_c_int("0x"), Ok((0, true)));
        assert_eq!(parse_c_int("abc"), Err(IntError::NotANumber));
        assert_eq!(parse_c_int("-"), Err(IntError::NotANumber));
        assert_eq!(parse_c_int(""), Err(IntError::NotANumber));
        assert_eq!(parse_c_int("99999999999999999999"), Err(IntError::TooLarge));
    }
}
