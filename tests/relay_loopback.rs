//! `net::relay::Relay` over real sockets and a real mio Poll on loopback.
//! Relay addresses: "O" = 127.0.0.1, "I" = 127.0.0.2; phone A = 127.0.0.10 (LAN side), provider
//! B = 127.0.0.20 (Internet side), a stranger = 127.0.0.66.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)] // test helpers: a failed set-up panics, as a test should

use mio::{Events, Poll};
use siproxd_rs::net::relay::{self, Relay};
use siproxd_rs::rtp::{Opened, StreamDirection, Table, Token};
use socket2::SockRef;
use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};
use streams::req;

mod streams;

const O: &str = "127.0.0.1";
const I: &str = "127.0.0.2";

/// A port range of 20 pairs private to test `n` of this process. SO_REUSEADDR lets two relays
/// bind the same UDP port, so tests running in parallel must not share ranges.
fn range(n: u16) -> (u16, u16) {
    let low = 20_000 + (std::process::id() % 150) as u16 * 240 + n * 40;
    (low, low + 39)
}

struct Rig {
    poll: Poll,
    events: Events,
    relay: Relay,
    start: Instant,
}

impl Rig {
    fn new(n: u16, rtp_timeout: u32) -> Rig {
        let poll = Poll::new().unwrap();
        let (low, high) = range(n);
        let table = Table::new(16, low, high, rtp_timeout);
        let relay = Relay::new(table, 46, poll.registry().try_clone().unwrap());
        Rig {
            poll,
            events: Events::with_capacity(64),
            relay,
            start: Instant::now(),
        }
    }

    fn now(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// Polls and relays until `done` holds (panics after 2 s).
    fn pump_until(&mut self, done: impl Fn(&Relay) -> bool) {
        let end = Instant::now() + Duration::from_secs(2);
        while !done(&self.relay) {
            assert!(Instant::now() < end, "not reached: {:?}", self.relay);
            self.poll
                .poll(&mut self.events, Some(Duration::from_millis(20)))
                .unwrap();
            let tokens: Vec<mio::Token> = self.events.iter().map(|e| e.token()).collect();
            for t in tokens {
                let now = self.now();
                self.relay.handle_readable(now, t);
            }
        }
    }

    /// The two halves of one outgoing call from `a` (LAN) to `b` (Internet), opened as the
    /// proxy does: INVITE's SDP (media to A arrives on O), then 200 OK's (media to B on I).
    fn call(&mut self, call_id: &str, a: SocketAddr, b: SocketAddr) -> (Opened, Opened) {
        let now = self.now();
        let e1 = self
            .relay
            .open(now, &req(call_id, StreamDirection::Incoming, O, a))
            .unwrap();
        let e2 = self
            .relay
            .open(now, &req(call_id, StreamDirection::Outgoing, I, b))
            .unwrap();
        assert!(!e1.reused && !e2.reused);
        (e1, e2)
    }
}

/// An endpoint's RTP socket on an even port and RTCP on the next.
fn endpoint(ip: &str) -> (UdpSocket, UdpSocket) {
    for _ in 0..100 {
        let rtp = UdpSocket::bind((ip, 0)).unwrap();
        let port = rtp.local_addr().unwrap().port();
        if port % 2 == 1 || port == u16::MAX {
            continue;
        }
        if let Ok(rtcp) = UdpSocket::bind((ip, port + 1)) {
            for s in [&rtp, &rtcp] {
                s.set_read_timeout(Some(Duration::from_millis(500)))
                    .unwrap();
            }
            return (rtp, rtcp);
        }
    }
    panic!("no even port pair on {ip}");
}

fn addr(s: &UdpSocket) -> SocketAddr {
    s.local_addr().unwrap()
}

fn plus1(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip(), a.port() + 1)
}

/// An RTP-sized datagram carrying `seq`, built byte by byte (endian-independent).
fn packet(seq: u32, tag: u8) -> [u8; 172] {
    let mut p = [tag; 172];
    p[0] = 0x80;
    p[4..8].copy_from_slice(&seq.to_be_bytes());
    p
}

fn recv(s: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = [0u8; 2048];
    let (n, from) = s.recv_from(&mut buf).unwrap();
    (buf[..n].to_vec(), from)
}

fn nothing_queued(s: &UdpSocket) -> bool {
    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let mut buf = [0u8; 64];
    let r = s.recv_from(&mut buf);
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    matches!(r, Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut))
}

#[test]
fn thousand_packets_each_way_rtcp_stranger_and_teardown() {
    let mut rig = Rig::new(0, 300);
    let (a, a_rtcp) = endpoint("127.0.0.10");
    let (b, b_rtcp) = endpoint("127.0.0.20");
    let (e1, e2) = rig.call("call-1@lan", addr(&a), addr(&b));
    assert_eq!(e1.local.ip(), O.parse::<IpAddr>().unwrap());
    assert_eq!(e2.local.ip(), I.parse::<IpAddr>().unwrap());
    for t in [
        Token::rtp(e1.slot),
        Token::rtcp(e1.slot),
        Token::rtp(e2.slot),
    ] {
        assert!(rig.relay.is_open(t));
    }

    // A talks to the relay's LAN port (E2), B to its Internet port (E1); each hears the other
    // from the port it talks to. Batches keep socket buffers from overflowing.
    let mut sent = 0u64;
    for batch in 0..40u32 {
        for i in batch * 25..(batch + 1) * 25 {
            a.send_to(&packet(i, 0xa), e2.local).unwrap();
            b.send_to(&packet(i, 0xb), e1.local).unwrap();
        }
        sent += 50;
        rig.pump_until(|r| r.stats().sent >= sent);
        for i in batch * 25..(batch + 1) * 25 {
            let (p, from) = recv(&b);
            assert_eq!((p.as_slice(), from), (&packet(i, 0xa)[..], e1.local));
            let (p, from) = recv(&a);
            assert_eq!((p.as_slice(), from), (&packet(i, 0xb)[..], e2.local));
        }
    }
    let st = *rig.relay.stats();
    assert_eq!(
        (st.received, st.sent, st.dropped, st.truncated),
        (2000, 2000, 0, 0)
    );

    // RTCP: port + 1 on both sides.
    a_rtcp.send_to(b"rtcp from a", plus1(e2.local)).unwrap();
    b_rtcp.send_to(b"rtcp from b", plus1(e1.local)).unwrap();
    rig.pump_until(|r| r.stats().sent >= 2002);
    assert_eq!(recv(&b_rtcp), (b"rtcp from a".to_vec(), plus1(e1.local)));
    assert_eq!(recv(&a_rtcp), (b"rtcp from b".to_vec(), plus1(e2.local)));

    // A stranger aiming at the port latched to A is dropped and counted; B hears nothing.
    let stranger = UdpSocket::bind("127.0.0.66:0").unwrap();
    for i in 0..10 {
        stranger.send_to(&packet(i, 0xe), e2.local).unwrap();
    }
    rig.pump_until(|r| r.stats().dropped >= 10);
    assert_eq!(rig.relay.stats().sent, 2002);
    let half = rig.relay.table().half(e2.slot).unwrap();
    assert_eq!(half.counters().dropped_foreign_source, 10);
    assert_eq!(half.counters().packets, 1001);
    assert!(nothing_queued(&b));

    // An oversized datagram goes on truncated to RTP_BUFFER, and is counted.
    let big = vec![0x55u8; siproxd_rs::limits::RTP_BUFFER + 100];
    a.send_to(&big, e2.local).unwrap();
    rig.pump_until(|r| r.stats().sent >= 2003);
    assert_eq!(rig.relay.stats().truncated, 1);
    let (p, _) = recv(&b);
    assert_eq!(p.len(), siproxd_rs::limits::RTP_BUFFER);

    // BYE: both halves closed, all four ports free again (a plain bind would fail while the
    // relay's SO_REUSEADDR sockets were still open).
    assert_eq!(rig.relay.close_call("call-1@lan"), 2);
    assert!(rig.relay.table().is_empty());
    assert!(!rig.relay.is_open(Token::rtp(e1.slot)));
    for port in [e1.local, plus1(e1.local), e2.local, plus1(e2.local)] {
        UdpSocket::bind(port).unwrap_or_else(|e| panic!("{port} still bound: {e}"));
    }
    // Media to a closed port is not relayed.
    a.send_to(&packet(0, 0xa), e2.local).unwrap();
    assert!(nothing_queued(&b));
}

#[test]
fn open_ports_really_are_taken_and_marked() {
    let mut rig = Rig::new(1, 300);
    let (a, _a_rtcp) = endpoint("127.0.0.10");
    let (b, _b_rtcp) = endpoint("127.0.0.20");
    let (e1, e2) = rig.call("call-2@lan", addr(&a), addr(&b));
    for port in [e1.local, plus1(e1.local), e2.local, plus1(e2.local)] {
        assert_eq!(
            UdpSocket::bind(port).unwrap_err().kind(),
            ErrorKind::AddrInUse,
            "{port}"
        );
    }
    let (low, high) = range(1);
    assert!((low..=high).contains(&e1.local.port()) && e1.local.port() % 2 == 0);
    // rtp_dscp 46 (EF) marks the RTP sockets, not RTCP.
    assert_eq!(rig.relay.stats().dscp_failures, 0);
    for slot in [e1.slot, e2.slot] {
        let rtp = SockRef::from(rig.relay.socket(Token::rtp(slot)).unwrap());
        assert_eq!(rtp.tos_v4().unwrap(), 46 << 2);
        let rtcp = SockRef::from(rig.relay.socket(Token::rtcp(slot)).unwrap());
        assert_eq!(rtcp.tos_v4().unwrap(), 0);
    }
    rig.relay.close_all();
    assert!(rig.relay.table().is_empty());
}

/// The loop's aging step: wake the relay at `now`, then ask when to wake it next.
fn expire_due(relay: &mut Relay, now: u64) -> Option<u64> {
    relay.handle_timeout(now);
    relay.poll_timeout()
}

#[test]
fn idle_stream_expires_at_its_exact_deadline_and_traffic_postpones_it() {
    let mut rig = Rig::new(2, 10);
    let (a, _a_rtcp) = endpoint("127.0.0.10");
    let (b, _b_rtcp) = endpoint("127.0.0.20");
    let (e1, e2) = rig.call("call-3@lan", addr(&a), addr(&b));
    let opened_at = rig.relay.table().half(e1.slot).unwrap().last_activity();
    assert_eq!(rig.relay.table().next_deadline(), Some(opened_at + 10_000));
    assert_eq!(
        expire_due(&mut rig.relay, opened_at),
        Some(opened_at + 10_000)
    );

    // A packet relayed at virtual time T refreshes both halves to T + rtp_timeout.
    let t = opened_at + 4_000;
    a.send_to(&packet(1, 0xa), e2.local).unwrap();
    let token = relay::mio_token(Token::rtp(e2.slot));
    let mut n = 0;
    for _ in 0..100 {
        n += rig.relay.handle_readable(t, token);
        if n > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(n, 1);
    assert_eq!(rig.relay.table().next_deadline(), Some(t + 10_000));

    // The loop's remembered wake-up time is now early: waking then closes nothing and yields
    // the real deadline.
    assert_eq!(
        expire_due(&mut rig.relay, opened_at + 10_000),
        Some(t + 10_000)
    );
    assert_eq!(rig.relay.table().len(), 2);
    assert_eq!(rig.relay.handle_timeout(t + 9_999), 0);
    assert_eq!(expire_due(&mut rig.relay, t + 9_999), Some(t + 10_000));
    assert_eq!(expire_due(&mut rig.relay, t + 10_000), None);
    assert!(rig.relay.table().is_empty());
    assert_eq!(rig.relay.table().stats().expired, 2);
    for port in [e1.local, plus1(e1.local), e2.local, plus1(e2.local)] {
        UdpSocket::bind(port).unwrap_or_else(|e| panic!("{port} still bound: {e}"));
    }
}

#[test]
fn fatal_send_error_stops_only_that_half() {
    let mut rig = Rig::new(3, 300);
    let (a, _a_rtcp) = endpoint("127.0.0.10");
    // B "signalled" a broadcast address: sendto fails with EACCES (no SO_BROADCAST), which is
    // not transient, so the half delivering to B is closed.
    let b: SocketAddr = "255.255.255.255:5004".parse().unwrap();
    let (e1, e2) = rig.call("call-4@lan", addr(&a), b);
    a.send_to(&packet(1, 0xa), e2.local).unwrap();
    rig.pump_until(|r| r.stats().send_errors_fatal == 1);
    assert!(rig.relay.table().half(e2.slot).is_none());
    assert!(rig.relay.table().half(e1.slot).is_some());
    assert!(!rig.relay.is_open(Token::rtp(e2.slot)));
    assert!(rig.relay.is_open(Token::rtp(e1.slot)));
    UdpSocket::bind(e2.local).unwrap();
}

#[test]
fn ipv6_halves_relay_and_carry_the_traffic_class() {
    if UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("skipped: no IPv6 loopback");
        return;
    }
    let mut rig = Rig::new(4, 300);
    let (a, _a_rtcp) = endpoint("::1");
    let (b, _b_rtcp) = endpoint("::1");
    let now = rig.now();
    let e1 = rig
        .relay
        .open(
            now,
            &req("call-6@lan", StreamDirection::Incoming, "::1", addr(&a)),
        )
        .unwrap();
    let e2 = rig
        .relay
        .open(
            now,
            &req("call-6@lan", StreamDirection::Outgoing, "::1", addr(&b)),
        )
        .unwrap();
    assert_ne!(e1.local, e2.local);
    let rtp = SockRef::from(rig.relay.socket(Token::rtp(e1.slot)).unwrap());
    assert_eq!(rtp.tclass_v6().unwrap(), 46 << 2);
    a.send_to(&packet(7, 0xa), e2.local).unwrap();
    rig.pump_until(|r| r.stats().sent >= 1);
    assert_eq!(recv(&b), (packet(7, 0xa).to_vec(), e1.local));
    assert_eq!(rig.relay.close_call("call-6@lan"), 2);
}

#[test]
fn concurrent_calls_keep_their_media_apart() {
    let mut rig = Rig::new(5, 300);
    let phones: Vec<_> = (0..3)
        .map(|n| {
            let (a, _) = endpoint(&format!("127.0.0.{}", 10 + n));
            let (b, _) = endpoint(&format!("127.0.0.{}", 20 + n));
            (a, b)
        })
        .collect();
    let calls: Vec<(Opened, Opened)> = phones
        .iter()
        .enumerate()
        .map(|(n, (a, b))| rig.call(&format!("multi-{n}@lan"), addr(a), addr(b)))
        .collect();
    // Every local port distinct per address.
    let mut locals: Vec<SocketAddr> = calls
        .iter()
        .flat_map(|(e1, e2)| [e1.local, e2.local])
        .collect();
    locals.sort();
    locals.dedup();
    assert_eq!(locals.len(), 6);

    for round in 0..20u32 {
        for (n, ((a, b), (e1, e2))) in phones.iter().zip(&calls).enumerate() {
            a.send_to(&packet(round, 0xa0 + n as u8), e2.local).unwrap();
            b.send_to(&packet(round, 0xb0 + n as u8), e1.local).unwrap();
        }
    }
    rig.pump_until(|r| r.stats().sent >= 120);
    for round in 0..20u32 {
        for (n, ((a, b), (e1, e2))) in phones.iter().zip(&calls).enumerate() {
            assert_eq!(recv(b), (packet(round, 0xa0 + n as u8).to_vec(), e1.local));
            assert_eq!(recv(a), (packet(round, 0xb0 + n as u8).to_vec(), e2.local));
        }
    }
    // Ending one call leaves the others relaying.
    assert_eq!(rig.relay.close_call("multi-1@lan"), 2);
    let ((a, b), (_, e2)) = (&phones[2], &calls[2]);
    a.send_to(&packet(99, 0xcc), e2.local).unwrap();
    rig.pump_until(|r| r.stats().sent >= 121);
    assert_eq!(recv(b).0, packet(99, 0xcc).to_vec());
    assert_eq!(rig.relay.table().len(), 4);
}
