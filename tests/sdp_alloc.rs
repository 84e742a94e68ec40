//! Parsing an SDP body and rewriting it into a caller buffer allocate nothing.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)] // test helpers: a failed set-up panics, as a test should

use alloc::allocations;
use siproxd_rs::sdp::{rewrite_for_relay, Rewriter, Sdp, Section, StreamRewrite};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

mod alloc;

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

const REAL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/real");

fn body(name: &str) -> Vec<u8> {
    let msg = std::fs::read(format!("{REAL}/{name}")).unwrap();
    let i = msg.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    msg[i + 4..].to_vec()
}

/// Parse, read, edit and emit; returns a checksum so nothing is optimised away.
fn work(b: &[u8], out: &mut [u8]) -> usize {
    let sdp = Sdp::parse(b).unwrap();
    let mut sum = sdp.media_count();
    for i in 0..sdp.media_count() {
        let s = sdp.stream(i).unwrap();
        sum += usize::from(s.port) + usize::from(s.is_hold);
        sum += sdp.rtpmaps(i).count() + sdp.payload_types_matching(i, b"g729").count();
        sum += sdp.ice(Section::Media(i)).candidates;
    }
    let v4 = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9));
    let v6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 9));
    let mut streams = [StreamRewrite {
        address: v4,
        rtp_port: 40000,
        rtcp_port: Some(40011),
    }; 4];
    streams[1].address = v6;
    let n = sdp.media_count();
    sum += rewrite_for_relay(&sdp, v6, &streams[..n], true, out).unwrap();
    let mut rw = Rewriter::new(&sdp);
    rw.remove_payload_type(0, sdp.media(0).unwrap().format_list().next().unwrap())
        .ok();
    rw.remove_ice(Section::Session).unwrap();
    sum + rw.emit(out).unwrap()
}

#[test]
fn parse_and_rewrite_allocate_nothing() {
    let bodies = [
        body("ekiga-invite-audio-video.sip"),
        body("sipjs-invite-ice-wss.sip"),
        body("xlite4-invite-ice.sip"),
        body("valid8-invite-ipv6.sip"),
        body("alcatel8001-reinvite-hold.sip"),
    ];
    let mut out = [0u8; 4096];
    // Warm up anything std initialises lazily (thread-local, formatting).
    let mut sum = work(&bodies[0], &mut out);
    let before = allocations();
    for b in &bodies {
        sum += work(b, &mut out);
    }
    let after = allocations();
    assert!(sum > 0);
    assert_eq!(after - before, 0, "allocations during parse/rewrite");
    // The counter does count: a Vec allocates.
    let v = vec![1u8; 16];
    assert_eq!(allocations(), after + 1);
    drop(v);
}
