//! Client id of a relay half-stream (behaviour §5.4): tells apart the two legs of a call that
//! passes siproxd twice (two local UAs calling each other).
//!
//! The proxy builds it from `user@host` of the From URI (outgoing request / incoming response)
//! or the To URI (incoming request / outgoing response), falling back to the first Contact when
//! that URI lacks user or host, plus the sender's IP.

use crate::limits::RTP_CLIENT_ID_SIZE;
use std::net::IpAddr;

/// `user@host` text (possibly empty) and the sender's IP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientId {
    text: heapless::String<RTP_CLIENT_ID_SIZE>,
    ip: IpAddr,
}

impl ClientId {
    /// Text longer than `RTP_CLIENT_ID_SIZE` bytes is cut at a character boundary: the id only
    /// separates the legs of one Call-ID, so a long prefix is as good as the whole.
    pub fn new(text: &str, ip: IpAddr) -> Self {
        let mut s = heapless::String::new();
        for c in text.chars() {
            if s.push(c).is_err() {
                break;
            }
        }
        ClientId {
            text: s,
            ip: ip.to_canonical(),
        }
    }

    /// `user@host` built without an intermediate string.
    pub fn from_user_host(user: &str, host: &str, ip: IpAddr) -> Self {
        let mut id = ClientId::new(user, ip);
        for c in core::iter::once('@').chain(host.chars()) {
            if id.text.push(c).is_err() {
                break;
            }
        }
        id
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn ip(&self) -> IpAddr {
        self.ip
    }

    /// siproxd's rule: when both texts are present, they decide (equal or not); only when one
    /// is missing do equal IPs match. The IP cannot decide between two present texts: both legs
    /// of a call between two local phones reach the proxy from the same provider address
    /// (issue 14: such calls were silent when the legs' halves were taken for one another).
    pub fn matches(&self, other: &ClientId) -> bool {
        if !self.text.is_empty() && !other.text.is_empty() {
            return self.text == other.text;
        }
        self.ip == other.ip
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 10));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 11));

    #[test]
    fn equal_texts_match_across_ips() {
        assert!(
            ClientId::new("alice@example.com", A).matches(&ClientId::new("alice@example.com", B))
        );
    }

    #[test]
    fn different_texts_and_ips_do_not_match() {
        assert!(
            !ClientId::new("alice@example.com", A).matches(&ClientId::new("bob@example.com", B))
        );
    }

    #[test]
    fn same_ip_matches_only_when_a_text_is_missing() {
        assert!(ClientId::new("", A).matches(&ClientId::new("", A)));
        assert!(ClientId::new("alice@x", A).matches(&ClientId::new("", A)));
        assert!(!ClientId::new("", A).matches(&ClientId::new("", B)));
    }

    #[test]
    fn the_two_legs_of_a_local_call_differ_though_both_come_from_the_provider() {
        // alice calls dave through the provider: every message of both legs that reaches the
        // proxy from the WAN comes from the provider's address.
        assert!(!ClientId::new("alice@x", A).matches(&ClientId::new("dave@x", A)));
    }

    #[test]
    fn ipv4_mapped_ipv6_equals_ipv4() {
        let mapped: IpAddr = "::ffff:192.168.1.10".parse().unwrap();
        assert!(ClientId::new("", A).matches(&ClientId::new("", mapped)));
    }

    #[test]
    fn from_user_host_joins_with_at() {
        assert_eq!(
            ClientId::from_user_host("alice", "example.com", A).text(),
            "alice@example.com"
        );
    }

    #[test]
    fn long_text_is_truncated_on_a_char_boundary() {
        let long = "é".repeat(100); // 200 bytes
        let id = ClientId::new(&long, A);
        assert_eq!(id.text().len(), RTP_CLIENT_ID_SIZE);
        assert!(id.text().chars().all(|c| c == 'é'));
        let id2 = ClientId::from_user_host(&"u".repeat(127), "host", A);
        assert_eq!(id2.text().len(), RTP_CLIENT_ID_SIZE);
        assert!(id2.text().ends_with('@'));
    }
}
