//! A call between two phones behind the same proxy, routed through the provider (behaviour §5.4
//! client id, §9.1 "local-to-local calls supported"): one Call-ID crosses the proxy twice, out
//! as alice's leg and back in as dave's, and every message of both legs that comes from the
//! WAN comes from the provider's address. Found by the interop suite (issue 14): the halves of
//! the two legs were taken for one another and the call was silent.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test helpers: a failed set-up panics, as a test should
mod lab;
use lab::*;

use siproxd_rs::rtp::{Token, Verdict};

const DAVE: &str = "192.168.1.11:5060";
const CALL: &str = "hairpin1@192.168.1.10";

/// dave (192.168.1.11) registers through the proxy like alice.
fn register_dave(lab: &mut Lab) {
    let reg = "REGISTER sip:example.com SIP/2.0\nVia: SIP/2.0/UDP 192.168.1.11:5060;branch=z9hG4bKdreg1\nMax-Forwards: 70\nFrom: <sip:dave@example.com>;tag=d1\nTo: <sip:dave@example.com>\nCall-ID: dreg1@192.168.1.11\nCSeq: 1 REGISTER\nContact: <sip:dave@192.168.1.11:5060>;expires=3600\nContent-Length: 0\n\n";
    let out = lab.on_lan(DAVE, reg);
    assert_eq!(out.len(), 1, "REGISTER forwarded: {out:?}");
    let branch =
        String::from_utf8_lossy(out[0].msg().top_via().unwrap().branch().unwrap()).into_owned();
    let ok = format!(
        "SIP/2.0 200 OK\nVia: SIP/2.0/UDP 203.0.113.5:5060;branch={branch}\nVia: SIP/2.0/UDP 192.168.1.11:5060;branch=z9hG4bKdreg1\nFrom: <sip:dave@example.com>;tag=d1\nTo: <sip:dave@example.com>;tag=p2\nCall-ID: dreg1@192.168.1.11\nCSeq: 1 REGISTER\nContact: <sip:dave@203.0.113.5>;expires=3600\nContent-Length: 0\n\n"
    );
    assert_eq!(lab.on_wan(PROVIDER, &ok).len(), 1);
}

fn one(out: Vec<Sent>) -> Sent {
    assert_eq!(out.len(), 1, "exactly one message sent: {out:?}");
    out.into_iter().next().unwrap()
}

/// `c=` address and `m=audio` port of a body.
fn media_of(s: &Sent) -> (String, u16) {
    let body = s.body();
    let c = body
        .lines()
        .find_map(|l| l.trim().strip_prefix("c=IN IP4 "))
        .unwrap_or_else(|| panic!("no c= in {body}"));
    let port = body
        .lines()
        .find_map(|l| l.trim().strip_prefix("m=audio "))
        .and_then(|r| r.split(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no m=audio in {body}"));
    (c.to_string(), port)
}

#[test]
fn a_call_between_two_local_phones_through_the_provider_relays_both_legs() {
    let mut lab = Lab::new();
    lab.register_alice(3600);
    register_dave(&mut lab);

    // Leg 1, out: alice calls dave at the provider.
    let inv = request(
        "INVITE sip:dave@example.com SIP/2.0",
        &format!("Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKh1\nMax-Forwards: 70\nFrom: <sip:alice@example.com>;tag=a1\nTo: <sip:dave@example.com>\nCall-ID: {CALL}\nCSeq: 1 INVITE\nContact: <sip:alice@192.168.1.10:5060>\n"),
        &sdp("192.168.1.10", 4000),
    );
    let out1 = one(lab.on_lan(A, &inv));
    let (c1, p1) = media_of(&out1);
    assert_eq!(c1, "203.0.113.5");

    // Leg 2, in: the provider routes it to dave's registered (masqueraded) contact; its SDP
    // is the proxy's own relay address of leg 1.
    let out1_vias = out1.headers("Via");
    let inv2 = request(
        "INVITE sip:dave@203.0.113.5 SIP/2.0",
        &format!("Via: SIP/2.0/UDP 198.51.100.20:5060;branch=z9hG4bKprov1\nVia: {}\nVia: {}\nRecord-Route: <sip:198.51.100.20;lr>\nMax-Forwards: 69\nFrom: <sip:alice@example.com>;tag=a1\nTo: <sip:dave@example.com>\nCall-ID: {CALL}\nCSeq: 1 INVITE\nContact: <sip:alice@203.0.113.5:5060>\n", out1_vias[0], out1_vias[1]),
        &sdp(&c1, p1),
    );
    let in2 = one(lab.on_wan(PROVIDER, &inv2));
    assert_eq!(in2.to, sa(DAVE));
    let (c2, p2) = media_of(&in2);
    assert_eq!(c2, "192.168.1.1");

    // dave answers; the 200 goes out to the provider...
    let vias = in2.headers("Via");
    let ok2 = format!(
        "SIP/2.0 200 OK\n{}From: <sip:alice@example.com>;tag=a1\nTo: <sip:dave@example.com>;tag=d9\nCall-ID: {CALL}\nCSeq: 1 INVITE\nContact: <sip:dave@192.168.1.11:5060>\nRecord-Route: <sip:198.51.100.20;lr>\nContent-Type: application/sdp\nContent-Length: {}\n\n{}",
        vias.iter().map(|v| format!("Via: {v}\n")).collect::<String>(),
        crlf(&sdp("192.168.1.11", 6000)).len(),
        sdp("192.168.1.11", 6000)
    );
    let out2 = one(lab.on_lan(DAVE, &ok2));
    assert_eq!(out2.to, sa(PROVIDER));
    let (c3, p3) = media_of(&out2);
    assert_eq!(c3, "203.0.113.5");

    // ...and comes back in from the provider as the answer of leg 1, to alice.
    let back_vias: Vec<String> = out2.headers("Via").into_iter().skip(1).collect();
    let ok1 = format!(
        "SIP/2.0 200 OK\n{}From: <sip:alice@example.com>;tag=a1\nTo: <sip:dave@example.com>;tag=d9\nCall-ID: {CALL}\nCSeq: 1 INVITE\nContact: <sip:dave@203.0.113.5:5060>\nRecord-Route: <sip:198.51.100.20;lr>\nContent-Type: application/sdp\nContent-Length: {}\n\n{}",
        back_vias.iter().map(|v| format!("Via: {v}\n")).collect::<String>(),
        crlf(&sdp(&c3, p3)).len(),
        sdp(&c3, p3)
    );
    let in1 = one(lab.on_wan(PROVIDER, &ok1));
    assert_eq!(in1.to, sa(A));
    let (c4, p4) = media_of(&in1);
    assert_eq!(c4, "192.168.1.1");

    // Four halves on four ports: each leg has its own pair.
    let ports = [p1, p2, p3, p4];
    for (i, p) in ports.iter().enumerate() {
        assert!(
            !ports[..i].contains(p),
            "relay ports {ports:?}: one half serves two legs"
        );
    }
    assert_eq!(lab.media.table.len(), 4, "one relay half per leg and side");

    // alice's audio: LAN half of leg 1 → WAN half p1 sends it to the provider's address for
    // leg 1 (the proxy's own WAN port p3 of leg 2), where leg 2 relays it to dave; and back.
    let half = |local: &str| {
        lab.media
            .table
            .halves()
            .find(|(_, h)| h.local() == sa(local))
            .map(|(s, _)| s)
            .unwrap_or_else(|| panic!("no relay half on {local}"))
    };
    let (lan1, wan1) = (
        half(&format!("192.168.1.1:{p4}")),
        half(&format!("203.0.113.5:{p1}")),
    );
    let (lan2, wan2) = (
        half(&format!("192.168.1.1:{p2}")),
        half(&format!("203.0.113.5:{p3}")),
    );
    let now = lab.now;
    assert_eq!(
        lab.media
            .table
            .on_packet(now, Token::rtp(lan1), sa("192.168.1.10:4000"), 160),
        Verdict::Forward {
            out: Token::rtp(wan1),
            dst: sa(&format!("203.0.113.5:{p3}"))
        },
        "alice → leg 1 → towards the provider's SDP address of leg 1"
    );
    assert_eq!(
        lab.media
            .table
            .on_packet(now, Token::rtp(wan2), sa(&format!("203.0.113.5:{p1}")), 160),
        Verdict::Forward {
            out: Token::rtp(lan2),
            dst: sa("192.168.1.11:6000")
        },
        "leg 2 → dave"
    );
    assert_eq!(
        lab.media
            .table
            .on_packet(now, Token::rtp(lan2), sa("192.168.1.11:6000"), 160),
        Verdict::Forward {
            out: Token::rtp(wan2),
            dst: sa(&format!("203.0.113.5:{p1}"))
        },
        "dave → leg 2 → towards leg 1's WAN port"
    );
    assert_eq!(
        lab.media
            .table
            .on_packet(now, Token::rtp(wan1), sa(&format!("203.0.113.5:{p3}")), 160),
        Verdict::Forward {
            out: Token::rtp(lan1),
            dst: sa("192.168.1.10:4000")
        },
        "leg 1 → alice"
    );
}
