//! Simple typed headers: CSeq, Call-ID, Max-Forwards, Expires, Content-Type, option tags and
//! Authorization / Proxy-Authorization credentials.

use super::error::ParseError;
use super::header::{unquote, HeaderName, Params, Tokens, ValueIter};
use super::message::Message;
use super::scan::end_of_quoted;
use super::scan::{eq_ic, is_lws, is_token, is_token_char, parse_u32, skip_lws, trim_lws};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CSeq<'a> {
    pub number: u32,
    pub method: &'a [u8],
}

impl<'a> CSeq<'a> {
    pub fn parse(s: &'a [u8]) -> Result<CSeq<'a>, ParseError> {
        let s = trim_lws(s);
        let digits = s
            .iter()
            .position(|&b| !b.is_ascii_digit())
            .unwrap_or(s.len());
        let number = parse_u32(s.get(..digits).unwrap_or(&[])).ok_or(ParseError::BadCSeq)?;
        let m = skip_lws(s, digits);
        let method = s.get(m..).unwrap_or(&[]);
        if m == digits || !is_token(method) {
            return Err(ParseError::BadCSeq);
        }
        Ok(CSeq { number, method })
    }
}

/// `type/subtype` and its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentType<'a> {
    pub media_type: &'a [u8],
    pub subtype: &'a [u8],
    pub params: Params<'a>,
}

impl<'a> ContentType<'a> {
    pub fn parse(s: &'a [u8]) -> Option<ContentType<'a>> {
        let s = trim_lws(s);
        let slash = s.iter().position(|&b| b == b'/')?;
        let media_type = trim_lws(s.get(..slash)?);
        let rest = s.get(slash + 1..)?;
        let sub_start = skip_lws(rest, 0);
        let mut e = sub_start;
        while rest.get(e).is_some_and(|&b| is_token_char(b)) {
            e += 1;
        }
        let subtype = rest.get(sub_start..e)?;
        if !is_token(media_type) || !is_token(subtype) {
            return None;
        }
        Some(ContentType {
            media_type,
            subtype,
            params: Params::header(rest.get(e..)?)?,
        })
    }

    /// Case-insensitive match against `type/subtype`.
    pub fn is(&self, media_type: &str, subtype: &str) -> bool {
        eq_ic(self.media_type, media_type.as_bytes()) && eq_ic(self.subtype, subtype.as_bytes())
    }
}

/// Authorization / Proxy-Authorization: a scheme and `name=value` pairs (RFC 3261 §25.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credentials<'a> {
    pub scheme: &'a [u8],
    /// The comma-separated parameter list after the scheme.
    pub params: &'a [u8],
}

/// One `name=value` of credentials; quotes removed from quoted values.
fn auth_param(item: &[u8]) -> Option<(&[u8], &[u8])> {
    let eq = item.iter().position(|&b| b == b'=')?;
    let name = trim_lws(item.get(..eq)?);
    let value = trim_lws(item.get(eq + 1..)?);
    if !is_token(name) || value.is_empty() {
        return None;
    }
    if value.first() == Some(&b'"') {
        if end_of_quoted(value, 0)? != value.len() {
            return None;
        }
    } else if !value.iter().all(|&b| !is_lws(b) && b != b'"') {
        return None;
    }
    Some((name, unquote(value)))
}

impl<'a> Credentials<'a> {
    pub fn parse(s: &'a [u8]) -> Option<Credentials<'a>> {
        let s = trim_lws(s);
        let e = s.iter().position(|&b| is_lws(b)).unwrap_or(s.len());
        let scheme = s.get(..e)?;
        let params = trim_lws(s.get(e..)?);
        if !is_token(scheme) || ValueIter::new(params).any(|p| auth_param(p).is_none()) {
            return None;
        }
        Some(Credentials { scheme, params })
    }

    pub fn is_digest(&self) -> bool {
        eq_ic(self.scheme, b"Digest")
    }

    /// A parameter value by name (case-insensitive), without quotes.
    pub fn get(&self, name: &str) -> Option<&'a [u8]> {
        ValueIter::new(self.params)
            .filter_map(auth_param)
            .find(|(n, _)| eq_ic(n, name.as_bytes()))
            .map(|(_, v)| v)
    }

    pub fn username(&self) -> Option<&'a [u8]> {
        self.get("username")
    }
    pub fn realm(&self) -> Option<&'a [u8]> {
        self.get("realm")
    }
    pub fn nonce(&self) -> Option<&'a [u8]> {
        self.get("nonce")
    }
    pub fn uri(&self) -> Option<&'a [u8]> {
        self.get("uri")
    }
    pub fn response(&self) -> Option<&'a [u8]> {
        self.get("response")
    }
    pub fn algorithm(&self) -> Option<&'a [u8]> {
        self.get("algorithm")
    }
    pub fn qop(&self) -> Option<&'a [u8]> {
        self.get("qop")
    }
    pub fn nc(&self) -> Option<&'a [u8]> {
        self.get("nc")
    }
    pub fn cnonce(&self) -> Option<&'a [u8]> {
        self.get("cnonce")
    }
    pub fn opaque(&self) -> Option<&'a [u8]> {
        self.get("opaque")
    }
}

fn number_header(m: &Message<'_>, kind: HeaderName, max: u32) -> Result<Option<u32>, ParseError> {
    let bad = if kind == HeaderName::MaxForwards {
        ParseError::BadMaxForwards
    } else {
        ParseError::BadHeader { name: kind }
    };
    let mut it = m.headers_of(kind);
    let Some(h) = it.next() else {
        return Ok(None);
    };
    if it.next().is_some() {
        return Err(ParseError::DuplicateHeader { name: kind });
    }
    parse_u32(trim_lws(h.value))
        .filter(|&n| n <= max)
        .map(Some)
        .ok_or(bad)
}

impl<'a> Message<'a> {
    pub fn cseq(&self) -> Result<CSeq<'a>, ParseError> {
        let mut it = self.headers_of(HeaderName::CSeq);
        let h = it.next().ok_or(ParseError::MissingCSeq)?;
        if it.next().is_some() {
            return Err(ParseError::DuplicateHeader {
                name: HeaderName::CSeq,
            });
        }
        CSeq::parse(h.value)
    }

    /// The Call-ID (any non-white-space bytes, compared byte-exact).
    pub fn call_id(&self) -> Result<&'a [u8], ParseError> {
        let mut it = self.headers_of(HeaderName::CallId);
        let h = it.next().ok_or(ParseError::MissingCallId)?;
        if it.next().is_some() {
            return Err(ParseError::DuplicateHeader {
                name: HeaderName::CallId,
            });
        }
        let v = trim_lws(h.value);
        if v.is_empty() {
            return Err(ParseError::MissingCallId);
        }
        if v.iter().any(|&b| is_lws(b)) {
            return Err(ParseError::BadHeader {
                name: HeaderName::CallId,
            });
        }
        Ok(v)
    }

    /// Max-Forwards (0..=255), `None` when absent.
    pub fn max_forwards(&self) -> Result<Option<u32>, ParseError> {
        number_header(self, HeaderName::MaxForwards, 255)
    }

    /// Expires in seconds, `None` when absent.
    pub fn expires(&self) -> Result<Option<u32>, ParseError> {
        number_header(self, HeaderName::Expires, u32::MAX)
    }

    pub fn content_type(&self) -> Result<Option<ContentType<'a>>, ParseError> {
        match self.first(HeaderName::ContentType) {
            None => Ok(None),
            Some(h) => ContentType::parse(h.value)
                .map(Some)
                .ok_or(ParseError::BadHeader {
                    name: HeaderName::ContentType,
                }),
        }
    }

    /// Option tags of all Proxy-Require lines (a proxy answers 420 with the unsupported ones).
    pub fn proxy_require(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.tokens(HeaderName::ProxyRequire)
    }

    pub fn require(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.tokens(HeaderName::Require)
    }

    pub fn supported(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.tokens(HeaderName::Supported)
    }

    fn tokens(&self, kind: HeaderName) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.headers_of(kind).flat_map(|h| Tokens::new(h.value))
    }

    /// Proxy-Require tags not in `supported` (case-insensitive), for a 420 Unsupported header.
    pub fn unsupported_proxy_require<'s>(
        &'s self,
        supported: &'s [&'s str],
    ) -> impl Iterator<Item = &'a [u8]> + 's {
        self.proxy_require()
            .filter(move |t| !supported.iter().any(|s| eq_ic(t, s.as_bytes())))
    }

    pub fn authorizations(&self) -> impl Iterator<Item = Result<Credentials<'a>, ParseError>> + '_ {
        self.credentials(HeaderName::Authorization)
    }

    pub fn proxy_authorizations(
        &self,
    ) -> impl Iterator<Item = Result<Credentials<'a>, ParseError>> + '_ {
        self.credentials(HeaderName::ProxyAuthorization)
    }

    fn credentials(
        &self,
        kind: HeaderName,
    ) -> impl Iterator<Item = Result<Credentials<'a>, ParseError>> + '_ {
        self.headers_of(kind)
            .map(move |h| Credentials::parse(h.value).ok_or(ParseError::BadHeader { name: kind }))
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
    fn cseq() {
        assert_eq!(
            CSeq::parse(b"0009\r\n  INVITE").unwrap(),
            CSeq {
                number: 9,
                method: b"INVITE"
            }
        );
        assert_eq!(
            CSeq::parse(b"36893488147419103232 INVITE"),
            Err(ParseError::BadCSeq)
        );
        assert_eq!(CSeq::parse(b"1INVITE"), Err(ParseError::BadCSeq));
        assert_eq!(CSeq::parse(b"1 "), Err(ParseError::BadCSeq));
    }

    #[test]
    fn content_type() {
        let c = ContentType::parse(b"multipart/mixed;boundary=7a9cbec02ceef655").unwrap();
        assert!(c.is("Multipart", "MIXED"));
        assert_eq!(
            c.params.get("boundary").unwrap().value,
            Some(&b"7a9cbec02ceef655"[..])
        );
        assert!(ContentType::parse(b"application").is_none());
    }

    #[test]
    fn digest_credentials() {
        let c = Credentials::parse(
            b"Digest username=\"3122221000\",realm=\"SomeRealm\",nonce=\"1117\", uri=\"sip:x@y\",\r\n response=\"abc\",algorithm=MD5,qop=auth,nc=00000001,cnonce=\"c,n\",opaque=\"o\"",
        )
        .unwrap();
        assert!(c.is_digest());
        assert_eq!(c.username(), Some(&b"3122221000"[..]));
        assert_eq!(c.realm(), Some(&b"SomeRealm"[..]));
        assert_eq!(c.nonce(), Some(&b"1117"[..]));
        assert_eq!(c.uri(), Some(&b"sip:x@y"[..]));
        assert_eq!(c.response(), Some(&b"abc"[..]));
        assert_eq!(c.algorithm(), Some(&b"MD5"[..]));
        assert_eq!(c.qop(), Some(&b"auth"[..]));
        assert_eq!(c.nc(), Some(&b"00000001"[..]));
        assert_eq!(c.cnonce(), Some(&b"c,n"[..]));
        assert_eq!(c.opaque(), Some(&b"o"[..]));
        let o = Credentials::parse(b"NoOneKnowsThisScheme opaque-data=here").unwrap();
        assert!(!o.is_digest());
        assert_eq!(o.get("opaque-data"), Some(&b"here"[..]));
        assert!(Credentials::parse(b"Digest username=\"unterminated").is_none());
    }
}
