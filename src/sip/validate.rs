//! Message-level checks a proxy makes before forwarding (behaviour §4.3, decisions §4).

use super::error::ParseError;
use super::message::Message;
use super::uri::{Host, Scheme, Uri};
use super::via::MAGIC_COOKIE;

impl<'a> Message<'a> {
    /// Checks what a proxy relies on: a routable Request-URI, every Via, the top branch,
    /// CSeq (and its method for requests), Call-ID, From, To (with a host for SIP URIs),
    /// Max-Forwards and Contact. The first problem found is returned.
    pub fn validate(&self) -> Result<(), ParseError> {
        let mut ruri = None;
        if let Some(raw) = self.request_uri_raw() {
            let uri = Uri::parse(raw).map_err(|_| ParseError::BadRequestUri)?;
            match uri.scheme {
                Scheme::Sip | Scheme::Sips | Scheme::Tel => {}
                Scheme::Other => return Err(ParseError::UnsupportedScheme),
            }
            // Escaped headers are not allowed in a Request-URI (RFC 3261 §19.1.5).
            if uri.headers.is_some() {
                return Err(ParseError::BadRequestUri);
            }
            ruri = Some(uri);
        }
        let top = self.top_via()?;
        // A bare IPv6 Request-URI host is tolerated only from an agent that writes its Via
        // bare too (one that never learned the brackets, as the Valid8 phone in
        // tests/data/real); from one that brackets its Via it is the RFC 5118 §4.2 error.
        if let Some(u) = ruri {
            let bare = |h: &[u8]| h.first() != Some(&b'[');
            if matches!(u.host, Some(Host::Ipv6(_))) && bare(u.host_raw) && !bare(top.host_raw) {
                return Err(ParseError::BadRequestUri);
            }
        }
        for via in self.vias() {
            via?;
        }
        if top.branch() == Some(MAGIC_COOKIE) {
            return Err(ParseError::BadBranch);
        }
        let cseq = self.cseq()?;
        self.call_id()?;
        let from = self.from()?;
        if from.uri.is_sip() && from.uri.host_raw.is_empty() {
            return Err(ParseError::BadFrom);
        }
        let to = self.to()?;
        if to.uri.is_sip() && to.uri.host_raw.is_empty() {
            return Err(ParseError::BadTo);
        }
        if let Some(method) = self.method() {
            if method != cseq.method {
                return Err(ParseError::CSeqMethodMismatch);
            }
        }
        for c in self.contacts() {
            c?;
        }
        // Last, so that `BadMaxForwards` means every other check passed: a proxy may treat an
        // out-of-range Max-Forwards as absent (RFC 4475 scalar02) and go on.
        self.max_forwards()?;
        Ok(())
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
    use crate::sip::{Framing, Message, ParseError};

    fn check(headers: &str) -> Result<(), ParseError> {
        let text = format!("OPTIONS sip:bob@example.com SIP/2.0\r\n{headers}\r\n");
        let m = Message::parse(text.as_bytes(), Framing::Datagram)?;
        m.validate()
    }

    const OK: &str = "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCSeq: 1 OPTIONS\r\nCall-ID: c\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nMax-Forwards: 70\r\n";

    #[test]
    fn accepts_minimal_request() {
        assert_eq!(check(OK), Ok(()));
    }

    #[test]
    fn reports_each_problem() {
        let without = |name: &str| {
            OK.split_inclusive("\r\n")
                .filter(|l| !l.starts_with(name))
                .collect::<String>()
        };
        assert_eq!(check(&without("Via")), Err(ParseError::MissingVia));
        assert_eq!(check(&without("CSeq")), Err(ParseError::MissingCSeq));
        assert_eq!(check(&without("Call-ID")), Err(ParseError::MissingCallId));
        assert_eq!(check(&without("From")), Err(ParseError::MissingFrom));
        assert_eq!(check(&without("To")), Err(ParseError::MissingTo));
        assert_eq!(check(&without("Max-Forwards")), Ok(()));
        let mf = OK.replace("Max-Forwards: 70", "Max-Forwards: 300");
        assert_eq!(check(&mf), Err(ParseError::BadMaxForwards));
        let m = OK.replace("1 OPTIONS", "1 INVITE");
        assert_eq!(check(&m), Err(ParseError::CSeqMethodMismatch));
        let b = OK.replace("z9hG4bK1", "z9hG4bK");
        assert_eq!(check(&b), Err(ParseError::BadBranch));
        let t = OK.replace("<sip:b@h>", "<sip:b@>");
        assert_eq!(check(&t), Err(ParseError::BadTo));
    }
}
