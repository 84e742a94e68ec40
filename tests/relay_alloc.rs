//! Proves the relay's socket hot path (`Relay::handle_readable`: recv, table decision, send) never
//! touches the heap (decisions §6). Its own test binary, so the counting global allocator
//! affects nothing else.

use alloc::allocations_during;
use mio::Poll;
use siproxd_rs::net::relay::{mio_token, Relay};
use siproxd_rs::rtp::{StreamDirection, Table, Token};
use std::net::UdpSocket;
use streams::req;

mod alloc;
mod streams;

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

/// Reads everything queued on `s` (outside the measured region).
fn drain(s: &UdpSocket) -> usize {
    let mut buf = [0u8; 2048];
    let mut n = 0;
    while s.recv_from(&mut buf).is_ok() {
        n += 1;
    }
    n
}

#[test]
fn hundred_thousand_relayed_datagrams_allocate_nothing() {
    let poll = Poll::new().unwrap();
    let low = 40_000 + (std::process::id() % 500) as u16 * 40;
    let table = Table::new(8, low, low + 39, 300);
    let mut relay = Relay::new(table, 46, poll.registry().try_clone().unwrap());

    let a = UdpSocket::bind("127.0.0.10:0").unwrap();
    let b = UdpSocket::bind("127.0.0.20:0").unwrap();
    let stranger = UdpSocket::bind("127.0.0.66:0").unwrap();
    for s in [&a, &b] {
        s.set_nonblocking(true).unwrap();
    }
    let a_addr = a.local_addr().unwrap();
    let b_addr = b.local_addr().unwrap();
    let e1 = relay
        .open(
            0,
            &req("alloc@lan", StreamDirection::Incoming, "127.0.0.1", a_addr),
        )
        .unwrap();
    let e2 = relay
        .open(
            0,
            &req("alloc@lan", StreamDirection::Outgoing, "127.0.0.2", b_addr),
        )
        .unwrap();
    let to_e1 = mio_token(Token::rtp(e1.slot));
    let to_e2 = mio_token(Token::rtp(e2.slot));
    let payload = [0x80u8; 172];
    let big = vec![0x55u8; siproxd_rs::limits::RTP_BUFFER + 1];

    let mut allocations = 0;
    let mut read = 0;
    let mut delivered = 0;
    for round in 0..1000u64 {
        // 50 datagrams each way per round, plus (every tenth round) a stranger's datagram and
        // an oversized one: forward, drop and truncate paths all run.
        for _ in 0..50 {
            a.send_to(&payload, e2.local).unwrap();
            b.send_to(&payload, e1.local).unwrap();
        }
        if round % 10 == 0 {
            stranger.send_to(&payload, e2.local).unwrap();
            a.send_to(&big, e2.local).unwrap();
        }
        let (n, r) = allocations_during(|| {
            relay.handle_readable(round, to_e2) + relay.handle_readable(round, to_e1)
        });
        allocations += n;
        read += r;
        delivered += drain(&a) + drain(&b);
    }
    assert_eq!(
        allocations, 0,
        "handle_readable allocated {allocations} times"
    );
    assert_eq!(read, 100_000 + 200);
    let st = *relay.stats();
    assert_eq!(st.received, 100_200);
    assert_eq!(st.sent, 100_100);
    assert_eq!(st.dropped, 100);
    assert_eq!(st.truncated, 100);
    assert_eq!(delivered, 100_100);
}

#[test]
fn relaying_across_ipv4_and_ipv6_allocates_nothing() {
    // Issue 13: a phone on IPv4, a provider on IPv6; each half binds in its side's family.
    let poll = Poll::new().unwrap();
    let low = 50_000 + (std::process::id() % 300) as u16 * 40;
    let table = Table::new(8, low, low + 39, 300);
    let mut relay = Relay::new(table, 46, poll.registry().try_clone().unwrap());
    let a = UdpSocket::bind("127.0.0.11:0").unwrap();
    let b = UdpSocket::bind("[::1]:0").unwrap();
    for s in [&a, &b] {
        s.set_nonblocking(true).unwrap();
    }
    let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    // The half facing the provider (on ::1) sends to the phone; the one facing the phone (on
    // 127.0.0.1) sends to the provider.
    let e1 = relay
        .open(
            0,
            &req("alloc6@lan", StreamDirection::Incoming, "::1", a_addr),
        )
        .unwrap();
    let e2 = relay
        .open(
            0,
            &req("alloc6@lan", StreamDirection::Outgoing, "127.0.0.1", b_addr),
        )
        .unwrap();
    assert!(e1.local.is_ipv6() && e2.local.is_ipv4());
    let (to_e1, to_e2) = (
        mio_token(Token::rtp(e1.slot)),
        mio_token(Token::rtp(e2.slot)),
    );
    let payload = [0x80u8; 172];
    let (mut allocations, mut delivered) = (0, 0);
    for round in 0..200u64 {
        for _ in 0..50 {
            a.send_to(&payload, e2.local).unwrap();
            b.send_to(&payload, e1.local).unwrap();
        }
        let (n, _) = allocations_during(|| {
            relay.handle_readable(round, to_e2) + relay.handle_readable(round, to_e1)
        });
        allocations += n;
        delivered += drain(&a) + drain(&b);
    }
    assert_eq!(
        allocations, 0,
        "handle_readable allocated {allocations} times"
    );
    assert_eq!(delivered, 20_000);
    assert_eq!(relay.stats().sent, 20_000);
}
