//! Byte-level helpers shared by the SIP parsers (RFC 3261 §25 character classes).

/// Linear white space inside a header value. CR and LF can only occur there as part of a
/// folded line (CRLF followed by SP/HT), so they count as white space too.
pub(crate) fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

pub(crate) fn trim_lws(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_lws(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|&b| !is_lws(b)).map_or(start, |p| p + 1);
    s.get(start..end).unwrap_or(&[])
}

pub(crate) fn skip_lws(s: &[u8], mut i: usize) -> usize {
    while s.get(i).is_some_and(|&b| is_lws(b)) {
        i += 1;
    }
    i
}

/// RFC 3261 `token` characters.
pub(crate) fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}

pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_token_char(b))
}

pub(crate) fn eq_ic(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// `1*DIGIT` as u32; leading zeros allowed, overflow is an error (RFC 4475 scalar02).
pub(crate) fn parse_u32(s: &[u8]) -> Option<u32> {
    if s.is_empty() {
        return None;
    }
    let mut n: u32 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u32::from(b - b'0'))?;
    }
    Some(n)
}

pub(crate) fn parse_u16(s: &[u8]) -> Option<u16> {
    parse_u32(s).and_then(|n| u16::try_from(n).ok())
}

/// Index just after the closing quote of the quoted string starting at `s[start]` (a `"`).
pub(crate) fn end_of_quoted(s: &[u8], start: usize) -> Option<usize> {
    if s.get(start) != Some(&b'"') {
        return None;
    }
    let mut i = start + 1;
    loop {
        match s.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
}

/// Writes `n` in decimal into `buf`, returning the digits (wire bytes, endian-independent).
pub fn write_u32(n: u32, buf: &mut [u8; 10]) -> &[u8] {
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        if let Some(slot) = buf.get_mut(i) {
            // n % 10 < 10, so the cast cannot truncate.
            *slot = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    buf.get(i..).unwrap_or(&[])
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_u32(b"0068"), Some(68));
        assert_eq!(parse_u32(b"4294967295"), Some(u32::MAX));
        assert_eq!(parse_u32(b"4294967296"), None);
        assert_eq!(parse_u32(b"-1"), None);
        assert_eq!(parse_u32(b""), None);
        let mut b = [0; 10];
        assert_eq!(write_u32(0, &mut b), b"0");
        assert_eq!(write_u32(u32::MAX, &mut b), b"4294967295");
        assert_eq!(write_u32(150, &mut b), b"150");
    }

    #[test]
    fn quoting() {
        assert_eq!(end_of_quoted(br#""a\"b" x"#, 0), Some(6));
        assert_eq!(end_of_quoted(br#""abc"#, 0), None);
        assert_eq!(trim_lws(b" \r\n a b\t"), b"a b");
        assert_eq!(trim_lws(b"  "), b"");
    }
}
