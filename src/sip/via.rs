//! The Via header: sent-protocol, sent-by and its parameters (RFC 3261 §20.42, RFC 3581).

use super::error::ParseError;
use super::header::{HeaderName, Params};
use super::message::Message;
use super::scan::{is_token_char, parse_u16, skip_lws, trim_lws};
use super::uri::{split_hostport, Host};

/// The `rport` parameter (RFC 3581): a bare flag in requests, a port once filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rport {
    Flag,
    Port(u16),
}

/// The RFC 3261 magic cookie that starts a branch id.
pub const MAGIC_COOKIE: &[u8] = b"z9hG4bK";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Via<'a> {
    /// The whole Via value.
    pub raw: &'a [u8],
    pub protocol: &'a [u8],
    pub version: &'a [u8],
    pub transport: &'a [u8],
    pub host: Host<'a>,
    pub host_raw: &'a [u8],
    /// `host[:port]` as written.
    pub sent_by_raw: &'a [u8],
    pub port: Option<u16>,
    pub params: Params<'a>,
}

fn token_at(s: &[u8], i: usize) -> Option<(&[u8], usize)> {
    let mut e = i;
    while s.get(e).is_some_and(|&b| is_token_char(b)) {
        e += 1;
    }
    (e > i).then(|| (s.get(i..e).unwrap_or(&[]), e))
}

fn slash(s: &[u8], i: usize) -> Option<usize> {
    let i = skip_lws(s, i);
    (s.get(i) == Some(&b'/')).then(|| skip_lws(s, i + 1))
}

impl<'a> Via<'a> {
    pub fn parse(s: &'a [u8]) -> Result<Via<'a>, ParseError> {
        Self::parse_opt(trim_lws(s)).ok_or(ParseError::BadVia)
    }

    fn parse_opt(s: &'a [u8]) -> Option<Via<'a>> {
        let (protocol, i) = token_at(s, 0)?;
        let (version, i) = token_at(s, slash(s, i)?)?;
        let (transport, i) = token_at(s, slash(s, i)?)?;
        let hs = skip_lws(s, i);
        if hs == i {
            return None;
        }
        let mut he = hs;
        while s.get(he).is_some_and(|&b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'[' | b']')
        }) {
            he += 1;
        }
        let sent_by_raw = s.get(hs..he)?;
        let (host, host_raw, port) = split_hostport(sent_by_raw)?;
        let params = Params::header(s.get(he..)?)?;
        let via = Via {
            raw: s,
            protocol,
            version,
            transport,
            host,
            host_raw,
            sent_by_raw,
            port,
            params,
        };
        // A filled-in rport must be a port number.
        if let Some(Some(v)) = via.params.get("rport").map(|p| p.value) {
            parse_u16(v)?;
        }
        Some(via)
    }

    pub fn branch(&self) -> Option<&'a [u8]> {
        self.params.get("branch").and_then(|p| p.value)
    }

    pub fn received(&self) -> Option<&'a [u8]> {
        self.params.get("received").and_then(|p| p.value)
    }

    /// `received` as an address, bare (RFC 3261) or in brackets (RFC 5118 §4.5 asks to
    /// accept both).
    pub fn received_ip(&self) -> Option<core::net::IpAddr> {
        let r = self.received()?;
        let r = r
            .strip_prefix(b"[")
            .and_then(|r| r.strip_suffix(b"]"))
            .unwrap_or(r);
        core::str::from_utf8(r).ok()?.parse().ok()
    }

    pub fn maddr(&self) -> Option<&'a [u8]> {
        self.params.get("maddr").and_then(|p| p.value)
    }

    pub fn rport(&self) -> Option<Rport> {
        let p = self.params.get("rport")?;
        match p.value {
            None => Some(Rport::Flag),
            Some(v) => parse_u16(v).map(Rport::Port),
        }
    }

    /// Whether the branch carries the RFC 3261 magic cookie.
    pub fn is_rfc3261_branch(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with(MAGIC_COOKIE))
    }
}

impl<'a> Message<'a> {
    /// Every Via value of every Via line, top first.
    pub fn vias(&self) -> impl Iterator<Item = Result<Via<'a>, ParseError>> + '_ {
        self.values(HeaderName::Via).map(Via::parse)
    }

    /// The topmost Via.
    pub fn top_via(&self) -> Result<Via<'a>, ParseError> {
        self.vias().next().unwrap_or(Err(ParseError::MissingVia))
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
    fn folded_sent_protocol() {
        let v = Via::parse(b"SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw").unwrap();
        assert_eq!(
            (v.protocol, v.version, v.transport),
            (&b"SIP"[..], &b"2.0"[..], &b"UDP"[..])
        );
        assert_eq!(v.host, Host::Ipv4("192.0.2.2".parse().unwrap()));
        assert_eq!(v.branch(), Some(&b"390skdjuw"[..]));
        assert!(!v.is_rfc3261_branch());
    }

    #[test]
    fn nat_params() {
        let v = Via::parse(
            b"SIP/2.0/UDP 192.168.8.53:5860;rport=53221;branch=z9hG4bK-5af;received=180.173.83.248",
        )
        .unwrap();
        assert_eq!(v.port, Some(5860));
        assert_eq!(v.sent_by_raw, b"192.168.8.53:5860");
        assert_eq!(v.rport(), Some(Rport::Port(53221)));
        assert_eq!(v.received(), Some(&b"180.173.83.248"[..]));
        assert!(v.is_rfc3261_branch());
        let v =
            Via::parse(b"SIP/2.0/TCP 172.168.0.252:52795;rport;branch=z9hG4bKPj;alias").unwrap();
        assert_eq!(v.rport(), Some(Rport::Flag));
        assert!(v.params.get("alias").is_some());
        let v = Via::parse(b"SIP/2.0/UDP [2001:db8::1]:5060;maddr=224.2.0.1").unwrap();
        assert_eq!(v.maddr(), Some(&b"224.2.0.1"[..]));
        assert_eq!(v.port, Some(5060));
    }

    #[test]
    fn bad_vias() {
        for bad in [
            &b"SIP/2.0/UDP 192.0.2.15;;"[..],
            b";",
            b"",
            b"SIP/2.0 host",
            b"SIP/2.0/UDP",
            b"SIP/2.0/UDP host;rport=x",
            b"SIP/2.0/UDP host:99999",
        ] {
            assert_eq!(Via::parse(bad), Err(ParseError::BadVia), "{bad:?}");
        }
    }
}
