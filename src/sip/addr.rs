//! name-addr / addr-spec with display names and header parameters (From, To, Contact,
//! Route, Record-Route; RFC 3261 §20.10, §25.1).

use super::error::ParseError;
use super::header::{HeaderName, Params};
use super::message::Message;
use super::scan::{end_of_quoted, is_lws, is_token_char, parse_u32, skip_lws, trim_lws};
use super::uri::Uri;

/// `[display-name] <URI> *(;param)` or `URI *(;param)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameAddr<'a> {
    /// As written: quoted (with the quotes) or a run of tokens; `None` when absent.
    pub display_name: Option<&'a [u8]>,
    pub uri: Uri<'a>,
    /// Whether the URI was in `< >`.
    pub bracketed: bool,
    /// Header parameters after the URI (`;tag=`, `;expires=`, ...).
    pub params: Params<'a>,
    /// The whole element.
    pub raw: &'a [u8],
}

impl<'a> NameAddr<'a> {
    pub fn parse(s: &'a [u8]) -> Result<NameAddr<'a>, ParseError> {
        Self::parse_opt(trim_lws(s)).ok_or(ParseError::BadUri)
    }

    fn parse_opt(s: &'a [u8]) -> Option<NameAddr<'a>> {
        let (display_name, lt) = if s.first() == Some(&b'"') {
            let e = end_of_quoted(s, 0)?;
            let lt = skip_lws(s, e);
            if s.get(lt) != Some(&b'<') {
                return None;
            }
            (Some(s.get(..e)?), Some(lt))
        } else {
            match s.iter().position(|&b| b == b'<') {
                Some(lt) => {
                    let dn = trim_lws(s.get(..lt)?);
                    // Unquoted display names are tokens separated by LWS (RFC 4475 baddn).
                    if !dn.iter().all(|&b| is_token_char(b) || is_lws(b)) {
                        return None;
                    }
                    ((!dn.is_empty()).then_some(dn), Some(lt))
                }
                None => (None, None),
            }
        };
        let (uri_raw, rest, bracketed) = match lt {
            Some(lt) => {
                let inner_start = lt + 1;
                let gt = inner_start + s.get(inner_start..)?.iter().position(|&b| b == b'>')?;
                let uri_raw = s.get(inner_start..gt)?;
                (uri_raw, s.get(gt + 1..)?, true)
            }
            None => {
                let end = s
                    .iter()
                    .position(|&b| b == b';' || is_lws(b))
                    .unwrap_or(s.len());
                let uri_raw = s.get(..end)?;
                // Without brackets the URI cannot hold `?` or `,` (RFC 3261 §20.10).
                if uri_raw.iter().any(|&b| b == b'?' || b == b',') {
                    return None;
                }
                (uri_raw, s.get(end..)?, false)
            }
        };
        let uri = Uri::parse(uri_raw).ok()?;
        let params = Params::header(rest)?;
        Some(NameAddr {
            display_name,
            uri,
            bracketed,
            params,
            raw: s,
        })
    }

    /// The `tag` parameter.
    pub fn tag(&self) -> Option<&'a [u8]> {
        self.params.get("tag").and_then(|p| p.value)
    }

    /// Display name with quotes removed and quoted-pairs decoded into `out`.
    pub fn display_name_into(&self, out: &mut [u8]) -> Option<usize> {
        let dn = self.display_name?;
        let inner = match dn {
            [b'"', inner @ .., b'"'] => inner,
            _ => dn,
        };
        let mut n = 0;
        let mut i = 0;
        while let Some(&b) = inner.get(i) {
            let c = if b == b'\\' {
                i += 1;
                *inner.get(i)?
            } else {
                b
            };
            *out.get_mut(n)? = c;
            n += 1;
            i += 1;
        }
        Some(n)
    }
}

/// One Contact value: `*` or an address.
// Transient stack values; boxing the address would allocate per message.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contact<'a> {
    Star,
    Addr(NameAddr<'a>),
}

impl<'a> Contact<'a> {
    pub fn parse(s: &'a [u8]) -> Result<Contact<'a>, ParseError> {
        if trim_lws(s) == b"*" {
            return Ok(Contact::Star);
        }
        NameAddr::parse(s).map(Contact::Addr)
    }

    /// The `expires` parameter; `Err` if present but not a 32-bit number.
    pub fn expires(&self) -> Result<Option<u32>, ParseError> {
        let bad = ParseError::BadHeader {
            name: HeaderName::Contact,
        };
        match self {
            Contact::Star => Ok(None),
            Contact::Addr(a) => match a.params.get("expires") {
                None => Ok(None),
                Some(p) => p.value.and_then(parse_u32).map(Some).ok_or(bad),
            },
        }
    }

    /// The `q` parameter as written (e.g. `0.33`).
    pub fn q(&self) -> Option<&'a [u8]> {
        match self {
            Contact::Star => None,
            Contact::Addr(a) => a.params.get("q").and_then(|p| p.value),
        }
    }
}

fn single<'a>(
    m: &Message<'a>,
    kind: HeaderName,
    missing: ParseError,
    bad: ParseError,
) -> Result<NameAddr<'a>, ParseError> {
    let mut it = m.headers_of(kind);
    let h = it.next().ok_or(missing)?;
    if it.next().is_some() {
        return Err(ParseError::DuplicateHeader { name: kind });
    }
    NameAddr::parse(h.value).map_err(|_| bad)
}

impl<'a> Message<'a> {
    pub fn from(&self) -> Result<NameAddr<'a>, ParseError> {
        single(
            self,
            HeaderName::From,
            ParseError::MissingFrom,
            ParseError::BadFrom,
        )
    }

    pub fn to(&self) -> Result<NameAddr<'a>, ParseError> {
        single(
            self,
            HeaderName::To,
            ParseError::MissingTo,
            ParseError::BadTo,
        )
    }

    /// Every Contact value of every Contact line, in order.
    pub fn contacts(&self) -> impl Iterator<Item = Result<Contact<'a>, ParseError>> + '_ {
        self.values(HeaderName::Contact).map(|v| {
            Contact::parse(v).map_err(|_| ParseError::BadHeader {
                name: HeaderName::Contact,
            })
        })
    }

    pub fn routes(&self) -> impl Iterator<Item = Result<NameAddr<'a>, ParseError>> + '_ {
        self.addr_list(HeaderName::Route)
    }

    pub fn record_routes(&self) -> impl Iterator<Item = Result<NameAddr<'a>, ParseError>> + '_ {
        self.addr_list(HeaderName::RecordRoute)
    }

    fn addr_list(
        &self,
        kind: HeaderName,
    ) -> impl Iterator<Item = Result<NameAddr<'a>, ParseError>> + '_ {
        self.values(kind)
            .map(move |v| NameAddr::parse(v).map_err(|_| ParseError::BadHeader { name: kind }))
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
    use crate::sip::uri::Host;

    #[test]
    fn quoted_display_and_params() {
        let a = NameAddr::parse(
            br#""J Rosenberg \\\""       <sip:jdrosen@example.com>
  ;
  tag = 98asjd8"#,
        )
        .unwrap();
        assert_eq!(a.display_name, Some(&br#""J Rosenberg \\\"""#[..]));
        let mut out = [0u8; 32];
        let n = a.display_name_into(&mut out).unwrap();
        assert_eq!(&out[..n], br#"J Rosenberg \""#);
        assert_eq!(a.tag(), Some(&b"98asjd8"[..]));
        assert!(a.bracketed);
        assert_eq!(a.uri.host, Some(Host::Name(b"example.com")));
    }

    #[test]
    fn addr_spec_params_belong_to_header() {
        let a = NameAddr::parse(b"sip:+19725552222@gw1.example.net;unknownparam").unwrap();
        assert!(!a.bracketed);
        assert!(a.uri.params.is_empty());
        assert!(a.params.get("unknownparam").is_some());
        let b = NameAddr::parse(b"<sip:+19725552222@gw1.example.net;unknownparam>").unwrap();
        assert!(b.uri.params.get("unknownparam").is_some());
        assert!(b.params.is_empty());
    }

    #[test]
    fn token_display_names() {
        let a = NameAddr::parse(b"caller<sip:caller@example.com>;tag=323").unwrap();
        assert_eq!(a.display_name, Some(&b"caller"[..]));
        assert!(NameAddr::parse(b"Bell, Alexander <sip:a.g.bell@example.com>;tag=43").is_err());
        assert!(NameAddr::parse(b"\"Mr. J. User <sip:j.user@example.com>").is_err());
        assert!(NameAddr::parse(b"\"Watson\" < sip:t.watson@example.org >").is_err());
        assert!(NameAddr::parse(b"sip:user@example.com?Route=%3Csip:x%3E").is_err());
        assert!(NameAddr::parse(b"\"Joe\" <sip:joe@example.org>;;;;").is_err());
    }

    #[test]
    fn contact_star_and_params() {
        assert_eq!(Contact::parse(b" * ").unwrap(), Contact::Star);
        let c = Contact::parse(b"<sip:a@b>;expires=3600;q=0.5").unwrap();
        assert_eq!(c.expires(), Ok(Some(3600)));
        assert_eq!(c.q(), Some(&b"0.5"[..]));
        let c = Contact::parse(b"<sip:a@b>;expires=280297596632815").unwrap();
        assert!(c.expires().is_err());
    }
}
