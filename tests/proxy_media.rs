//! Behaviour §11 tests 43–54 (SDP rewriting and the relay table's decisions) through the
//! proxy core; packet relaying over real sockets is tested in `rtp_*`. Where docs/DECISIONS.md
//! changes an outcome, the new one is asserted and the decision cited.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)] // test helpers: a failed set-up panics, as a test should
mod lab;
use lab::*;

use siproxd_rs::config::Config;
use siproxd_rs::proxy::Addresses;
use siproxd_rs::rtp::{Half, PacketDrop, SlotId, Token, Verdict};

const CALL: &str = "call1@192.168.1.10";

/// A's INVITE to B (CSeq `cseq`, branch `branch`) carrying `body` as SDP.
fn invite(cseq: u32, branch: &str, body: &str) -> String {
    request(
        "INVITE sip:bob@198.51.100.30 SIP/2.0",
        &format!("Via: SIP/2.0/UDP 192.168.1.10:5060;branch={branch}\nMax-Forwards: 70\nFrom: <sip:alice@example.com>;tag=a1\nTo: <sip:bob@example.com>\nCall-ID: {CALL}\nCSeq: {cseq} INVITE\nContact: <sip:alice@192.168.1.10:5060>\n"),
        body,
    )
}

/// A response of B to the forwarded request `fwd`, with an optional SDP body.
fn answer(fwd: &Sent, code: u16, reason: &str, body: &str) -> String {
    let vias = fwd.headers("Via");
    let ct = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/sdp\n"
    };
    format!(
        "SIP/2.0 {code} {reason}\nVia: {}\nVia: {}\nFrom: {}\nTo: <sip:bob@example.com>;tag=b1\nCall-ID: {}\nCSeq: {}\nContact: <sip:bob@198.51.100.30:5060>\n{ct}Content-Length: {}\n\n{body}",
        vias[0],
        vias[1],
        fwd.header("From").unwrap(),
        fwd.header("Call-ID").unwrap(),
        fwd.header("CSeq").unwrap(),
        crlf(body).len()
    )
}

fn one(out: Vec<Sent>) -> Sent {
    assert_eq!(out.len(), 1, "exactly one message sent: {out:?}");
    out.into_iter().next().unwrap()
}

fn registered(cfg: Config) -> Lab {
    let mut lab = Lab::with(cfg);
    lab.register_alice(3600);
    lab
}

fn half_at(lab: &Lab, local: &str) -> (SlotId, Half) {
    lab.media
        .table
        .halves()
        .find(|(_, h)| h.local() == sa(local))
        .map(|(s, h)| (s, h.clone()))
        .unwrap_or_else(|| panic!("no relay half on {local}"))
}

fn body_lines(s: &Sent) -> Vec<&str> {
    s.body().split("\r\n").filter(|l| !l.is_empty()).collect()
}

/// Tests 43 + 44: A calls B and B answers; returns (forwarded INVITE, 200 as delivered to A).
fn call_set_up(lab: &mut Lab) -> (Sent, Sent) {
    let fwd = one(lab.on_lan(A, &invite(1, "z9hG4bKinv1", &sdp("192.168.1.10", 4000))));
    let ok = one(lab.on_wan(B, &answer(&fwd, 200, "OK", &sdp("198.51.100.30", 5000))));
    (fwd, ok)
}

#[test]
fn t43_outgoing_invite_sdp_gets_public_address_and_first_port() {
    let mut lab = registered(Lab::config());
    let fwd = one(lab.on_lan(A, &invite(1, "z9hG4bKinv1", &sdp("192.168.1.10", 4000))));
    assert_eq!(fwd.to, sa(B));
    assert_eq!(
        body_lines(&fwd),
        vec![
            "v=0",
            "o=- 1 1 IN IP4 203.0.113.5",
            "s=-",
            "c=IN IP4 203.0.113.5",
            "t=0 0",
            "m=audio 7070 RTP/AVP 0",
            "a=rtpmap:0 PCMU/8000"
        ]
    );
    assert_eq!(
        fwd.header("Content-Length").unwrap(),
        fwd.body().len().to_string()
    );
    let (_, h) = half_at(&lab, "203.0.113.5:7070");
    assert_eq!(
        h.remote(),
        sa("192.168.1.10:4000"),
        "media on 7070 goes to A"
    );
    assert_eq!(lab.media.sockets.open_pairs, 1, "7070/7071 bound");
}

#[test]
fn t44_answer_sdp_gets_inbound_address_and_next_port() {
    let mut lab = registered(Lab::config());
    let (_, ok) = call_set_up(&mut lab);
    assert_eq!(ok.to, sa(A));
    let lines = body_lines(&ok);
    assert!(lines.contains(&"c=IN IP4 192.168.1.1"), "{lines:?}");
    assert!(lines.contains(&"o=- 1 1 IN IP4 192.168.1.1"), "{lines:?}");
    assert!(lines.contains(&"m=audio 7072 RTP/AVP 0"), "{lines:?}");
    assert_eq!(
        ok.header("Content-Length").unwrap(),
        ok.body().len().to_string()
    );
    let (_, h) = half_at(&lab, "192.168.1.1:7072");
    assert_eq!(
        h.remote(),
        sa("198.51.100.30:5000"),
        "media on 7072 goes to B"
    );
    assert_eq!(lab.media.sockets.open_pairs, 2);
}

#[test]
fn t45_relay_decisions_and_latching() {
    let mut lab = registered(Lab::config());
    call_set_up(&mut lab);
    let (wan, _) = half_at(&lab, "203.0.113.5:7070");
    let (lan, _) = half_at(&lab, "192.168.1.1:7072");
    let now = lab.now;
    let t = &mut lab.media.table;
    // A → 192.168.1.1:7072 leaves from 203.0.113.5:7070 to B.
    assert_eq!(
        t.on_packet(now, Token::rtp(lan), sa("192.168.1.10:4000"), 160),
        Verdict::Forward {
            out: Token::rtp(wan),
            dst: sa("198.51.100.30:5000")
        }
    );
    // B → 203.0.113.5:7070 leaves from 192.168.1.1:7072 to A.
    assert_eq!(
        t.on_packet(now, Token::rtp(wan), sa("198.51.100.30:5000"), 160),
        Verdict::Forward {
            out: Token::rtp(lan),
            dst: sa("192.168.1.10:4000")
        }
    );
    // RTCP to 7073 leaves from 7071 to B's port + 1.
    assert_eq!(
        t.on_packet(now, Token::rtcp(lan), sa("192.168.1.10:4001"), 80),
        Verdict::Forward {
            out: Token::rtcp(wan),
            dst: sa("198.51.100.30:5001")
        }
    );
    // Decisions §6 (not siproxd's "no source filtering"): once B's source is latched, a
    // datagram from an unrelated host to 7070 is dropped, not forwarded to A.
    assert_eq!(
        t.on_packet(now + 100, Token::rtp(wan), sa("198.51.100.99:5000"), 160),
        Verdict::Drop(PacketDrop::ForeignSource)
    );
}

#[test]
fn t46_retransmission_and_reinvite_keep_the_relay_port() {
    let mut lab = registered(Lab::config());
    let (_, _) = call_set_up(&mut lab);
    let pairs = lab.media.sockets.open_pairs;
    let again = one(lab.on_lan(A, &invite(1, "z9hG4bKinv1", &sdp("192.168.1.10", 4000))));
    assert!(body_lines(&again).contains(&"m=audio 7070 RTP/AVP 0"));
    assert_eq!(lab.media.sockets.open_pairs, pairs, "no new port bound");
    let re = one(lab.on_lan(A, &invite(2, "z9hG4bKinv2", &sdp("192.168.1.10", 4002))));
    assert!(
        body_lines(&re).contains(&"m=audio 7070 RTP/AVP 0"),
        "{}",
        re.body()
    );
    assert_eq!(lab.media.sockets.open_pairs, pairs);
    let (wan, h) = half_at(&lab, "203.0.113.5:7070");
    assert_eq!(h.remote(), sa("192.168.1.10:4002"));
    let (lan, _) = half_at(&lab, "192.168.1.1:7072");
    let now = lab.now;
    assert_eq!(
        lab.media
            .table
            .on_packet(now, Token::rtp(wan), sa("198.51.100.30:5000"), 160),
        Verdict::Forward {
            out: Token::rtp(lan),
            dst: sa("192.168.1.10:4002")
        },
        "B's media now goes to A's new port"
    );
}

#[test]
fn t47_hold_keeps_session_c_zero_and_rewrites_the_port() {
    let mut lab = registered(Lab::config());
    call_set_up(&mut lab);
    let hold = "v=0\no=- 1 2 IN IP4 192.168.1.10\ns=-\nc=IN IP4 0.0.0.0\nt=0 0\nm=audio 4000 RTP/AVP 0\na=sendonly\n";
    let re = one(lab.on_lan(A, &invite(2, "z9hG4bKinv2", hold)));
    let lines = body_lines(&re);
    assert!(lines.contains(&"c=IN IP4 0.0.0.0"), "{lines:?}");
    assert!(lines.contains(&"m=audio 7070 RTP/AVP 0"), "{lines:?}");
    assert!(lines.contains(&"a=sendonly"), "{lines:?}");
    assert!(!re.body().contains("192.168.1.10"), "{lines:?}");
    // Behaviour §5.5: the session-level 0.0.0.0 becomes the remote address: B's media is
    // not sent anywhere while A holds; after the unhold it reaches A again.
    let (wan, h) = half_at(&lab, "203.0.113.5:7070");
    assert!(h.remote().ip().is_unspecified(), "{:?}", h.remote());
    let (lan, _) = half_at(&lab, "192.168.1.1:7072");
    let now = lab.now;
    let v = lab
        .media
        .table
        .on_packet(now, Token::rtp(wan), sa("198.51.100.30:5000"), 160);
    assert!(matches!(v, Verdict::Drop(_)), "{v:?}");
    let un = one(lab.on_lan(A, &invite(3, "z9hG4bKinv3", &sdp("192.168.1.10", 4000))));
    assert!(body_lines(&un).contains(&"m=audio 7070 RTP/AVP 0"));
    assert_eq!(
        lab.media
            .table
            .on_packet(now + 20, Token::rtp(wan), sa("198.51.100.30:5000"), 160),
        Verdict::Forward {
            out: Token::rtp(lan),
            dst: sa("192.168.1.10:4000")
        }
    );
}

#[test]
fn t48_disabled_stream_keeps_port_0() {
    let mut lab = registered(Lab::config());
    let body = "v=0\no=- 1 1 IN IP4 192.168.1.10\ns=-\nc=IN IP4 192.168.1.10\nt=0 0\nm=audio 4000 RTP/AVP 0\nm=video 0 RTP/AVP 31\n";
    let fwd = one(lab.on_lan(A, &invite(1, "z9hG4bKinv1", body)));
    let lines = body_lines(&fwd);
    assert!(lines.contains(&"m=audio 7070 RTP/AVP 0"), "{lines:?}");
    assert!(lines.contains(&"m=video 0 RTP/AVP 31"), "{lines:?}");
    assert_eq!(lab.media.sockets.open_pairs, 1, "no socket for port 0");
    assert_eq!(lab.media.table.len(), 1);
}

#[test]
fn t48_ipv6_origin_line() {
    // Decisions §6 replaces siproxd's "IPv6 o= → original body forwarded": the o= line only
    // names the session's creator, so the core rewrites it to the relay's own (IPv4) address
    // like an IPv4 one and relays the IPv4 media — the body is fully rewritten, never half.
    let mut lab = registered(Lab::config());
    let body =
        "v=0\no=- 1 1 IN IP6 ::1\ns=-\nc=IN IP4 192.168.1.10\nt=0 0\nm=audio 4000 RTP/AVP 0\n";
    let out = lab.on_lan(A, &invite(1, "z9hG4bKinv1", body));
    let fwd = one(out);
    assert_eq!(fwd.to, sa(B), "{}", fwd.text);
    let lines = body_lines(&fwd);
    assert!(lines.contains(&"o=- 1 1 IN IP4 203.0.113.5"), "{lines:?}");
    assert!(lines.contains(&"c=IN IP4 203.0.113.5"), "{lines:?}");
    assert!(lines.contains(&"m=audio 7070 RTP/AVP 0"), "{lines:?}");
}

#[test]
fn t49_bye_from_a_releases_the_calls_ports() {
    let mut lab = registered(Lab::config());
    call_set_up(&mut lab);
    let (wan, _) = half_at(&lab, "203.0.113.5:7070");
    let bye = request(
        "BYE sip:bob@198.51.100.30:5060 SIP/2.0",
        &format!("Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKbye1\nMax-Forwards: 70\nFrom: <sip:alice@example.com>;tag=a1\nTo: <sip:bob@example.com>;tag=b1\nCall-ID: {CALL}\nCSeq: 2 BYE\n"),
        "",
    );
    let f = one(lab.on_lan(A, &bye));
    assert_eq!(f.to, sa(B));
    assert!(lab.media.table.is_empty());
    assert_eq!(lab.media.sockets.open_pairs, 0);
    let now = lab.now;
    assert!(matches!(
        lab.media
            .table
            .on_packet(now, Token::rtp(wan), sa("198.51.100.30:5000"), 160),
        Verdict::Drop(_)
    ));
}

#[test]
fn t49_bye_from_b_releases_the_calls_ports() {
    let mut lab = registered(Lab::config());
    call_set_up(&mut lab);
    let bye = request(
        "BYE sip:alice@203.0.113.5 SIP/2.0",
        &format!("Via: SIP/2.0/UDP 198.51.100.30:5060;branch=z9hG4bKbbye\nMax-Forwards: 70\nFrom: <sip:bob@example.com>;tag=b1\nTo: <sip:alice@example.com>;tag=a1\nCall-ID: {CALL}\nCSeq: 7 BYE\n"),
        "",
    );
    let f = one(lab.on_wan(B, &bye));
    assert_eq!(f.to, sa(A));
    assert!(lab.media.table.is_empty());
    assert_eq!(lab.media.sockets.open_pairs, 0);
}

#[test]
fn t49_round_robin_reuses_7070_after_wrapping() {
    let mut lab = registered(Lab::config());
    // 7070..=7088 holds ten pairs per address; every call uses one on O.
    let mut ports = Vec::new();
    for n in 0..11 {
        let text = invite(1, &format!("z9hG4bKrr{n}"), &sdp("192.168.1.10", 4000))
            .replace(CALL, &format!("rr{n}@192.168.1.10"));
        let f = one(lab.on_lan(A, &text));
        let m = body_lines(&f)
            .into_iter()
            .find(|l| l.starts_with("m=audio "))
            .unwrap()
            .to_string();
        ports.push(m);
        if n == 0 {
            // Free the first call's port with a BYE; the cursor moves on regardless.
            let bye = request(
                "BYE sip:bob@198.51.100.30 SIP/2.0",
                "Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKrrbye\nMax-Forwards: 70\nFrom: <sip:alice@example.com>;tag=a1\nTo: <sip:bob@example.com>;tag=b1\nCall-ID: rr0@192.168.1.10\nCSeq: 2 BYE\n",
                "",
            );
            one(lab.on_lan(A, &bye));
        }
    }
    assert_eq!(ports[0], "m=audio 7070 RTP/AVP 0");
    assert_eq!(ports[1], "m=audio 7072 RTP/AVP 0");
    assert_eq!(ports[9], "m=audio 7088 RTP/AVP 0");
    assert_eq!(ports[10], "m=audio 7070 RTP/AVP 0", "{ports:?}");
}

#[test]
fn t50_error_responses_release_streams_up_to_their_cseq() {
    let mut lab = registered(Lab::config());
    let fwd = one(lab.on_lan(A, &invite(1, "z9hG4bKinv1", &sdp("192.168.1.10", 4000))));
    assert_eq!(lab.media.table.len(), 1);
    let r = one(lab.on_wan(B, &answer(&fwd, 486, "Busy Here", "")));
    assert_eq!(r.to, sa(A));
    assert!(lab.media.table.is_empty(), "486 released the streams");

    // 407 for CSeq 1, the INVITE re-sent as CSeq 2 succeeds, a late 407 for CSeq 1 arrives.
    let mut lab = registered(Lab::config());
    let f1 = one(lab.on_lan(A, &invite(1, "z9hG4bKinv1", &sdp("192.168.1.10", 4000))));
    one(lab.on_wan(B, &answer(&f1, 407, "Proxy Authentication Required", "")));
    let f2 = one(lab.on_lan(A, &invite(2, "z9hG4bKinv2", &sdp("192.168.1.10", 4000))));
    one(lab.on_wan(B, &answer(&f2, 200, "OK", &sdp("198.51.100.30", 5000))));
    assert_eq!(lab.media.table.len(), 2);
    one(lab.on_wan(B, &answer(&f1, 407, "Proxy Authentication Required", "")));
    assert_eq!(lab.media.table.len(), 2, "CSeq-2 streams unaffected");
    let (wan, _) = half_at(&lab, "203.0.113.5:7072");
    let now = lab.now;
    assert!(matches!(
        lab.media
            .table
            .on_packet(now, Token::rtp(wan), sa("198.51.100.30:5000"), 160),
        Verdict::Forward { .. }
    ));
}

#[test]
fn t51_silent_streams_expire_one_way_rtp_keeps_both() {
    let mut cfg = Lab::config();
    cfg.rtp_timeout = 20;
    let mut lab = registered(cfg.clone());
    call_set_up(&mut lab);
    let start = lab.now;
    let t = &mut lab.media.table;
    assert_eq!(t.expire(start + 19_000, &mut lab.media.sockets), 0);
    assert!(t.next_deadline().is_some_and(|d| d <= start + 20_000));
    assert_eq!(t.expire(start + 20_000, &mut lab.media.sockets), 2);
    assert!(t.is_empty());
    assert_eq!(lab.media.sockets.open_pairs, 0);

    // One-way audio from A only.
    let mut lab = registered(cfg);
    call_set_up(&mut lab);
    let (lan, _) = half_at(&lab, "192.168.1.1:7072");
    let start = lab.now;
    for s in 1..=6u64 {
        let now = start + s * 10_000;
        let v = lab
            .media
            .table
            .on_packet(now, Token::rtp(lan), sa("192.168.1.10:4000"), 160);
        assert!(matches!(v, Verdict::Forward { .. }), "{v:?}");
        assert_eq!(
            lab.media.table.expire(now + 5_000, &mut lab.media.sockets),
            0
        );
    }
    assert_eq!(lab.media.table.len(), 2);
}

#[test]
fn t52_ports_in_order_even_only_and_exhaustion_answers_503() {
    let mut cfg = Lab::config();
    cfg.rtp_port_low = 7071;
    cfg.rtp_port_high = 7075;
    let mut lab = registered(cfg);
    let call = |lab: &mut Lab, n: u32| {
        let text = invite(1, &format!("z9hG4bKp{n}"), &sdp("192.168.1.10", 4000))
            .replace(CALL, &format!("p{n}@192.168.1.10"));
        lab.on_lan(A, &text)
    };
    let f = one(call(&mut lab, 1));
    assert!(
        body_lines(&f).contains(&"m=audio 7072 RTP/AVP 0"),
        "7071 rounds up to 7072"
    );
    let f = one(call(&mut lab, 2));
    assert!(body_lines(&f).contains(&"m=audio 7074 RTP/AVP 0"));
    for (_, h) in lab.media.table.halves() {
        assert_eq!(h.local().port() % 2, 0);
    }
    // Decisions §6: range exhausted → the INVITE is answered 503 and nothing is forwarded
    // (siproxd kept the old m= port with a rewritten c=).
    let out = call(&mut lab, 3);
    let r = one(out);
    assert_eq!(r.to, sa(A));
    assert_eq!(r.status(), Some(503), "{}", r.text);
    assert_eq!(lab.media.table.len(), 2, "nothing half-opened");
}

#[test]
fn t53_relay_disabled_leaves_sdp_byte_identical() {
    let mut cfg = Lab::config();
    cfg.rtp_proxy_enable = 0;
    let mut lab = registered(cfg);
    let offer = sdp("192.168.1.10", 4000);
    let fwd = one(lab.on_lan(A, &invite(1, "z9hG4bKinv1", &offer)));
    assert_eq!(fwd.body().as_bytes(), crlf(&offer).as_slice());
    let answer_sdp = sdp("198.51.100.30", 5000);
    let ok = one(lab.on_wan(B, &answer(&fwd, 200, "OK", &answer_sdp)));
    assert_eq!(ok.body().as_bytes(), crlf(&answer_sdp).as_slice());
    assert!(lab.media.table.is_empty());
    assert_eq!(lab.media.sockets.open_pairs, 0);
}

#[test]
fn t54_host_outbound_is_advertised_while_binding_the_real_address() {
    let mut cfg = Lab::config();
    cfg.if_outbound = Some(I.into());
    cfg.host_outbound = Some("198.51.100.200".into());
    let mut lab = Lab::with(cfg);
    lab.proxy.set_addresses(Addresses::new(ip(I), Some(ip(I))));
    let reg = one(lab.on_lan(
        A,
        &register(
            "sip:example.com",
            "<sip:alice@192.168.1.10:5060>;expires=3600",
            "",
        ),
    ));
    assert_eq!(
        reg.headers("Contact"),
        vec!["<sip:alice@198.51.100.200>;expires=3600"]
    );
    let via = reg.headers("Via")[0].clone();
    assert!(via.starts_with("SIP/2.0/UDP 198.51.100.200:5060;"), "{via}");
    let ok = format!(
        "SIP/2.0 200 OK\nVia: {via}\nVia: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKreg1\nFrom: <sip:alice@example.com>;tag=r1\nTo: <sip:alice@example.com>;tag=p1\nCall-ID: reg1@192.168.1.10\nCSeq: 1 REGISTER\nContact: <sip:alice@198.51.100.200>;expires=600\nContent-Length: 0\n\n"
    );
    one(lab.on_wan(PROVIDER, &ok));

    let fwd = one(lab.on_lan(A, &invite(1, "z9hG4bKinv1", &sdp("192.168.1.10", 4000))));
    assert_eq!(fwd.from, ip(I), "sent from the real interface address");
    assert!(
        fwd.headers("Via")[0].starts_with("SIP/2.0/UDP 198.51.100.200:5060;branch="),
        "{:?}",
        fwd.headers("Via")
    );
    assert_eq!(fwd.headers("Contact"), vec!["<sip:alice@198.51.100.200>"]);
    let lines = body_lines(&fwd);
    assert!(
        lines.contains(&"o=- 1 1 IN IP4 198.51.100.200"),
        "{lines:?}"
    );
    assert!(lines.contains(&"c=IN IP4 198.51.100.200"), "{lines:?}");
    assert!(lines.contains(&"m=audio 7070 RTP/AVP 0"), "{lines:?}");
    let (_, h) = half_at(&lab, "192.168.1.1:7070");
    assert_eq!(h.remote(), sa("192.168.1.10:4000"));
}

#[test]
fn t48_ipv6_media_address_is_answered_488() {
    // Decisions §6: the relay has no IPv6 address here, so IPv6 media cannot be relayed: the
    // INVITE is answered 488 and nothing is forwarded or opened.
    let mut lab = registered(Lab::config());
    let body = "v=0\no=- 1 1 IN IP6 2001:db8::10\ns=-\nc=IN IP6 2001:db8::10\nt=0 0\nm=audio 4000 RTP/AVP 0\n";
    let r = one(lab.on_lan(A, &invite(1, "z9hG4bKinv1", body)));
    assert_eq!(r.to, sa(A));
    assert_eq!(r.status(), Some(488), "{}", r.text);
    assert!(lab.media.table.is_empty());
}

#[test]
fn t52_all_or_nothing_when_a_later_stream_finds_no_port() {
    // Two port pairs, three streams: the first two open, the third fails. Decisions §6: the
    // call is answered 503 and the two opened streams are closed again.
    let mut cfg = Lab::config();
    cfg.rtp_port_low = 7070;
    cfg.rtp_port_high = 7073;
    let mut lab = registered(cfg);
    let body = "v=0\no=- 1 1 IN IP4 192.168.1.10\ns=-\nc=IN IP4 192.168.1.10\nt=0 0\nm=audio 4000 RTP/AVP 0\nm=video 4002 RTP/AVP 31\nm=audio 4004 RTP/AVP 0\n";
    let r = one(lab.on_lan(A, &invite(1, "z9hG4bKinv1", body)));
    assert_eq!(r.status(), Some(503), "{}", r.text);
    assert!(lab.media.table.is_empty());
    assert_eq!(lab.media.sockets.open_pairs, 0);
    // With one stream less the same call goes through.
    let body = "v=0\no=- 1 1 IN IP4 192.168.1.10\ns=-\nc=IN IP4 192.168.1.10\nt=0 0\nm=audio 4000 RTP/AVP 0\nm=video 4002 RTP/AVP 31\n";
    let f = one(lab.on_lan(A, &invite(1, "z9hG4bKinv2", body)));
    assert_eq!(f.to, sa(B));
    assert_eq!(lab.media.table.len(), 2);
}

#[test]
fn t49_cancel_releases_the_calls_ports() {
    let mut lab = registered(Lab::config());
    let inv = one(lab.on_lan(A, &invite(1, "z9hG4bKinv1", &sdp("192.168.1.10", 4000))));
    assert_eq!(lab.media.table.len(), 1);
    let cancel = request(
        "CANCEL sip:bob@198.51.100.30 SIP/2.0",
        &format!("Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKinv1\nMax-Forwards: 70\nFrom: <sip:alice@example.com>;tag=a1\nTo: <sip:bob@example.com>\nCall-ID: {CALL}\nCSeq: 1 CANCEL\n"),
        "",
    );
    let f = one(lab.on_lan(A, &cancel));
    assert_eq!(f.to, sa(B));
    // Behaviour §4.10.3: the CANCEL gets the INVITE's branch.
    assert_eq!(f.headers("Via")[0], inv.headers("Via")[0]);
    assert!(lab.media.table.is_empty());
}

#[test]
fn t44_provisional_183_with_sdp_is_rewritten_and_the_200_reuses_its_port() {
    let mut lab = registered(Lab::config());
    let fwd = one(lab.on_lan(A, &invite(1, "z9hG4bKinv1", &sdp("192.168.1.10", 4000))));
    let early = one(lab.on_wan(
        B,
        &answer(&fwd, 183, "Session Progress", &sdp("198.51.100.30", 5000)),
    ));
    assert!(
        body_lines(&early).contains(&"m=audio 7072 RTP/AVP 0"),
        "{}",
        early.body()
    );
    let ok = one(lab.on_wan(B, &answer(&fwd, 200, "OK", &sdp("198.51.100.30", 5000))));
    assert!(
        body_lines(&ok).contains(&"m=audio 7072 RTP/AVP 0"),
        "{}",
        ok.body()
    );
    assert_eq!(lab.media.table.len(), 2);
}

#[test]
fn t41_obscured_call_keeps_one_relay_call_id() {
    // Behaviour §4.10.7: RTP bookkeeping uses the original Call-ID on both legs, so the two
    // halves pair although the Internet side sees the obscured one.
    let mut cfg = Lab::config();
    cfg.obscure_loops = true;
    let mut lab = registered(cfg);
    let (fwd, ok) = call_set_up(&mut lab);
    assert_eq!(
        fwd.header("Call-ID").unwrap(),
        "call1-siproxda1@192.168.1.10"
    );
    assert_eq!(ok.header("Call-ID").unwrap(), CALL);
    let (wan, w) = half_at(&lab, "203.0.113.5:7070");
    let (lan, l) = half_at(&lab, "192.168.1.1:7072");
    assert_eq!(w.call_id(), CALL);
    assert_eq!(l.call_id(), CALL);
    assert_eq!(w.peer(), Some(lan));
    assert_eq!(l.peer(), Some(wan));
    // B's BYE carries the obscured Call-ID and still releases the call's ports.
    let bye = request(
        "BYE sip:alice@203.0.113.5 SIP/2.0",
        "Via: SIP/2.0/UDP 198.51.100.30:5060;branch=z9hG4bKbbye\nMax-Forwards: 70\nFrom: <sip:bob@example.com>;tag=b1\nTo: <sip:alice@example.com>;tag=a1\nCall-ID: call1-siproxda1@192.168.1.10\nCSeq: 7 BYE\n",
        "",
    );
    let f = one(lab.on_wan(B, &bye));
    assert_eq!(f.header("Call-ID").unwrap(), CALL);
    assert!(lab.media.table.is_empty());
}

#[test]
fn t54_every_stream_advertises_host_outbound() {
    // Behaviour §5.3 quirk fixed: later streams' media-level c= do not fall back to the real
    // address.
    let mut cfg = Lab::config();
    cfg.if_outbound = Some(I.into());
    cfg.host_outbound = Some("198.51.100.200".into());
    let mut lab = Lab::with(cfg);
    lab.proxy.set_addresses(Addresses::new(ip(I), Some(ip(I))));
    // A request from the loopback is outgoing without a registration (behaviour test 25).
    let body = "v=0\no=- 1 1 IN IP4 192.168.1.10\ns=-\nt=0 0\nm=audio 4000 RTP/AVP 0\nc=IN IP4 192.168.1.10\nm=video 4002 RTP/AVP 31\nc=IN IP4 192.168.1.10\n";
    let text = invite(1, "z9hG4bKinv1", body).replace(
        "Via: SIP/2.0/UDP 192.168.1.10:5060",
        "Via: SIP/2.0/UDP 127.0.0.1:5060",
    );
    let fwd = one(lab.on_lan("127.0.0.1:5060", &text));
    let lines = body_lines(&fwd);
    assert_eq!(
        lines
            .iter()
            .filter(|l| **l == "c=IN IP4 198.51.100.200")
            .count(),
        2,
        "{lines:?}"
    );
    assert!(!fwd.body().contains("192.168.1."), "{lines:?}");
    for (_, h) in lab.media.table.halves() {
        assert_eq!(h.local().ip(), ip(I));
    }
    assert_eq!(lab.media.table.len(), 2);
}

#[test]
fn t44_incoming_call_is_relayed_the_same_way() {
    // The mirror of tests 43–45: B calls A.
    let mut lab = registered(Lab::config());
    let inv = request(
        "INVITE sip:alice@203.0.113.5 SIP/2.0",
        "Via: SIP/2.0/UDP 198.51.100.30:5060;branch=z9hG4bKbinv\nMax-Forwards: 70\nFrom: <sip:bob@example.com>;tag=b1\nTo: <sip:alice@example.com>\nCall-ID: in1@198.51.100.30\nCSeq: 1 INVITE\nContact: <sip:bob@198.51.100.30:5060>\n",
        &sdp("198.51.100.30", 5000),
    );
    let f = one(lab.on_wan(B, &inv));
    assert_eq!(f.to, sa(A));
    let lines = body_lines(&f);
    assert!(lines.contains(&"c=IN IP4 192.168.1.1"), "{lines:?}");
    assert!(lines.contains(&"m=audio 7070 RTP/AVP 0"), "{lines:?}");
    let vias = f.headers("Via");
    let body = crlf(&sdp("192.168.1.10", 4000));
    let ok = format!(
        "SIP/2.0 200 OK\nVia: {}\nVia: {}\nFrom: <sip:bob@example.com>;tag=b1\nTo: <sip:alice@example.com>;tag=a9\nCall-ID: in1@198.51.100.30\nCSeq: 1 INVITE\nContact: <sip:alice@192.168.1.10:5060>\nContent-Type: application/sdp\nContent-Length: {}\n\n{}",
        vias[0],
        vias[1],
        body.len(),
        sdp("192.168.1.10", 4000)
    );
    let r = one(lab.on_lan(A, &ok));
    assert_eq!(r.to, sa(B));
    assert_eq!(r.from, ip(O));
    let lines = body_lines(&r);
    assert!(lines.contains(&"c=IN IP4 203.0.113.5"), "{lines:?}");
    assert!(lines.contains(&"m=audio 7072 RTP/AVP 0"), "{lines:?}");
    let (lan, _) = half_at(&lab, "192.168.1.1:7070");
    let (wan, _) = half_at(&lab, "203.0.113.5:7072");
    let now = lab.now;
    assert_eq!(
        lab.media
            .table
            .on_packet(now, Token::rtp(wan), sa("198.51.100.30:5000"), 160),
        Verdict::Forward {
            out: Token::rtp(lan),
            dst: sa("192.168.1.10:4000")
        }
    );
    assert_eq!(
        lab.media
            .table
            .on_packet(now, Token::rtp(lan), sa("192.168.1.10:4000"), 160),
        Verdict::Forward {
            out: Token::rtp(wan),
            dst: sa("198.51.100.30:5000")
        }
    );
}

#[test]
fn t46_late_offer_in_ack_is_relayed() {
    // Behaviour §5.1: ACK bodies are rewritten too (the offer of an INVITE without SDP).
    let mut lab = registered(Lab::config());
    let fwd = one(lab.on_lan(A, &invite(1, "z9hG4bKinv1", "")));
    let ok = one(lab.on_wan(B, &answer(&fwd, 200, "OK", &sdp("198.51.100.30", 5000))));
    assert!(
        body_lines(&ok).contains(&"m=audio 7070 RTP/AVP 0"),
        "{}",
        ok.body()
    );
    let ack = request(
        "ACK sip:bob@198.51.100.30:5060 SIP/2.0",
        &format!("Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKack1\nMax-Forwards: 70\nFrom: <sip:alice@example.com>;tag=a1\nTo: <sip:bob@example.com>;tag=b1\nCall-ID: {CALL}\nCSeq: 1 ACK\n"),
        &sdp("192.168.1.10", 4000),
    );
    let f = one(lab.on_lan(A, &ack));
    assert_eq!(f.to, sa(B));
    let lines = body_lines(&f);
    assert!(lines.contains(&"c=IN IP4 203.0.113.5"), "{lines:?}");
    assert!(lines.contains(&"m=audio 7072 RTP/AVP 0"), "{lines:?}");
    let (wan, w) = half_at(&lab, "203.0.113.5:7072");
    let (lan, l) = half_at(&lab, "192.168.1.1:7070");
    assert_eq!(w.peer(), Some(lan));
    assert_eq!(l.peer(), Some(wan));
}

#[test]
fn t43_only_invite_ack_prack_update_and_their_answers_are_rewritten() {
    // Behaviour §5.1: no relay for MESSAGE/NOTIFY/INFO bodies and responses to other methods.
    // Towards the Internet their SDP addresses are masqueraded all the same (review finding:
    // no private address leaves), ports untouched.
    let mut lab = registered(Lab::config());
    let offer = sdp("192.168.1.10", 4000);
    for method in ["MESSAGE", "NOTIFY", "INFO"] {
        let req = request(
            &format!("{method} sip:bob@198.51.100.30 SIP/2.0"),
            &format!("Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bK{method}\nMax-Forwards: 70\nFrom: <sip:alice@example.com>;tag=a1\nTo: <sip:bob@example.com>;tag=b1\nCall-ID: {CALL}\nCSeq: 9 {method}\nEvent: x\n"),
            &offer,
        );
        let f = one(lab.on_lan(A, &req));
        let lines = body_lines(&f);
        assert!(
            lines.contains(&"c=IN IP4 203.0.113.5"),
            "{method}: {lines:?}"
        );
        assert!(
            lines.contains(&"o=- 1 1 IN IP4 203.0.113.5"),
            "{method}: {lines:?}"
        );
        assert!(
            lines.contains(&"m=audio 4000 RTP/AVP 0"),
            "{method}: {lines:?}"
        );
    }
    assert!(lab.media.table.is_empty());
    let upd = request(
        "UPDATE sip:bob@198.51.100.30 SIP/2.0",
        &format!("Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKupd\nMax-Forwards: 70\nFrom: <sip:alice@example.com>;tag=a1\nTo: <sip:bob@example.com>;tag=b1\nCall-ID: {CALL}\nCSeq: 10 UPDATE\n"),
        &offer,
    );
    let f = one(lab.on_lan(A, &upd));
    assert!(
        body_lines(&f).contains(&"m=audio 7070 RTP/AVP 0"),
        "{}",
        f.body()
    );
    // A 200 to PRACK with a body is not an answer the relay looks at.
    let prack = request(
        "PRACK sip:bob@198.51.100.30 SIP/2.0",
        &format!("Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKprack\nMax-Forwards: 70\nFrom: <sip:alice@example.com>;tag=a1\nTo: <sip:bob@example.com>;tag=b1\nCall-ID: {CALL}\nCSeq: 11 PRACK\nRAck: 1 1 INVITE\n"),
        "",
    );
    let fwd = one(lab.on_lan(A, &prack));
    let answer_sdp = sdp("198.51.100.30", 5000);
    let ok = one(lab.on_wan(B, &answer(&fwd, 200, "OK", &answer_sdp)));
    assert_eq!(ok.body().as_bytes(), crlf(&answer_sdp).as_slice());
    assert_eq!(lab.media.table.len(), 1);
}

#[test]
fn t43_rtcp_attribute_rewritten_and_ice_removed() {
    // Decisions §6: a=rtcp: names the relay's RTCP port, ICE lines are dropped (the relay is
    // the path), a=rtcp-mux keeps RTCP on the RTP port.
    let mut lab = registered(Lab::config());
    let body = "v=0\no=- 1 1 IN IP4 192.168.1.10\ns=-\nc=IN IP4 192.168.1.10\nt=0 0\na=ice-ufrag:abcd\na=ice-pwd:0123456789abcdef01234567\nm=audio 4000 RTP/AVP 0\na=rtcp:4001\na=candidate:1 1 UDP 2130706431 192.168.1.10 4000 typ host\na=sendrecv\nm=video 4010 RTP/AVP 31\na=rtcp-mux\n";
    let f = one(lab.on_lan(A, &invite(1, "z9hG4bKinv1", body)));
    let lines = body_lines(&f);
    assert!(lines.contains(&"m=audio 7070 RTP/AVP 0"), "{lines:?}");
    assert!(lines.contains(&"a=rtcp:7071"), "{lines:?}");
    assert!(lines.contains(&"m=video 7072 RTP/AVP 31"), "{lines:?}");
    assert!(lines.contains(&"a=rtcp-mux"), "{lines:?}");
    assert!(lines.contains(&"a=sendrecv"), "{lines:?}");
    assert!(
        lines
            .iter()
            .all(|l| !l.starts_with("a=candidate") && !l.starts_with("a=ice-")),
        "{lines:?}"
    );
    assert_eq!(
        f.header("Content-Length").unwrap(),
        f.body().len().to_string()
    );
    // The muxed stream's RTCP goes to the RTP port of A.
    let (_, h) = half_at(&lab, "203.0.113.5:7072");
    assert_eq!(h.remote(), sa("192.168.1.10:4010"));
    assert_eq!(
        h.destination(siproxd_rs::rtp::Kind::Rtcp),
        Some(sa("192.168.1.10:4010"))
    );
    let (_, h) = half_at(&lab, "203.0.113.5:7070");
    assert_eq!(
        h.destination(siproxd_rs::rtp::Kind::Rtcp),
        Some(sa("192.168.1.10:4001"))
    );
}

/// A hold re-INVITE: session-level `c=0.0.0.0`.
const HOLD: &str = "v=0\no=- 1 2 IN IP4 192.168.1.10\ns=-\nc=IN IP4 0.0.0.0\nt=0 0\nm=audio 4000 RTP/AVP 0\na=sendonly\n";

/// A's re-INVITE (CSeq 2) of the call with `body`, answered `code` by B; the answer reaches A.
fn reinvite_fails(lab: &mut Lab, body: &str, code: u16, reason: &str) {
    let re = one(lab.on_lan(A, &invite(2, "z9hG4bKinv2", body)));
    assert_eq!(re.to, sa(B));
    let r = one(lab.on_wan(B, &answer(&re, code, reason, "")));
    assert_eq!((r.to, r.status()), (sa(A), Some(code)));
}

/// Media of the call relayed on `wan` (O side) and `lan` (I side) flows both ways: B's to
/// `a_media`, A's to `b_media`.
fn media_flows(lab: &mut Lab, wan: &str, lan: &str, a_media: &str, b_media: &str) {
    let (w, _) = half_at(lab, wan);
    let (l, _) = half_at(lab, lan);
    lab.now += 20;
    let now = lab.now;
    let t = &mut lab.media.table;
    assert_eq!(
        t.on_packet(now, Token::rtp(w), sa(b_media), 160),
        Verdict::Forward {
            out: Token::rtp(l),
            dst: sa(a_media)
        },
        "B → A"
    );
    assert_eq!(
        t.on_packet(now, Token::rtp(l), sa(a_media), 160),
        Verdict::Forward {
            out: Token::rtp(w),
            dst: sa(b_media)
        },
        "A → B"
    );
}

#[test]
fn failed_hold_reinvite_491_leaves_the_established_call_as_it_was() {
    // RFC 3261 §14.1: a failed re-INVITE changes nothing. siproxd's CSeq rule (§5.6) would
    // close every half the re-INVITE raised to CSeq 2, i.e. the whole call.
    let mut lab = registered(Lab::config());
    call_set_up(&mut lab);
    reinvite_fails(&mut lab, HOLD, 491, "Request Pending");
    assert_eq!(lab.media.table.len(), 2);
    assert_eq!(lab.media.sockets.open_pairs, 2, "relay ports stay open");
    // The hold never happened: B's media reaches A at its address again.
    let (_, h) = half_at(&lab, "203.0.113.5:7070");
    assert_eq!(h.remote(), sa("192.168.1.10:4000"));
    media_flows(
        &mut lab,
        "203.0.113.5:7070",
        "192.168.1.1:7072",
        "192.168.1.10:4000",
        "198.51.100.30:5000",
    );
    // The retried re-INVITE still finds the same ports.
    let re = one(lab.on_lan(A, &invite(3, "z9hG4bKinv3", HOLD)));
    assert!(body_lines(&re).contains(&"m=audio 7070 RTP/AVP 0"));
    assert_eq!(lab.media.sockets.open_pairs, 2);
}

#[test]
fn failed_reinvite_488_closes_only_the_video_it_offered() {
    let mut lab = registered(Lab::config());
    call_set_up(&mut lab);
    let av = "v=0\no=- 1 2 IN IP4 192.168.1.10\ns=-\nc=IN IP4 192.168.1.10\nt=0 0\nm=audio 4000 RTP/AVP 0\nm=video 4010 RTP/AVP 31\n";
    let re = one(lab.on_lan(A, &invite(2, "z9hG4bKinv2", av)));
    let lines = body_lines(&re);
    assert!(lines.contains(&"m=audio 7070 RTP/AVP 0"), "{lines:?}");
    assert!(lines.contains(&"m=video 7074 RTP/AVP 31"), "{lines:?}");
    assert_eq!(lab.media.sockets.open_pairs, 3);
    let r = one(lab.on_wan(B, &answer(&re, 488, "Not Acceptable Here", "")));
    assert_eq!(r.status(), Some(488));
    assert_eq!(
        lab.media.sockets.open_pairs, 2,
        "the video port is released"
    );
    assert!(lab
        .media
        .table
        .halves()
        .all(|(_, h)| h.media_index() == 0 && h.local().port() != 7074));
    media_flows(
        &mut lab,
        "203.0.113.5:7070",
        "192.168.1.1:7072",
        "192.168.1.10:4000",
        "198.51.100.30:5000",
    );
}

#[test]
fn t50_early_media_does_not_save_a_call_that_fails() {
    // A 183 with SDP is not the agreed session: the 486 that ends the INVITE closes its media.
    let mut lab = registered(Lab::config());
    let fwd = one(lab.on_lan(A, &invite(1, "z9hG4bKinv1", &sdp("192.168.1.10", 4000))));
    one(lab.on_wan(
        B,
        &answer(&fwd, 183, "Session Progress", &sdp("198.51.100.30", 5000)),
    ));
    assert_eq!(lab.media.table.len(), 2);
    let r = one(lab.on_wan(B, &answer(&fwd, 486, "Busy Here", "")));
    assert_eq!(r.status(), Some(486));
    assert!(lab.media.table.is_empty());
    assert_eq!(lab.media.sockets.open_pairs, 0);
}

#[test]
fn reliable_183_then_200_without_sdp_makes_the_call_established() {
    // With 100rel the 200 need not repeat the 183's answer; it still agrees the session.
    let mut lab = registered(Lab::config());
    let fwd = one(lab.on_lan(A, &invite(1, "z9hG4bKinv1", &sdp("192.168.1.10", 4000))));
    one(lab.on_wan(
        B,
        &answer(&fwd, 183, "Session Progress", &sdp("198.51.100.30", 5000)),
    ));
    one(lab.on_wan(B, &answer(&fwd, 200, "OK", "")));
    reinvite_fails(&mut lab, HOLD, 491, "Request Pending");
    assert_eq!(lab.media.sockets.open_pairs, 2);
    media_flows(
        &mut lab,
        "203.0.113.5:7070",
        "192.168.1.1:7072",
        "192.168.1.10:4000",
        "198.51.100.30:5000",
    );
}

#[test]
fn late_offer_call_survives_a_failed_reinvite() {
    // The ACK carries the answer to the 200's offer; it completes the session too.
    let mut lab = registered(Lab::config());
    let fwd = one(lab.on_lan(A, &invite(1, "z9hG4bKinv1", "")));
    one(lab.on_wan(B, &answer(&fwd, 200, "OK", &sdp("198.51.100.30", 5000))));
    let ack = request(
        "ACK sip:bob@198.51.100.30:5060 SIP/2.0",
        &format!("Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKack1\nMax-Forwards: 70\nFrom: <sip:alice@example.com>;tag=a1\nTo: <sip:bob@example.com>;tag=b1\nCall-ID: {CALL}\nCSeq: 1 ACK\n"),
        &sdp("192.168.1.10", 4000),
    );
    one(lab.on_lan(A, &ack));
    assert_eq!(lab.media.sockets.open_pairs, 2);
    reinvite_fails(&mut lab, HOLD, 491, "Request Pending");
    assert_eq!(lab.media.sockets.open_pairs, 2);
    media_flows(
        &mut lab,
        "203.0.113.5:7072",
        "192.168.1.1:7070",
        "192.168.1.10:4000",
        "198.51.100.30:5000",
    );
}

#[test]
fn failed_reinvite_from_b_leaves_the_call_as_it_was() {
    let mut lab = registered(Lab::config());
    call_set_up(&mut lab);
    let re = request(
        "INVITE sip:alice@203.0.113.5 SIP/2.0",
        &format!("Via: SIP/2.0/UDP 198.51.100.30:5060;branch=z9hG4bKbre\nMax-Forwards: 70\nFrom: <sip:bob@example.com>;tag=b1\nTo: <sip:alice@example.com>;tag=a1\nCall-ID: {CALL}\nCSeq: 5 INVITE\nContact: <sip:bob@198.51.100.30:5060>\n"),
        &sdp("198.51.100.30", 5008),
    );
    let f = one(lab.on_wan(B, &re));
    assert_eq!(f.to, sa(A));
    assert!(
        body_lines(&f).contains(&"m=audio 7072 RTP/AVP 0"),
        "{}",
        f.body()
    );
    let vias = f.headers("Via");
    let busy = format!(
        "SIP/2.0 491 Request Pending\nVia: {}\nVia: {}\nFrom: <sip:bob@example.com>;tag=b1\nTo: <sip:alice@example.com>;tag=a1\nCall-ID: {CALL}\nCSeq: 5 INVITE\nContent-Length: 0\n\n",
        vias[0], vias[1]
    );
    let r = one(lab.on_lan(A, &busy));
    assert_eq!((r.to, r.status()), (sa(B), Some(491)));
    assert_eq!(lab.media.sockets.open_pairs, 2);
    // B's media is expected from and sent to 5000 again, as agreed before.
    let (_, h) = half_at(&lab, "192.168.1.1:7072");
    assert_eq!(h.remote(), sa("198.51.100.30:5000"));
    media_flows(
        &mut lab,
        "203.0.113.5:7070",
        "192.168.1.1:7072",
        "192.168.1.10:4000",
        "198.51.100.30:5000",
    );
}
