//! Header names (with compact forms), comma-separated values and `;name=value` parameters.

use super::scan::{end_of_quoted, eq_ic, is_lws, is_token, skip_lws, trim_lws};

/// Headers the proxy reads; every other header is `Other` and kept byte for byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HeaderName {
    Via,
    From,
    To,
    CallId,
    CSeq,
    Contact,
    ContentLength,
    ContentType,
    ContentEncoding,
    Subject,
    Supported,
    Event,
    ReferTo,
    ReferredBy,
    AllowEvents,
    SessionExpires,
    AcceptContact,
    MaxForwards,
    Expires,
    Route,
    RecordRoute,
    Require,
    ProxyRequire,
    Authorization,
    ProxyAuthorization,
    WwwAuthenticate,
    ProxyAuthenticate,
    UserAgent,
    Server,
    #[default]
    Other,
}

const NAMES: [(HeaderName, &str, Option<u8>); 29] = [
    (HeaderName::Via, "Via", Some(b'v')),
    (HeaderName::From, "From", Some(b'f')),
    (HeaderName::To, "To", Some(b't')),
    (HeaderName::CallId, "Call-ID", Some(b'i')),
    (HeaderName::CSeq, "CSeq", None),
    (HeaderName::Contact, "Contact", Some(b'm')),
    (HeaderName::ContentLength, "Content-Length", Some(b'l')),
    (HeaderName::ContentType, "Content-Type", Some(b'c')),
    (HeaderName::ContentEncoding, "Content-Encoding", Some(b'e')),
    (HeaderName::Subject, "Subject", Some(b's')),
    (HeaderName::Supported, "Supported", Some(b'k')),
    (HeaderName::Event, "Event", Some(b'o')),
    (HeaderName::ReferTo, "Refer-To", Some(b'r')),
    (HeaderName::ReferredBy, "Referred-By", Some(b'b')),
    (HeaderName::AllowEvents, "Allow-Events", Some(b'u')),
    (HeaderName::SessionExpires, "Session-Expires", Some(b'x')),
    (HeaderName::AcceptContact, "Accept-Contact", Some(b'a')),
    (HeaderName::MaxForwards, "Max-Forwards", None),
    (HeaderName::Expires, "Expires", None),
    (HeaderName::Route, "Route", None),
    (HeaderName::RecordRoute, "Record-Route", None),
    (HeaderName::Require, "Require", None),
    (HeaderName::ProxyRequire, "Proxy-Require", None),
    (HeaderName::Authorization, "Authorization", None),
    (HeaderName::ProxyAuthorization, "Proxy-Authorization", None),
    (HeaderName::WwwAuthenticate, "WWW-Authenticate", None),
    (HeaderName::ProxyAuthenticate, "Proxy-Authenticate", None),
    (HeaderName::UserAgent, "User-Agent", None),
    (HeaderName::Server, "Server", None),
];

impl HeaderName {
    /// Case-insensitive lookup of a full or compact header name.
    pub fn from_bytes(name: &[u8]) -> HeaderName {
        for (kind, full, compact) in NAMES.iter() {
            let compact_match = match (name, compact) {
                ([c], Some(k)) => c.to_ascii_lowercase() == *k,
                _ => false,
            };
            if compact_match || eq_ic(name, full.as_bytes()) {
                return *kind;
            }
        }
        HeaderName::Other
    }

    /// The canonical full name (`Other` has none and gives "").
    pub fn as_str(&self) -> &'static str {
        NAMES
            .iter()
            .find(|(k, _, _)| k == self)
            .map_or("", |(_, full, _)| full)
    }
}

/// Splits a header value on commas outside quoted strings and `<...>`; elements are trimmed.
/// Empty elements (`a,,b`) are yielded as empty slices so callers can reject them.
#[derive(Debug, Clone)]
pub struct ValueIter<'a> {
    rest: Option<&'a [u8]>,
}

impl<'a> ValueIter<'a> {
    pub fn new(value: &'a [u8]) -> Self {
        let v = trim_lws(value);
        ValueIter {
            rest: if v.is_empty() { None } else { Some(v) },
        }
    }
}

impl<'a> Iterator for ValueIter<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let s = self.rest?;
        let mut i = 0;
        let mut in_angle = false;
        while let Some(&b) = s.get(i) {
            match b {
                b'"' => match end_of_quoted(s, i) {
                    Some(e) => {
                        i = e;
                        continue;
                    }
                    // Unterminated quote: the rest is one (broken) element.
                    None => i = s.len(),
                },
                b'<' => in_angle = true,
                b'>' => in_angle = false,
                b',' if !in_angle => {
                    self.rest = s.get(i + 1..);
                    return Some(trim_lws(s.get(..i).unwrap_or(&[])));
                }
                _ => {}
            }
            i += 1;
        }
        self.rest = None;
        Some(trim_lws(s))
    }
}

/// One `;name[=value]` parameter. `value` keeps its quotes if it was a quoted string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param<'a> {
    pub name: &'a [u8],
    pub value: Option<&'a [u8]>,
    /// From the `;` to the end of the value: the bytes an editor removes or replaces.
    pub item: &'a [u8],
}

impl<'a> Param<'a> {
    /// The value without surrounding quotes (escapes inside are left as they are).
    pub fn unquoted(&self) -> Option<&'a [u8]> {
        self.value.map(unquote)
    }
}

/// Strips one pair of surrounding double quotes.
pub fn unquote(v: &[u8]) -> &[u8] {
    match v {
        [b'"', inner @ .., b'"'] => inner,
        _ => v,
    }
}

/// A validated parameter list (`;a=1;b;c="x"`), header style (LWS allowed around `;` and `=`)
/// or URI style (no LWS). `raw` is the whole list; empty, it marks where a parameter would go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params<'a> {
    raw: &'a [u8],
    uri: bool,
}

impl<'a> Params<'a> {
    /// Validates header parameters. `raw` must be empty or start (after LWS) with `;`.
    pub(crate) fn header(raw: &'a [u8]) -> Option<Params<'a>> {
        let p = Params { raw, uri: false };
        p.check().then_some(p)
    }

    /// Validates URI parameters (`raw` empty or starting with `;`, no LWS).
    pub(crate) fn uri(raw: &'a [u8]) -> Option<Params<'a>> {
        if raw.iter().any(|&b| is_lws(b)) {
            return None;
        }
        let p = Params { raw, uri: true };
        p.check().then_some(p)
    }

    fn check(&self) -> bool {
        let mut it = ParamIter {
            s: self.raw,
            i: 0,
            uri: self.uri,
            bad: false,
        };
        for _ in it.by_ref() {}
        !it.bad
    }

    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    pub fn iter(&self) -> ParamIter<'a> {
        ParamIter {
            s: self.raw,
            i: 0,
            uri: self.uri,
            bad: false,
        }
    }

    /// First parameter named `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<Param<'a>> {
        self.iter().find(|p| eq_ic(p.name, name.as_bytes()))
    }

    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

/// Iterator over a parameter list; stops at the first malformed parameter.
#[derive(Debug, Clone)]
pub struct ParamIter<'a> {
    s: &'a [u8],
    i: usize,
    uri: bool,
    bad: bool,
}

impl<'a> ParamIter<'a> {
    fn lws(&self, i: usize) -> usize {
        if self.uri {
            i
        } else {
            skip_lws(self.s, i)
        }
    }
}

fn is_uri_param_char(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'_'
                | b'.'
                | b'!'
                | b'~'
                | b'*'
                | b'\''
                | b'('
                | b')'
                | b'%'
                | b'['
                | b']'
                | b'/'
                | b':'
                | b'&'
                | b'+'
                | b'$'
        )
}

fn is_header_value_char(b: u8) -> bool {
    // token, or host (IPv6 reference) characters.
    super::scan::is_token_char(b) || matches!(b, b'[' | b']' | b':')
}

impl<'a> Iterator for ParamIter<'a> {
    type Item = Param<'a>;
    fn next(&mut self) -> Option<Param<'a>> {
        if self.bad {
            return None;
        }
        let s = self.s;
        let start = self.lws(self.i);
        if start >= s.len() {
            return None;
        }
        let fail = |me: &mut Self| {
            me.bad = true;
            None
        };
        if s.get(start) != Some(&b';') {
            return fail(self);
        }
        let name_start = self.lws(start + 1);
        let mut i = name_start;
        let name_ok = |b: u8| {
            if self.uri {
                is_uri_param_char(b)
            } else {
                super::scan::is_token_char(b)
            }
        };
        while s.get(i).is_some_and(|&b| name_ok(b) && b != b'=') {
            i += 1;
        }
        let name = s.get(name_start..i).unwrap_or(&[]);
        if name.is_empty() {
            return fail(self);
        }
        let mut end = i;
        let mut value = None;
        let j = self.lws(i);
        if s.get(j) == Some(&b'=') {
            let vs = self.lws(j + 1);
            let ve = if !self.uri && s.get(vs) == Some(&b'"') {
                match end_of_quoted(s, vs) {
                    Some(e) => e,
                    None => return fail(self),
                }
            } else {
                let mut k = vs;
                while s.get(k).is_some_and(|&b| {
                    if self.uri {
                        is_uri_param_char(b)
                    } else {
                        is_header_value_char(b)
                    }
                }) {
                    k += 1;
                }
                k
            };
            let v = s.get(vs..ve).unwrap_or(&[]);
            if v.is_empty() {
                return fail(self);
            }
            value = Some(v);
            end = ve;
        }
        // After a parameter: end of list or the next `;`.
        let after = self.lws(end);
        if after < s.len() && s.get(after) != Some(&b';') {
            return fail(self);
        }
        self.i = end;
        Some(Param {
            name,
            value,
            item: s.get(start..end).unwrap_or(&[]),
        })
    }
}

/// Comma-separated option tags (Require, Proxy-Require, Supported); empty elements skipped.
#[derive(Debug, Clone)]
pub struct Tokens<'a> {
    inner: ValueIter<'a>,
}

impl<'a> Tokens<'a> {
    pub fn new(value: &'a [u8]) -> Self {
        Tokens {
            inner: ValueIter::new(value),
        }
    }
}

impl<'a> Iterator for Tokens<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        self.inner.by_ref().find(|t| is_token(t))
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
    fn names_and_compact_forms() {
        assert_eq!(HeaderName::from_bytes(b"v"), HeaderName::Via);
        assert_eq!(HeaderName::from_bytes(b"V"), HeaderName::Via);
        assert_eq!(
            HeaderName::from_bytes(b"MaX-fOrWaRdS"),
            HeaderName::MaxForwards
        );
        assert_eq!(HeaderName::from_bytes(b"call-id"), HeaderName::CallId);
        assert_eq!(HeaderName::from_bytes(b"C%6Fntact"), HeaderName::Other);
        for (c, full) in [
            ("f", "From"),
            ("t", "To"),
            ("i", "Call-ID"),
            ("m", "Contact"),
            ("l", "Content-Length"),
            ("c", "Content-Type"),
            ("k", "Supported"),
            ("s", "Subject"),
            ("e", "Content-Encoding"),
            ("o", "Event"),
            ("r", "Refer-To"),
            ("b", "Referred-By"),
            ("u", "Allow-Events"),
            ("x", "Session-Expires"),
            ("a", "Accept-Contact"),
        ] {
            assert_eq!(HeaderName::from_bytes(c.as_bytes()).as_str(), full);
        }
    }

    #[test]
    fn comma_split_respects_quotes_and_brackets() {
        let v: Vec<&[u8]> = ValueIter::new(br#" "a,b" <sip:x;p=1,2>;q=1 , <sip:y> ,, "#).collect();
        assert_eq!(
            v,
            [&br#""a,b" <sip:x;p=1,2>;q=1"#[..], b"<sip:y>", b"", b""]
        );
        assert_eq!(ValueIter::new(b"  ").count(), 0);
    }

    #[test]
    fn header_params() {
        let p = Params::header(b" ;   tag    = 1918181833n ; x ;q=\"a;b\"").unwrap();
        let all: Vec<_> = p.iter().map(|p| (p.name, p.value)).collect();
        assert_eq!(
            all,
            [
                (&b"tag"[..], Some(&b"1918181833n"[..])),
                (b"x", None),
                (b"q", Some(b"\"a;b\"")),
            ]
        );
        assert_eq!(p.get("TAG").unwrap().item, b";   tag    = 1918181833n");
        assert_eq!(p.get("q").unwrap().unquoted(), Some(&b"a;b"[..]));
        assert!(Params::header(b";;;;").is_none());
        assert!(Params::header(b";a=").is_none());
        assert!(Params::header(b"junk").is_none());
        assert!(Params::header(b"").unwrap().is_empty());
    }

    #[test]
    fn uri_params() {
        let p = Params::uri(b";lr;unknownwith=value;unknown-no-value").unwrap();
        assert_eq!(p.iter().count(), 3);
        assert!(Params::uri(b"; lr").is_none());
    }

    #[test]
    fn tokens() {
        let t: Vec<_> = Tokens::new(b"noProxiesSupportThis, norDoAnyProxiesSupportThis").collect();
        assert_eq!(
            t,
            [&b"noProxiesSupportThis"[..], b"norDoAnyProxiesSupportThis"]
        );
    }
}
