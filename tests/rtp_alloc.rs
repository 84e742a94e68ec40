//! Proves the RTP hot path (`Table::on_packet`) never touches the heap (decisions §6).
//! Its own test binary, so the counting global allocator affects nothing else.
#![allow(clippy::unwrap_used)] // test helpers: a failed set-up panics, as a test should

use alloc::allocations_during;
use siproxd_rs::rtp::{
    ClientId, RelaySockets, SlotId, StreamDirection, StreamRequest, Table, Token, Verdict,
};
use std::net::SocketAddr;

mod alloc;

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

struct Binds;

impl RelaySockets for Binds {
    fn open_pair(&mut self, _: SlotId, _: SocketAddr) -> bool {
        true
    }
    fn close_pair(&mut self, _: SlotId, _: SocketAddr) {}
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn hundred_thousand_packets_allocate_nothing() {
    let mut table = Table::new(1024, 7070, 9069, 300);
    let mut binds = Binds;
    let mut calls = Vec::new();
    for n in 0..100 {
        let call_id = format!("call-{n}@example.com");
        let a = sa(&format!("192.168.1.{}:4000", 10 + n));
        let b = sa(&format!("198.51.100.{}:5000", 10 + n));
        let e1 = table
            .open(
                0,
                &StreamRequest {
                    call_id: &call_id,
                    client_id: ClientId::new("alice@example.com", a.ip()),
                    cseq: 1,
                    stream_dir: StreamDirection::Incoming,
                    call_dir: StreamDirection::Outgoing,
                    media_index: 0,
                    local_ip: "203.0.113.5".parse().unwrap(),
                    remote: a,
                    remote_rtcp_port: None,
                    media_info: None,
                },
                &mut binds,
            )
            .unwrap();
        let e2 = table
            .open(
                0,
                &StreamRequest {
                    call_id: &call_id,
                    client_id: ClientId::new("bob@example.net", b.ip()),
                    cseq: 1,
                    stream_dir: StreamDirection::Outgoing,
                    call_dir: StreamDirection::Outgoing,
                    media_index: 0,
                    local_ip: "192.168.1.1".parse().unwrap(),
                    remote: b,
                    remote_rtcp_port: None,
                    media_info: None,
                },
                &mut binds,
            )
            .unwrap();
        calls.push((e1.slot, e2.slot, a, b));
    }
    let evil = sa("192.0.2.66:6666");

    let mut forwarded = 0u32;
    let mut dropped = 0u32;
    let (n, ()) = allocations_during(|| {
        for i in 0..100_000u32 {
            let Some(&(e1, e2, a, b)) = calls.get((i % 100) as usize) else {
                continue;
            };
            let now = u64::from(i);
            // Every path of on_packet: forward both ways, RTCP, foreign source, empty,
            // unknown token.
            let (token, src, len) = match i % 8 {
                0 | 1 => (Token::rtp(e2), a, 172),
                2 | 3 => (Token::rtp(e1), b, 172),
                4 => (Token::rtcp(e2), SocketAddr::new(a.ip(), 4001), 80),
                5 => (Token::rtp(e1), evil, 172),
                6 => (Token::rtp(e1), b, 0),
                _ => (Token(u32::MAX), b, 10),
            };
            match table.on_packet(now, token, src, len) {
                Verdict::Forward { .. } => forwarded += 1,
                Verdict::Drop(_) => dropped += 1,
            }
        }
    });
    assert_eq!(n, 0, "on_packet allocated {n} times");
    assert_eq!(forwarded + dropped, 100_000);
    assert_eq!(forwarded, 62_500);
    assert_eq!(dropped, 37_500);
}
