//! Symmetric-RTP latching (decisions §6): which source may feed a relay socket, and where the
//! reverse direction sends to.
//!
//! The rule, per endpoint and per socket kind (RTP, RTCP):
//! * Not yet latched: a packet is accepted if its source IP equals the SDP-signalled IP (any
//!   port: a NAT in front of the endpoint may change it), or if the signalled IP is not publicly
//!   routable (unspecified/hold, RFC 1918, CGNAT 100.64/10, link-local, IPv6 ULA/link-local):
//!   such an endpoint sits behind a NAT we cannot see into (a phone behind a second NAT, a
//!   provider's UA that did not fix its SDP), so its packets come from an address we cannot
//!   predict. The first accepted packet latches its exact source address and port.
//! * Latched: only the latched address is accepted. Other sources are dropped and counted
//!   (anti-hijack, "RTP bleed"), unless the latched source has been silent for
//!   `RTP_RELATCH_SILENCE_MS`; then the not-yet-latched rule applies again (address change).
//! * A new SDP address for the endpoint (re-INVITE) forgets the latch; hold (`0.0.0.0`) does not:
//!   nothing is sent to a held endpoint, but its latched source may go on sending.

use crate::limits::RTP_RELATCH_SILENCE_MS;
use std::net::{IpAddr, SocketAddr};

/// Learned source/destination of one endpoint on one socket kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Latch {
    addr: Option<SocketAddr>,
    /// When the latched source last sent (ms).
    last_rx: u64,
}

impl Latch {
    /// The latched address, if any.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.addr
    }

    pub fn reset(&mut self) {
        *self = Latch::default();
    }

    /// Whether `src` may send as this endpoint at `now`; accepting it (re)latches.
    /// Returns `Admit::Relatched` when the latched address was set or changed.
    #[cfg(test)]
    pub fn admit(&mut self, now: u64, signalled: IpAddr, src: SocketAddr) -> Admit {
        self.admit_with(now, signalled, src, false)
    }

    /// [`Latch::admit`]; with `any_source` (`rtp_latch_any_source`) an endpoint not latched
    /// yet takes any source, as one with a private SDP address does.
    pub fn admit_with(
        &mut self,
        now: u64,
        signalled: IpAddr,
        src: SocketAddr,
        any_source: bool,
    ) -> Admit {
        let src = canonical(src);
        match self.addr {
            Some(a) if a == src => {
                self.last_rx = now;
                Admit::Accepted
            }
            Some(_) if now.saturating_sub(self.last_rx) < RTP_RELATCH_SILENCE_MS => Admit::Refused,
            _ if any_source || may_latch(signalled, src.ip()) => {
                self.addr = Some(src);
                self.last_rx = now;
                Admit::Latched
            }
            _ => Admit::Refused,
        }
    }
}

/// Outcome of `Latch::admit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    Accepted,
    Latched,
    Refused,
}

/// The not-yet-latched acceptance rule (module doc).
pub fn may_latch(signalled: IpAddr, src: IpAddr) -> bool {
    let signalled = signalled.to_canonical();
    signalled == src.to_canonical() || !is_publicly_routable(signalled)
}

fn canonical(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip().to_canonical(), a.port())
}

/// Addresses a remote peer can be reached at directly. Documentation prefixes count as public
/// (tests use them as Internet hosts); loopback counts as reachable (it is exact on one host).
pub fn is_publicly_routable(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, _, _] = v4.octets();
            let cgnat = a == 100 && (64..128).contains(&b);
            !(v4.is_unspecified()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_broadcast()
                || cgnat)
        }
        IpAddr::V6(v6) => {
            let first = v6.segments().first().copied().unwrap_or(0);
            let unique_local = first & 0xfe00 == 0xfc00;
            let link_local = first & 0xffc0 == 0xfe80;
            !(v6.is_unspecified() || unique_local || link_local)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }
    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn public_and_private_classification() {
        for p in [
            "198.51.100.30",
            "203.0.113.5",
            "8.8.8.8",
            "127.0.0.1",
            "2001:db8::1",
            "::1",
        ] {
            assert!(is_publicly_routable(ip(p)), "{p}");
        }
        for p in [
            "0.0.0.0",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.10",
            "100.64.0.1",
            "100.127.255.255",
            "169.254.1.1",
            "255.255.255.255",
            "::",
            "fd00::1",
            "fe80::1",
        ] {
            assert!(!is_publicly_routable(ip(p)), "{p}");
        }
        assert!(is_publicly_routable(ip("100.128.0.1")));
    }

    #[test]
    fn public_signalled_address_needs_same_ip_any_port() {
        assert!(may_latch(ip("198.51.100.30"), ip("198.51.100.30")));
        assert!(!may_latch(ip("198.51.100.30"), ip("198.51.100.31")));
        let mut l = Latch::default();
        assert_eq!(
            l.admit(0, ip("198.51.100.30"), sa("198.51.100.31:5000")),
            Admit::Refused
        );
        assert_eq!(l.addr(), None);
        assert_eq!(
            l.admit(0, ip("198.51.100.30"), sa("198.51.100.30:6000")),
            Admit::Latched
        );
        assert_eq!(l.addr(), Some(sa("198.51.100.30:6000")));
    }

    #[test]
    fn private_signalled_address_latches_first_source() {
        let mut l = Latch::default();
        assert_eq!(
            l.admit(5, ip("10.0.0.7"), sa("198.51.100.99:40000")),
            Admit::Latched
        );
        assert_eq!(l.addr(), Some(sa("198.51.100.99:40000")));
    }

    #[test]
    fn latched_refuses_others_until_two_seconds_of_silence() {
        let mut l = Latch::default();
        let sig = ip("10.0.0.7");
        assert_eq!(
            l.admit(1_000, sig, sa("198.51.100.99:40000")),
            Admit::Latched
        );
        assert_eq!(
            l.admit(2_500, sig, sa("198.51.100.99:40000")),
            Admit::Accepted
        );
        // 1999 ms after the last packet of the latched source: still refused.
        assert_eq!(l.admit(4_499, sig, sa("192.0.2.66:1234")), Admit::Refused);
        assert_eq!(l.addr(), Some(sa("198.51.100.99:40000")));
        assert_eq!(l.admit(4_500, sig, sa("192.0.2.66:1234")), Admit::Latched);
        assert_eq!(l.addr(), Some(sa("192.0.2.66:1234")));
        // The old source is now the foreign one.
        assert_eq!(
            l.admit(4_600, sig, sa("198.51.100.99:40000")),
            Admit::Refused
        );
    }

    #[test]
    fn relatch_still_obeys_the_signalled_address() {
        let mut l = Latch::default();
        let sig = ip("198.51.100.30");
        assert_eq!(l.admit(0, sig, sa("198.51.100.30:5000")), Admit::Latched);
        assert_eq!(l.admit(10_000, sig, sa("192.0.2.66:5000")), Admit::Refused);
        assert_eq!(
            l.admit(10_000, sig, sa("198.51.100.30:5002")),
            Admit::Latched
        );
    }

    #[test]
    fn mapped_ipv6_source_is_latched_as_ipv4() {
        let mut l = Latch::default();
        assert_eq!(
            l.admit(0, ip("198.51.100.30"), sa("[::ffff:198.51.100.30]:5000")),
            Admit::Latched
        );
        assert_eq!(l.addr(), Some(sa("198.51.100.30:5000")));
        assert_eq!(
            l.admit(1, ip("198.51.100.30"), sa("198.51.100.30:5000")),
            Admit::Accepted
        );
    }

    #[test]
    fn reset_forgets() {
        let mut l = Latch::default();
        l.admit(0, ip("10.0.0.1"), sa("10.0.0.1:1"));
        l.reset();
        assert_eq!(l.addr(), None);
        assert_eq!(l.admit(1, ip("10.0.0.1"), sa("10.0.0.2:1")), Admit::Latched);
    }
}

#[cfg(test)]
mod any_source_tests {
    use super::*;

    #[test]
    fn any_source_latches_the_first_sender_and_then_holds_against_others() {
        let sig: IpAddr = "198.51.100.30".parse().unwrap();
        let far: SocketAddr = "203.0.113.9:4000".parse().unwrap();
        let third: SocketAddr = "192.0.2.66:4000".parse().unwrap();
        let mut l = Latch::default();
        assert_eq!(l.admit_with(0, sig, far, false), Admit::Refused);
        assert_eq!(l.admit_with(0, sig, far, true), Admit::Latched);
        // Latched: a third party is refused as before (anti-bleed).
        assert_eq!(l.admit_with(100, sig, third, true), Admit::Refused);
        assert_eq!(l.admit_with(200, sig, far, true), Admit::Accepted);
    }
}
