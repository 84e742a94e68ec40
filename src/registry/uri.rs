//! Compact owned URI value stored in registration slots, and siproxd's URL comparisons
//! (behaviour §4.4 `compare_url`, `compare_url_user`).
//!
//! Independent of the SIP parser: the proxy builds a [`Uri`] from the parts it parsed.
//! Every part has a fixed capacity from `limits`; a part that does not fit is an error,
//! never truncated.

use core::fmt;
use std::net::{IpAddr, Ipv6Addr};

use heapless::String as FixedString;

use crate::limits::{HOSTNAME_SIZE, URI_PARAMS_SIZE, URI_SCHEME_SIZE, URI_USER_SIZE};

/// Which part of a URI an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriPart {
    Scheme,
    User,
    Host,
    Port,
    Params,
}

impl fmt::Display for UriPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UriPart::Scheme => "scheme",
            UriPart::User => "user",
            UriPart::Host => "host",
            UriPart::Port => "port",
            UriPart::Params => "parameters",
        })
    }
}

/// Why a URI could not be built or parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriError {
    /// The part is longer than its slot capacity.
    TooLong {
        part: UriPart,
        len: usize,
        max: usize,
    },
    /// A required part (scheme, host) is empty or missing.
    Missing(UriPart),
    /// The part contains a byte that cannot appear there unescaped.
    InvalidByte { part: UriPart, byte: u8 },
    /// The port is not a decimal number in 0..=65535.
    BadPort,
}

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UriError::TooLong { part, len, max } => {
                write!(f, "URI {part} is {len} bytes, at most {max} fit")
            }
            UriError::Missing(part) => write!(f, "URI {part} is missing"),
            UriError::InvalidByte { part, byte } => {
                write!(f, "URI {part} contains invalid byte 0x{byte:02x}")
            }
            UriError::BadPort => f.write_str("URI port is not a number in 0..65535"),
        }
    }
}

impl std::error::Error for UriError {}

/// A SIP URI as kept in the registration table: `scheme:[user@]host[:port][params]`.
///
/// `params` is the raw text after host and port (URI parameters and headers, starting with
/// `;` or `?`); it is kept because a contact's parameters (e.g. `;line=`, `;transport=`) must
/// survive into the rewritten Request-URI, but it never takes part in comparisons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uri {
    scheme: FixedString<URI_SCHEME_SIZE>,
    user: Option<FixedString<URI_USER_SIZE>>,
    /// Without the brackets of an IPv6 reference.
    host: FixedString<HOSTNAME_SIZE>,
    port: Option<u16>,
    params: FixedString<URI_PARAMS_SIZE>,
    /// `host` as an address when it is a literal (canonical: IPv4-mapped IPv6 as IPv4),
    /// parsed once so that lookups over the whole table do not parse per slot.
    ip: Option<IpAddr>,
}

fn literal_ip(host: &str) -> Option<IpAddr> {
    host.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

fn store<const N: usize>(part: UriPart, s: &str) -> Result<FixedString<N>, UriError> {
    FixedString::try_from(s).map_err(|()| UriError::TooLong {
        part,
        len: s.len(),
        max: N,
    })
}

/// `@` ends the user part and whitespace/controls end a line or a field: none may appear
/// inside a part, so display and parse are exact inverses.
fn check_bytes(part: UriPart, s: &str, also_forbidden: &[u8]) -> Result<(), UriError> {
    match s
        .bytes()
        .find(|b| !b.is_ascii_graphic() || *b == b'@' || also_forbidden.contains(b))
    {
        Some(byte) => Err(UriError::InvalidByte { part, byte }),
        None => Ok(()),
    }
}

fn check_host(host: &str) -> Result<(), UriError> {
    if host.is_empty() {
        return Err(UriError::Missing(UriPart::Host));
    }
    if host.contains(':') {
        // Only an IPv6 literal may contain a colon.
        return match host.parse::<Ipv6Addr>() {
            Ok(_) => Ok(()),
            Err(_) => Err(UriError::InvalidByte {
                part: UriPart::Host,
                byte: b':',
            }),
        };
    }
    match host
        .bytes()
        .find(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_')))
    {
        Some(byte) => Err(UriError::InvalidByte {
            part: UriPart::Host,
            byte,
        }),
        None => Ok(()),
    }
}

impl Uri {
    /// Builds a URI from parts. An empty `user` means no user part. `params`, when not
    /// empty, must start with `;` or `?`.
    pub fn new(
        scheme: &str,
        user: Option<&str>,
        host: &str,
        port: Option<u16>,
        params: &str,
    ) -> Result<Uri, UriError> {
        if scheme.is_empty() {
            return Err(UriError::Missing(UriPart::Scheme));
        }
        if let Some(byte) = scheme
            .bytes()
            .find(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')))
        {
            return Err(UriError::InvalidByte {
                part: UriPart::Scheme,
                byte,
            });
        }
        let user = user.filter(|u| !u.is_empty());
        if let Some(u) = user {
            check_bytes(UriPart::User, u, &[])?;
        }
        check_host(host)?;
        if let Some(first) = params.bytes().next() {
            if first != b';' && first != b'?' {
                return Err(UriError::InvalidByte {
                    part: UriPart::Params,
                    byte: first,
                });
            }
        }
        check_bytes(UriPart::Params, params, &[])?;
        Ok(Uri {
            scheme: store(UriPart::Scheme, scheme)?,
            user: match user {
                Some(u) => Some(store(UriPart::User, u)?),
                None => None,
            },
            host: store(UriPart::Host, host)?,
            port,
            params: store(UriPart::Params, params)?,
            ip: literal_ip(host),
        })
    }

    /// Parses the text form written by `Display` (also siproxd's save-file URIs).
    pub fn parse(s: &str) -> Result<Uri, UriError> {
        let (scheme, rest) = s
            .split_once(':')
            .ok_or(UriError::Missing(UriPart::Scheme))?;
        let (user, hostpart) = match rest.split_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let (host, after_host) = if let Some(v6) = hostpart.strip_prefix('[') {
            let (h, tail) = v6.split_once(']').ok_or(UriError::Missing(UriPart::Host))?;
            (h, tail)
        } else {
            let end = hostpart.find([':', ';', '?']).unwrap_or(hostpart.len());
            hostpart.split_at_checked(end).unwrap_or((hostpart, ""))
        };
        let (port, params) = match after_host.strip_prefix(':') {
            Some(p) => {
                let end = p.find([';', '?']).unwrap_or(p.len());
                let (digits, params) = p.split_at_checked(end).unwrap_or((p, ""));
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(UriError::BadPort);
                }
                (
                    Some(digits.parse::<u16>().map_err(|_| UriError::BadPort)?),
                    params,
                )
            }
            None => (None, after_host),
        };
        if user == Some("") {
            return Err(UriError::Missing(UriPart::User));
        }
        Uri::new(scheme, user, host, port, params)
    }

    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The host, without IPv6 brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The port, or 5060 when absent (siproxd's default everywhere).
    pub fn port_or_default(&self) -> u16 {
        self.port.unwrap_or(5060)
    }

    /// Raw parameter/header text after host and port (`""` or starting with `;`/`?`).
    pub fn params(&self) -> &str {
        &self.params
    }

    /// The host as an IP address, when it is an address literal.
    pub fn host_ip(&self) -> Option<IpAddr> {
        self.ip
    }

    /// Replaces the host (mask_host, outbound address).
    pub fn set_host(&mut self, host: &str) -> Result<(), UriError> {
        // Kept without the brackets of an IPv6 reference; `Display` writes them.
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        check_host(host)?;
        self.host = store(UriPart::Host, host)?;
        self.ip = literal_ip(host);
        Ok(())
    }

    pub fn set_port(&mut self, port: Option<u16>) {
        self.port = port;
    }

    /// siproxd `compare_url`: scheme case-insensitive, user exact (both absent is equal),
    /// host case-insensitive or, when both are address literals, the same address.
    /// Port and parameters are ignored. Name resolution is the caller's business.
    pub fn same_url(&self, other: &Uri) -> bool {
        self.scheme.eq_ignore_ascii_case(&other.scheme)
            && self.user == other.user
            && self.host_eq(&other.host, other.ip)
    }

    /// siproxd `compare_url_user`: scheme as in [`Uri::same_url`]; both users present and
    /// equal; host ignored.
    pub fn same_user(&self, other: &Uri) -> bool {
        self.scheme.eq_ignore_ascii_case(&other.scheme)
            && self.user.is_some()
            && self.user == other.user
    }

    /// Host equality as in [`Uri::same_url`].
    pub fn same_host(&self, host: &str) -> bool {
        self.host_eq(host, literal_ip(host))
    }

    /// [`Uri::same_host`] with `host` already parsed into `ip` (see [`Uri::host_ip`]).
    pub(crate) fn host_eq(&self, host: &str, ip: Option<IpAddr>) -> bool {
        match (self.ip, ip) {
            (Some(a), Some(b)) => a == b,
            _ => self.host.eq_ignore_ascii_case(host),
        }
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.scheme)?;
        if let Some(user) = &self.user {
            write!(f, "{user}@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        f.write_str(&self.params)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    fn u(s: &str) -> Uri {
        Uri::parse(s).unwrap()
    }

    #[test]
    fn parses_all_parts() {
        let uri = u("sip:alice@192.168.1.10:5062;line=abc");
        assert_eq!(uri.scheme(), "sip");
        assert_eq!(uri.user(), Some("alice"));
        assert_eq!(uri.host(), "192.168.1.10");
        assert_eq!(uri.port(), Some(5062));
        assert_eq!(uri.params(), ";line=abc");
        let bare = u("sip:example.com");
        assert_eq!(bare.user(), None);
        assert_eq!(bare.port(), None);
        assert_eq!(bare.port_or_default(), 5060);
        let v6 = u("sip:bob@[2001:db8::1]:5070?x=y");
        assert_eq!(v6.host(), "2001:db8::1");
        assert_eq!(v6.port(), Some(5070));
        assert_eq!(v6.params(), "?x=y");
        assert_eq!(v6.to_string(), "sip:bob@[2001:db8::1]:5070?x=y");
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(Uri::parse("alice"), Err(UriError::Missing(UriPart::Scheme)));
        assert_eq!(
            Uri::parse("sip:alice@"),
            Err(UriError::Missing(UriPart::Host))
        );
        assert_eq!(
            Uri::parse("sip:@host"),
            Err(UriError::Missing(UriPart::User))
        );
        assert_eq!(Uri::parse("sip:a@h:99999"), Err(UriError::BadPort));
        assert_eq!(Uri::parse("sip:a@h:"), Err(UriError::BadPort));
        assert_eq!(Uri::parse("sip:a@h:+5"), Err(UriError::BadPort));
        assert_eq!(
            Uri::parse("sip:a b@h"),
            Err(UriError::InvalidByte {
                part: UriPart::User,
                byte: b' '
            })
        );
        assert!(Uri::parse("sip:a@h@x").is_err());
        assert!(Uri::parse("sip:a@[::1").is_err());
        assert!(Uri::parse("sip:a@h x").is_err());
        assert!(Uri::new("sip", None, "h", None, "x=1").is_err());
    }

    #[test]
    fn too_long_part_is_an_error_not_truncated() {
        let long_user = "u".repeat(URI_USER_SIZE + 1);
        assert_eq!(
            Uri::new("sip", Some(&long_user), "h", None, ""),
            Err(UriError::TooLong {
                part: UriPart::User,
                len: URI_USER_SIZE + 1,
                max: URI_USER_SIZE
            })
        );
        let fits = "u".repeat(URI_USER_SIZE);
        assert_eq!(
            Uri::new("sip", Some(&fits), "h", None, "").unwrap().user(),
            Some(fits.as_str())
        );
        let long_host = "h".repeat(HOSTNAME_SIZE + 1);
        assert!(matches!(
            Uri::new("sip", None, &long_host, None, ""),
            Err(UriError::TooLong {
                part: UriPart::Host,
                ..
            })
        ));
        let mut uri = u("sip:a@h");
        assert!(uri.set_host(&long_host).is_err());
        assert_eq!(uri.host(), "h");
    }

    #[test]
    fn compare_url_rules() {
        // Scheme and host case-insensitive, port and params ignored.
        assert!(u("SIP:alice@Example.COM:5070;x=1").same_url(&u("sip:alice@example.com")));
        // User case-sensitive.
        assert!(!u("sip:Alice@example.com").same_url(&u("sip:alice@example.com")));
        // One user absent is a mismatch, both absent matches.
        assert!(!u("sip:example.com").same_url(&u("sip:alice@example.com")));
        assert!(u("sip:example.com").same_url(&u("sip:EXAMPLE.com")));
        assert!(!u("sip:alice@a.example").same_url(&u("sip:alice@b.example")));
        assert!(!u("sips:alice@a.example").same_url(&u("sip:alice@a.example")));
        // Address literals compare as addresses.
        assert!(u("sip:a@[2001:db8::1]").same_url(&u("sip:a@[2001:DB8:0::1]")));
        assert!(u("sip:a@[::ffff:192.0.2.1]").same_url(&u("sip:a@192.0.2.1")));
        assert_eq!(
            u("sip:a@[::ffff:192.0.2.1]").host_ip(),
            Some(IpAddr::from([192, 0, 2, 1]))
        );
        assert_eq!(u("sip:a@host").host_ip(), None);
        assert!(u("sip:a@192.0.2.1").same_host("192.0.2.1"));
        assert!(!u("sip:a@192.0.2.1").same_host("192.0.2.10"));
        let mut m = u("sip:a@host");
        m.set_host("192.0.2.7").unwrap();
        assert_eq!(m.host_ip(), Some(IpAddr::from([192, 0, 2, 7])));
    }

    #[test]
    fn compare_url_user_rules() {
        assert!(u("sip:alice@a.example").same_user(&u("sip:alice@b.example:5070")));
        assert!(!u("sip:alice@a.example").same_user(&u("sip:bob@a.example")));
        assert!(!u("sip:a.example").same_user(&u("sip:a.example")));
        assert!(!u("sips:alice@a").same_user(&u("sip:alice@a")));
    }

    #[test]
    fn display_parse_round_trip() {
        for s in [
            "sip:alice@192.168.1.10:5060;line=abc",
            "sips:x.y-z_1",
            "sip:alice:pw@h.example;transport=tcp?subject=hi",
            "sip:[::1]:0",
        ] {
            assert_eq!(u(s).to_string(), s);
        }
    }
}
