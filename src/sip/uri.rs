//! URIs: sip/sips parsed into parts, tel split into number and parameters, any other scheme
//! kept opaque (RFC 3261 §19.1, §25).

use core::net::{Ipv4Addr, Ipv6Addr};

use super::error::ParseError;
use super::header::Params;
use super::scan::eq_ic;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Sip,
    Sips,
    Tel,
    /// Any other syntactically valid scheme.
    Other,
}

/// The host of a URI or Via sent-by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host<'a> {
    Ipv4(Ipv4Addr),
    /// From an IPv6 reference `[...]`, or a bare IPv6 address as some phones send.
    Ipv6(Ipv6Addr),
    Name(&'a [u8]),
}

impl<'a> Host<'a> {
    /// Parses a host (IPv4, `[IPv6]`, or hostname).
    pub fn parse(s: &'a [u8]) -> Option<Host<'a>> {
        if let [b'[', inner @ .., b']'] = s {
            return parse_ipv6(inner).map(Host::Ipv6);
        }
        if let Some(a) = core::str::from_utf8(s)
            .ok()
            .and_then(|t| t.parse::<Ipv4Addr>().ok())
        {
            return Some(Host::Ipv4(a));
        }
        let ok = !s.is_empty()
            && s.iter()
                .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
        ok.then_some(Host::Name(s))
    }
}

/// A host as written in a URI, Via or configuration, without the brackets of an IPv6
/// reference (`[2001:db8::1]` → `2001:db8::1`), to compare or parse it as an address.
pub fn unbracket(host: &str) -> &str {
    host.trim_start_matches('[').trim_end_matches(']')
}

fn parse_ipv6(s: &[u8]) -> Option<Ipv6Addr> {
    core::str::from_utf8(s).ok()?.parse().ok()
}

/// Splits `host[:port]`, accepting `[v6]:port` and bare IPv6 with or without a trailing port.
pub(crate) fn split_hostport(s: &[u8]) -> Option<(Host<'_>, &[u8], Option<u16>)> {
    let colons = s.iter().filter(|&&b| b == b':').count();
    if colons >= 2 && s.first() != Some(&b'[') {
        if let Some(a) = parse_ipv6(s) {
            return Some((Host::Ipv6(a), s, None));
        }
        let c = s.iter().rposition(|&b| b == b':')?;
        let (h, p) = (s.get(..c)?, s.get(c + 1..)?);
        return Some((
            Host::Ipv6(parse_ipv6(h)?),
            h,
            Some(super::scan::parse_u16(p)?),
        ));
    }
    let host_end = if s.first() == Some(&b'[') {
        s.iter().position(|&b| b == b']')? + 1
    } else {
        s.iter().position(|&b| b == b':').unwrap_or(s.len())
    };
    let host_raw = s.get(..host_end)?;
    let host = Host::parse(host_raw)?;
    let port = match s.get(host_end..)? {
        [] => None,
        [b':', digits @ ..] => Some(super::scan::parse_u16(digits)?),
        _ => return None,
    };
    Some((host, host_raw, port))
}

/// A parsed URI borrowing the message buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uri<'a> {
    /// The whole URI as it appears in the message.
    pub raw: &'a [u8],
    pub scheme: Scheme,
    pub scheme_raw: &'a [u8],
    /// sip/sips: user part (still %-escaped); tel: the number.
    pub user: Option<&'a [u8]>,
    pub password: Option<&'a [u8]>,
    /// sip/sips only.
    pub host: Option<Host<'a>>,
    pub host_raw: &'a [u8],
    /// `host[:port]` as written (sip/sips), the bytes to replace when masquerading.
    pub hostport_raw: &'a [u8],
    pub port: Option<u16>,
    /// sip/sips/tel parameters.
    pub params: Params<'a>,
    /// Headers after `?` (sip/sips), still escaped.
    pub headers: Option<&'a [u8]>,
    /// Everything after `scheme:`.
    pub opaque: &'a [u8],
}

fn is_scheme(s: &[u8]) -> bool {
    matches!(s.first(), Some(b) if b.is_ascii_alphabetic())
        && s.iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

fn is_uri_char(b: u8) -> bool {
    b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'"')
}

impl<'a> Uri<'a> {
    pub fn parse(s: &'a [u8]) -> Result<Uri<'a>, ParseError> {
        Self::parse_opt(s).ok_or(ParseError::BadUri)
    }

    fn parse_opt(s: &'a [u8]) -> Option<Uri<'a>> {
        if s.is_empty() || !s.iter().all(|&b| is_uri_char(b)) {
            return None;
        }
        let colon = s.iter().position(|&b| b == b':')?;
        let scheme_raw = s.get(..colon)?;
        if !is_scheme(scheme_raw) {
            return None;
        }
        let opaque = s.get(colon + 1..)?;
        let scheme = if eq_ic(scheme_raw, b"sip") {
            Scheme::Sip
        } else if eq_ic(scheme_raw, b"sips") {
            Scheme::Sips
        } else if eq_ic(scheme_raw, b"tel") {
            Scheme::Tel
        } else {
            Scheme::Other
        };
        let empty_params = Params::uri(opaque.get(opaque.len()..)?)?;
        let mut uri = Uri {
            raw: s,
            scheme,
            scheme_raw,
            user: None,
            password: None,
            host: None,
            host_raw: opaque.get(..0)?,
            hostport_raw: opaque.get(..0)?,
            port: None,
            params: empty_params,
            headers: None,
            opaque,
        };
        match scheme {
            Scheme::Other => {
                if opaque.is_empty() {
                    return None;
                }
            }
            Scheme::Tel => {
                let semi = opaque
                    .iter()
                    .position(|&b| b == b';')
                    .unwrap_or(opaque.len());
                let number = opaque.get(..semi)?;
                if number.is_empty() {
                    return None;
                }
                uri.user = Some(number);
                uri.params = Params::uri(opaque.get(semi..)?)?;
            }
            Scheme::Sip | Scheme::Sips => Self::parse_sip(opaque, &mut uri)?,
        }
        Some(uri)
    }

    fn parse_sip(o: &'a [u8], uri: &mut Uri<'a>) -> Option<()> {
        // The user part may hold `;`, `?`, `:` and an escaped `@`; take the last `@` that
        // is followed by something shaped like a hostport.
        let mut rest = o;
        let mut at_pos = None;
        for (i, &b) in o.iter().enumerate().rev() {
            if b == b'@' {
                let after = o.get(i + 1..)?;
                let hp_end = after
                    .iter()
                    .position(|&c| c == b';' || c == b'?')
                    .unwrap_or(after.len());
                let hp = after.get(..hp_end)?;
                if !hp.is_empty()
                    && hp.iter().all(|&c| {
                        c.is_ascii_alphanumeric()
                            || matches!(c, b'-' | b'.' | b'_' | b':' | b'[' | b']')
                    })
                {
                    at_pos = Some(i);
                    break;
                }
            }
        }
        if let Some(at) = at_pos {
            let userinfo = o.get(..at)?;
            let (user, password) = match userinfo.iter().position(|&b| b == b':') {
                Some(c) => (userinfo.get(..c)?, Some(userinfo.get(c + 1..)?)),
                None => (userinfo, None),
            };
            if user.is_empty() {
                return None;
            }
            uri.user = Some(user);
            uri.password = password;
            rest = o.get(at + 1..)?;
        }
        let q = rest.iter().position(|&b| b == b'?');
        let before_q = rest.get(..q.unwrap_or(rest.len()))?;
        if let Some(q) = q {
            let h = rest.get(q + 1..)?;
            if h.is_empty() {
                return None;
            }
            uri.headers = Some(h);
        }
        let semi = before_q
            .iter()
            .position(|&b| b == b';')
            .unwrap_or(before_q.len());
        let hostport = before_q.get(..semi)?;
        let (host, host_raw, port) = split_hostport(hostport)?;
        uri.host = Some(host);
        uri.host_raw = host_raw;
        uri.hostport_raw = hostport;
        uri.port = port;
        uri.params = Params::uri(before_q.get(semi..)?)?;
        Some(())
    }

    pub fn is_sip(&self) -> bool {
        matches!(self.scheme, Scheme::Sip | Scheme::Sips)
    }

    /// A URI parameter by name (case-insensitive); `Some(None)` for a flag like `;lr`.
    pub fn param(&self, name: &str) -> Option<Option<&'a [u8]>> {
        self.params.get(name).map(|p| p.value)
    }
}

/// Error from [`unescape_into`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnescapeError {
    /// `%` not followed by two hex digits.
    BadEscape,
    /// The output buffer is too small.
    BufferTooSmall,
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decoded bytes of a %-escaped string, one at a time (decodes exactly once).
fn decoded(s: &[u8]) -> impl Iterator<Item = Result<u8, UnescapeError>> + '_ {
    let mut i = 0;
    core::iter::from_fn(move || {
        let b = *s.get(i)?;
        if b != b'%' {
            i += 1;
            return Some(Ok(b));
        }
        let v = s
            .get(i + 1)
            .and_then(|&h| hex(h))
            .zip(s.get(i + 2).and_then(|&l| hex(l)));
        i += 3;
        Some(v.map(|(h, l)| h * 16 + l).ok_or(UnescapeError::BadEscape))
    })
}

/// Decodes `%HH` escapes of `s` into `out`, returning the decoded length. NUL stays a byte.
pub fn unescape_into(s: &[u8], out: &mut [u8]) -> Result<usize, UnescapeError> {
    let mut n = 0;
    for b in decoded(s) {
        let slot = out.get_mut(n).ok_or(UnescapeError::BufferTooSmall)?;
        *slot = b?;
        n += 1;
    }
    Ok(n)
}

/// Compares two escaped strings by their decoded bytes, without allocating. A malformed
/// escape makes them unequal.
pub fn escaped_eq(a: &[u8], b: &[u8], ignore_case: bool) -> bool {
    let mut x = decoded(a);
    let mut y = decoded(b);
    loop {
        match (x.next(), y.next()) {
            (None, None) => return true,
            (Some(Ok(p)), Some(Ok(q))) => {
                let same = if ignore_case {
                    p.eq_ignore_ascii_case(&q)
                } else {
                    p == q
                };
                if !same {
                    return false;
                }
            }
            _ => return false,
        }
    }
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
    fn sip_uri_parts() {
        let u = Uri::parse(b"sip:alice:pw@[2001:db8::1]:5070;transport=tcp;lr?Subject=x").unwrap();
        assert_eq!(u.scheme, Scheme::Sip);
        assert_eq!(u.user, Some(&b"alice"[..]));
        assert_eq!(u.password, Some(&b"pw"[..]));
        assert_eq!(u.host, Some(Host::Ipv6("2001:db8::1".parse().unwrap())));
        assert_eq!(u.host_raw, b"[2001:db8::1]");
        assert_eq!(u.hostport_raw, b"[2001:db8::1]:5070");
        assert_eq!(u.port, Some(5070));
        assert_eq!(u.param("transport"), Some(Some(&b"tcp"[..])));
        assert_eq!(u.param("lr"), Some(None));
        assert_eq!(u.headers, Some(&b"Subject=x"[..]));
    }

    #[test]
    fn user_with_semicolon_and_escaped_at() {
        let u = Uri::parse(b"sip:user;par=u%40example.net@example.com").unwrap();
        assert_eq!(u.user, Some(&b"user;par=u%40example.net"[..]));
        assert_eq!(u.host, Some(Host::Name(b"example.com")));
        assert!(u.params.is_empty());
    }

    #[test]
    fn bare_ipv6_hosts() {
        let u = Uri::parse(b"sip:9876@fe80:0:0:0:21a:a0ff:fe07:32e0:5060").unwrap();
        assert_eq!(u.port, Some(5060));
        assert_eq!(
            u.host,
            Some(Host::Ipv6("fe80::21a:a0ff:fe07:32e0".parse().unwrap()))
        );
        let u = Uri::parse(b"sip:4321@fec0:0:0:0:216:d3ff:fe0d:22c").unwrap();
        assert_eq!(u.port, None);
    }

    #[test]
    fn other_schemes() {
        let t = Uri::parse(b"tel:+1-201-555-0123;phone-context=x").unwrap();
        assert_eq!(t.scheme, Scheme::Tel);
        assert_eq!(t.user, Some(&b"+1-201-555-0123"[..]));
        assert!(t.params.get("phone-context").is_some());
        let o = Uri::parse(b"soap.beep://192.0.2.103:3002").unwrap();
        assert_eq!(o.scheme, Scheme::Other);
        assert_eq!(o.opaque, b"//192.0.2.103:3002");
        assert!(Uri::parse(b"<sip:a@b>").is_err());
        assert!(Uri::parse(b"sip:").is_err());
        assert!(Uri::parse(b"sip:a@b:99999").is_err());
        assert!(Uri::parse(b"1x:foo").is_err());
    }

    #[test]
    fn unescaping_once() {
        let mut out = [0u8; 32];
        let n = unescape_into(b"v%61lue%25%34%31", &mut out).unwrap();
        assert_eq!(&out[..n], b"value%41");
        let n = unescape_into(b"null-%00-null", &mut out).unwrap();
        assert_eq!(&out[..n], b"null-\0-null");
        assert_eq!(
            unescape_into(b"%zz", &mut out),
            Err(UnescapeError::BadEscape)
        );
        assert_eq!(
            unescape_into(b"abc", &mut out[..2]),
            Err(UnescapeError::BufferTooSmall)
        );
        assert!(escaped_eq(b"%75se%72", b"user", false));
        assert!(escaped_eq(b"%6C%72", b"LR", true));
        assert!(!escaped_eq(b"%00", b"%00%00", false));
        assert!(!escaped_eq(b"%4", b"%4", false));
    }
}
