//! Behaviour §11 tests 43–54, as far as they concern the relay table (the SDP text itself is
//! the rewriter's, sockets are the shell's). Fixture of §11: I = 192.168.1.1, O = 203.0.113.5,
//! RTP 7070–7089, rtp_timeout 300, A = 192.168.1.10, B = 198.51.100.30.
//!
//! Not here: test 48 (port 0 / IPv6 `o=`: the rewriter never asks the table) and test 53
//! (`rtp_proxy_enable = 0`: the proxy never asks the table).
#![allow(clippy::unwrap_used)] // test helpers: a failed set-up panics, as a test should

use siproxd_rs::rtp::{
    ClientId, OpenError, Opened, PacketDrop, RelaySockets, SlotId, StreamDirection, StreamRequest,
    Table, Token, Verdict,
};
use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};

const I: &str = "192.168.1.1";
const O: &str = "203.0.113.5";
const A_MEDIA: &str = "192.168.1.10:4000";
const B_MEDIA: &str = "198.51.100.30:5000";

/// Stands in for the shell: the set of bound UDP addresses.
#[derive(Default)]
struct Bound {
    addrs: BTreeSet<SocketAddr>,
    binds: usize,
}

impl RelaySockets for Bound {
    fn open_pair(&mut self, _: SlotId, rtp: SocketAddr) -> bool {
        let rtcp = SocketAddr::new(rtp.ip(), rtp.port() + 1);
        if self.addrs.contains(&rtp) || self.addrs.contains(&rtcp) {
            return false;
        }
        self.addrs.insert(rtp);
        self.addrs.insert(rtcp);
        self.binds += 1;
        true
    }
    fn close_pair(&mut self, _: SlotId, rtp: SocketAddr) {
        assert!(self.addrs.remove(&rtp));
        assert!(self
            .addrs
            .remove(&SocketAddr::new(rtp.ip(), rtp.port() + 1)));
    }
}

impl Bound {
    fn has(&self, a: &str) -> bool {
        self.addrs.contains(&sa(a))
    }
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}
fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

struct Fixture {
    table: Table,
    bound: Bound,
}

impl Fixture {
    fn new() -> Self {
        Self::with(7070, 7089, 300)
    }
    fn with(low: u16, high: u16, timeout: u32) -> Self {
        Fixture {
            table: Table::new(1024, low, high, timeout),
            bound: Bound::default(),
        }
    }

    /// Outgoing INVITE from A (SIP outgoing → SDP gets O, stream direction incoming, §5.2).
    fn invite_from_a(
        &mut self,
        call_id: &str,
        cseq: u32,
        media: &str,
    ) -> Result<Opened, OpenError> {
        self.table.open(
            0,
            &StreamRequest {
                call_id,
                client_id: ClientId::new("alice@example.com", ip("192.168.1.10")),
                cseq,
                stream_dir: StreamDirection::Incoming,
                call_dir: StreamDirection::Outgoing,
                media_index: 0,
                local_ip: ip(O),
                remote: sa(media),
                remote_rtcp_port: None,
                media_info: None,
            },
            &mut self.bound,
        )
    }

    /// B's answer to that INVITE (SIP response incoming → SDP gets I, stream direction
    /// outgoing, call direction outgoing).
    fn answer_from_b(
        &mut self,
        call_id: &str,
        cseq: u32,
        media: &str,
    ) -> Result<Opened, OpenError> {
        self.table.open(
            0,
            &StreamRequest {
                call_id,
                client_id: ClientId::new("alice@example.com", ip("198.51.100.30")),
                cseq,
                stream_dir: StreamDirection::Outgoing,
                call_dir: StreamDirection::Outgoing,
                media_index: 0,
                local_ip: ip(I),
                remote: sa(media),
                remote_rtcp_port: None,
                media_info: None,
            },
            &mut self.bound,
        )
    }

    fn call(&mut self, call_id: &str) -> (Opened, Opened) {
        let e1 = self.invite_from_a(call_id, 1, A_MEDIA).unwrap();
        let e2 = self.answer_from_b(call_id, 1, B_MEDIA).unwrap();
        (e1, e2)
    }
}

#[test]
fn t43_outgoing_invite_binds_7070_and_7071_on_outbound_address() {
    let mut f = Fixture::new();
    let e1 = f.invite_from_a("c43", 1, A_MEDIA).unwrap();
    assert_eq!(e1.local, sa("203.0.113.5:7070"));
    assert!(!e1.reused);
    assert!(f.bound.has("203.0.113.5:7070") && f.bound.has("203.0.113.5:7071"));
    assert_eq!(f.bound.addrs.len(), 2);
}

#[test]
fn t44_answer_binds_7072_and_7073_on_inbound_address_and_pairs() {
    let mut f = Fixture::new();
    let (e1, e2) = f.call("c44");
    assert_eq!(e2.local, sa("192.168.1.1:7072"));
    assert!(f.bound.has("192.168.1.1:7072") && f.bound.has("192.168.1.1:7073"));
    assert_eq!(f.table.half(e1.slot).unwrap().peer(), Some(e2.slot));
    assert_eq!(f.table.half(e2.slot).unwrap().peer(), Some(e1.slot));
}

#[test]
fn t45_relay_paths_and_unrelated_source() {
    let mut f = Fixture::new();
    let (e1, e2) = f.call("c45");
    // A → 192.168.1.1:7072 leaves from 203.0.113.5:7070 to B.
    assert_eq!(
        f.table.on_packet(0, Token::rtp(e2.slot), sa(A_MEDIA), 172),
        Verdict::Forward {
            out: Token::rtp(e1.slot),
            dst: sa(B_MEDIA)
        }
    );
    assert_eq!(
        f.table.half(e1.slot).unwrap().local(),
        sa("203.0.113.5:7070")
    );
    // B → 203.0.113.5:7070 leaves from 192.168.1.1:7072 to A.
    assert_eq!(
        f.table.on_packet(1, Token::rtp(e1.slot), sa(B_MEDIA), 172),
        Verdict::Forward {
            out: Token::rtp(e2.slot),
            dst: sa(A_MEDIA)
        }
    );
    // RTCP to 192.168.1.1:7073 leaves from 203.0.113.5:7071 to B:5001.
    assert_eq!(
        f.table
            .on_packet(2, Token::rtcp(e2.slot), sa("192.168.1.10:4001"), 60),
        Verdict::Forward {
            out: Token::rtcp(e1.slot),
            dst: sa("198.51.100.30:5001")
        }
    );
    // decisions §6 changes the outcome: siproxd forwards a datagram from an unrelated host to
    // A; siproxd-rs latches B and drops it, counted.
    assert_eq!(
        f.table
            .on_packet(3, Token::rtp(e1.slot), sa("192.0.2.99:7777"), 172),
        Verdict::Drop(PacketDrop::ForeignSource)
    );
    assert_eq!(
        f.table
            .half(e1.slot)
            .unwrap()
            .counters()
            .dropped_foreign_source,
        1
    );
}

#[test]
fn t46_retransmission_and_reinvite_keep_7070() {
    let mut f = Fixture::new();
    let (e1, e2) = f.call("c46");
    let again = f.invite_from_a("c46", 1, A_MEDIA).unwrap();
    assert_eq!((again.local, again.reused), (sa("203.0.113.5:7070"), true));
    let binds = f.bound.binds;
    let re = f.invite_from_a("c46", 2, "192.168.1.10:4002").unwrap();
    assert_eq!(re.local, sa("203.0.113.5:7070"));
    assert_eq!(f.bound.binds, binds, "no new port bound");
    // B's media now goes to A's new port.
    assert_eq!(
        f.table.on_packet(0, Token::rtp(e1.slot), sa(B_MEDIA), 172),
        Verdict::Forward {
            out: Token::rtp(e2.slot),
            dst: sa("192.168.1.10:4002")
        }
    );
}

#[test]
fn t47_hold_with_zero_address_keeps_the_relay_port() {
    let mut f = Fixture::new();
    let (e1, _) = f.call("c47");
    let hold = f.invite_from_a("c47", 2, "0.0.0.0:4000").unwrap();
    assert_eq!((hold.local, hold.reused), (sa("203.0.113.5:7070"), true));
    // decisions §6: nothing is sent towards an endpoint on hold (siproxd would sendto 0.0.0.0).
    assert_eq!(
        f.table.on_packet(0, Token::rtp(e1.slot), sa(B_MEDIA), 172),
        Verdict::Drop(PacketDrop::NoDestination)
    );
}

#[test]
fn t49_bye_releases_ports_reused_after_round_robin_wraps() {
    let mut f = Fixture::new();
    let (e1, _) = f.call("c49");
    assert_eq!(f.table.close_call("c49", &mut f.bound), 2);
    assert!(f.bound.addrs.is_empty());
    assert_eq!(
        f.table.on_packet(0, Token::rtp(e1.slot), sa(B_MEDIA), 172),
        Verdict::Drop(PacketDrop::UnknownToken)
    );
    // 7074..7088 come first, then the round robin wraps to 7070 again.
    let ports: Vec<u16> = (0..9)
        .map(|n| {
            f.invite_from_a(&format!("n{n}"), 1, A_MEDIA)
                .unwrap()
                .local
                .port()
        })
        .collect();
    assert_eq!(
        ports,
        vec![7074, 7076, 7078, 7080, 7082, 7084, 7086, 7088, 7070]
    );
}

#[test]
fn t50_error_responses_release_by_cseq() {
    // 486 to INVITE CSeq 1.
    let mut f = Fixture::new();
    f.call("busy");
    assert_eq!(f.table.close_call_up_to_cseq("busy", 1, &mut f.bound), 2);
    assert!(f.table.is_empty());

    // 407 to CSeq 1, INVITE re-sent with CSeq 2 succeeds, late second 407 for CSeq 1.
    let mut f = Fixture::new();
    f.invite_from_a("auth", 1, A_MEDIA).unwrap();
    assert_eq!(f.table.close_call_up_to_cseq("auth", 1, &mut f.bound), 1);
    let e1 = f.invite_from_a("auth", 2, A_MEDIA).unwrap();
    let e2 = f.answer_from_b("auth", 2, B_MEDIA).unwrap();
    assert_eq!(f.table.close_call_up_to_cseq("auth", 1, &mut f.bound), 0);
    assert_eq!(
        f.table.on_packet(0, Token::rtp(e2.slot), sa(A_MEDIA), 172),
        Verdict::Forward {
            out: Token::rtp(e1.slot),
            dst: sa(B_MEDIA)
        }
    );
}

#[test]
fn t51_silence_releases_at_rtp_timeout_and_one_way_rtp_keeps_both() {
    let mut f = Fixture::with(7070, 7089, 20);
    f.call("quiet");
    // decisions §3: exact deadline, not "within rtp_timeout + ~10 s".
    assert_eq!(f.table.next_deadline(), Some(20_000));
    assert_eq!(f.table.expire(19_999, &mut f.bound), 0);
    assert_eq!(f.table.expire(20_000, &mut f.bound), 2);
    assert!(f.bound.addrs.is_empty());

    let (e1b, e2b) = f.call("oneway");
    // Only B talks, every 10 s, for a minute: both halves live on.
    for t in (10_000..=60_000).step_by(10_000) {
        assert!(matches!(
            f.table
                .on_packet(20_000 + t, Token::rtp(e1b.slot), sa(B_MEDIA), 172),
            Verdict::Forward { .. }
        ));
        assert_eq!(f.table.expire(20_000 + t + 19_999, &mut f.bound), 0);
    }
    assert!(f.table.half(e2b.slot).is_some());
    assert_eq!(f.table.expire(80_000 + 20_000, &mut f.bound), 2);
}

#[test]
fn t52_allocation_order_rounding_and_exhaustion() {
    let mut f = Fixture::new();
    let ports: Vec<u16> = (0..3)
        .map(|n| {
            f.invite_from_a(&format!("c{n}"), 1, A_MEDIA)
                .unwrap()
                .local
                .port()
        })
        .collect();
    assert_eq!(ports, vec![7070, 7072, 7074]);
    assert!(f.bound.has("203.0.113.5:7075"), "RTCP = RTP + 1");
    assert!(f.bound.addrs.iter().step_by(2).all(|a| a.port() % 2 == 0));

    let mut f = Fixture::with(7071, 7089, 300);
    assert_eq!(
        f.invite_from_a("odd", 1, A_MEDIA).unwrap().local.port(),
        7072
    );

    // Range exhausted: decisions §6 changes the outcome. siproxd keeps the original m= port;
    // siproxd-rs gets an error value and the call is answered 503 with the SDP untouched.
    let mut f = Fixture::new();
    for n in 0..10 {
        f.invite_from_a(&format!("x{n}"), 1, A_MEDIA).unwrap();
    }
    assert_eq!(
        f.invite_from_a("last", 1, A_MEDIA).unwrap_err(),
        OpenError::PortsExhausted { local_ip: ip(O) }
    );
    assert_eq!(f.table.stats().ports_exhausted, 1);
    assert_eq!(f.table.len(), 10);
}

#[test]
fn t54_host_outbound_stream_binds_the_real_interface_address() {
    // host_outbound = 198.51.100.200 with if_inbound = if_outbound = 192.168.1.1: the SDP says
    // 198.51.100.200, the proxy asks the table to bind the real address.
    let mut f = Fixture::new();
    let o = f
        .table
        .open(
            0,
            &StreamRequest {
                call_id: "c54",
                client_id: ClientId::new("alice@example.com", ip("192.168.1.10")),
                cseq: 1,
                stream_dir: StreamDirection::Incoming,
                call_dir: StreamDirection::Outgoing,
                media_index: 0,
                local_ip: ip(I),
                remote: sa(A_MEDIA),
                remote_rtcp_port: None,
                media_info: None,
            },
            &mut f.bound,
        )
        .unwrap();
    assert_eq!(o.local, sa("192.168.1.1:7070"));
    assert!(f.bound.has("192.168.1.1:7070") && f.bound.has("192.168.1.1:7071"));
}

#[test]
fn t50_established_call_survives_errors_for_its_reinvite_and_for_its_first_attempt() {
    // 407 to CSeq 1, re-sent INVITE CSeq 2 answered 200 (the proxy confirms CSeq 2).
    let mut f = Fixture::new();
    f.invite_from_a("est", 1, A_MEDIA).unwrap();
    assert_eq!(f.table.close_call_up_to_cseq("est", 1, &mut f.bound), 1);
    let e1 = f.invite_from_a("est", 2, A_MEDIA).unwrap();
    let e2 = f.answer_from_b("est", 2, B_MEDIA).unwrap();
    assert_eq!(f.table.confirm_call("est", 2), 2);
    // Hold re-INVITE CSeq 3, answered 491; then the late 407 for CSeq 1.
    let hold = f.invite_from_a("est", 3, "0.0.0.0:4000").unwrap();
    assert_eq!((hold.slot, hold.reused), (e1.slot, true));
    assert_eq!(f.table.close_call_up_to_cseq("est", 3, &mut f.bound), 0);
    assert_eq!(f.table.close_call_up_to_cseq("est", 1, &mut f.bound), 0);
    assert_eq!(f.bound.addrs.len(), 4);
    assert_eq!(
        f.table.on_packet(0, Token::rtp(e1.slot), sa(B_MEDIA), 172),
        Verdict::Forward {
            out: Token::rtp(e2.slot),
            dst: sa(A_MEDIA)
        }
    );
    // BYE ends it.
    assert_eq!(f.table.close_call("est", &mut f.bound), 2);
    assert!(f.bound.addrs.is_empty());
}
