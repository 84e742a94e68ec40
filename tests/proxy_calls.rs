//! Behaviour §11 tests 27–41 (call flows: signalling) through the sans-IO proxy core, with
//! the common fixture of `lab` (A registered in outbound-proxy mode as `sip:alice@203.0.113.5`).
#![allow(clippy::unwrap_used)] // test helpers: a failed set-up panics, as a test should
mod lab;
use lab::*;

use md5::{Digest, Md5};
use siproxd_rs::config::Config;

/// An INVITE from A (LAN) to `ruri` with the given extra headers (no body).
fn invite_from_a(ruri: &str, extra: &str) -> String {
    request(
        &format!("INVITE {ruri} SIP/2.0"),
        &format!("Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKinv1\nMax-Forwards: 70\nFrom: <sip:alice@example.com>;tag=a1\nTo: <sip:bob@example.com>\nCall-ID: call1@192.168.1.10\nCSeq: 1 INVITE\n{extra}"),
        "",
    )
}

/// An INVITE from B (Internet) to `ruri`, To `to`, with the given extra headers.
fn invite_from_b(ruri: &str, to: &str, extra: &str) -> String {
    request(
        &format!("INVITE {ruri} SIP/2.0"),
        &format!("Via: SIP/2.0/UDP 198.51.100.30:5062;branch=z9hG4bKbinv\nMax-Forwards: 70\nFrom: <sip:bob@198.51.100.30>;tag=b1\nTo: {to}\nCall-ID: bcall@198.51.100.30\nCSeq: 1 INVITE\nContact: <sip:bob@198.51.100.30:5062>\n{extra}"),
        "",
    )
}

fn one(out: Vec<Sent>) -> Sent {
    assert_eq!(out.len(), 1, "exactly one message sent: {out:?}");
    out.into_iter().next().unwrap()
}

fn md5_hex(s: &[u8]) -> String {
    Md5::digest(s).iter().map(|b| format!("{b:02x}")).collect()
}

fn lab_with(edit: impl FnOnce(&mut Config)) -> Lab {
    let mut cfg = Lab::config();
    edit(&mut cfg);
    let mut lab = Lab::with(cfg);
    lab.register_alice(3600);
    lab
}

fn registered() -> Lab {
    lab_with(|_| {})
}

#[test]
fn t27_outgoing_invite_via_contact_and_record_route() {
    let mut lab = registered();
    let f = one(lab.on_lan(
        A,
        &invite_from_a(
            "sip:bob@198.51.100.30:5060",
            "Contact: \"Alice\" <sip:alice@192.168.1.10:5060>;q=0.5\nRecord-Route: <sip:siproxd@192.168.1.1:5060;lr>, <sip:foreign.example.org;lr>\n",
        ),
    ));
    assert_eq!(f.to, sa(B), "sent to the Request-URI host:port");
    assert_eq!(f.from, ip(O), "sent from the outbound address");
    assert_eq!(f.first_line(), "INVITE sip:bob@198.51.100.30:5060 SIP/2.0");
    let vias = f.headers("Via");
    assert_eq!(vias.len(), 2, "{vias:?}");
    assert!(
        vias[0].starts_with("SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bK"),
        "{vias:?}"
    );
    assert_eq!(vias[1], "SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKinv1");
    assert_eq!(
        f.headers("Contact"),
        vec!["\"Alice\" <sip:alice@203.0.113.5>;q=0.5"]
    );
    assert_eq!(
        f.headers("Record-Route"),
        vec!["<sip:foreign.example.org;lr>"],
        "own RR removed, foreign kept"
    );
    assert_eq!(f.header("Max-Forwards").unwrap(), "69");
}

#[test]
fn t28_unregistered_contact_gets_public_host_and_port() {
    let mut lab = registered();
    let f = one(lab.on_lan(
        A,
        &invite_from_a(
            "sip:bob@198.51.100.30",
            "Contact: <sip:xyz@192.168.1.10:5099;foo=1>\n",
        ),
    ));
    assert_eq!(f.to, sa(B));
    assert_eq!(
        f.headers("Contact"),
        vec!["<sip:xyz@203.0.113.5:5060;foo=1>"]
    );
}

#[test]
fn t28_non_sip_contact_is_left_alone() {
    // Only sip: contacts are reached through the proxy; a tel: or name: URI has no host
    // to replace and must not be turned into one on our address.
    let mut lab = registered();
    let f = one(lab.on_lan(
        A,
        &invite_from_a(
            "sip:bob@198.51.100.30",
            "Contact: <tel:+15551234>\nContact: <name:John_Smith>\n",
        ),
    ));
    assert_eq!(
        f.headers("Contact"),
        vec!["<tel:+15551234>", "<name:John_Smith>"]
    );
}

/// Delivers B's INVITE for alice and returns what reached A.
fn incoming_to_alice(lab: &mut Lab, to: &str) -> Sent {
    one(lab.on_wan(
        B,
        &invite_from_b(
            "sip:alice@203.0.113.5",
            to,
            "Record-Route: <sip:rr.example.net;lr>\n",
        ),
    ))
}

#[test]
fn t29_incoming_invite_goes_to_alice_with_rr_on_top() {
    let mut lab = registered();
    let f = incoming_to_alice(&mut lab, "<sip:alice@example.com>");
    assert_eq!(f.to, sa(A));
    assert_eq!(f.from, ip(I), "sent from the inbound address");
    assert_eq!(f.first_line(), "INVITE sip:alice@192.168.1.10:5060 SIP/2.0");
    assert_eq!(
        f.headers("Record-Route"),
        vec![
            "<sip:siproxd@192.168.1.1:5060;lr>".to_string(),
            "<sip:rr.example.net;lr>".to_string()
        ]
    );
    let vias = f.headers("Via");
    assert!(
        vias[0].starts_with("SIP/2.0/UDP 192.168.1.1:5060;branch=z9hG4bK"),
        "{vias:?}"
    );
    assert_eq!(vias[1], "SIP/2.0/UDP 198.51.100.30:5062;branch=z9hG4bKbinv");
    assert_eq!(
        f.headers("Contact"),
        vec!["<sip:bob@198.51.100.30:5062>"],
        "B's Contact unchanged"
    );
}

#[test]
fn t30_incoming_invite_routed_by_request_uri_when_to_is_another_user() {
    let mut lab = registered();
    let f = incoming_to_alice(&mut lab, "<sip:carol@example.com>");
    assert_eq!(f.to, sa(A));
    assert_eq!(f.first_line(), "INVITE sip:alice@192.168.1.10:5060 SIP/2.0");
    assert_eq!(f.header("To").unwrap(), "<sip:carol@example.com>");
}

#[test]
fn t31_alices_200_goes_to_bs_via_not_the_source() {
    let mut lab = registered();
    let inv = incoming_to_alice(&mut lab, "<sip:alice@example.com>");
    let vias = inv.headers("Via");
    let rrs = inv.headers("Record-Route").join(", ");
    let ok = format!(
        "SIP/2.0 200 OK\nVia: {}\nVia: {}\nRecord-Route: {rrs}\nFrom: <sip:bob@198.51.100.30>;tag=b1\nTo: <sip:alice@example.com>;tag=a9\nCall-ID: bcall@198.51.100.30\nCSeq: 1 INVITE\nContact: <sip:alice@192.168.1.10:5060>\nContent-Length: 0\n\n",
        vias[0], vias[1]
    );
    let f = one(lab.on_lan(A, &ok));
    // B sent from port 5060 but its Via says 5062: the Via wins.
    assert_eq!(f.to, sa("198.51.100.30:5062"));
    assert_eq!(f.from, ip(O));
    assert_eq!(
        f.headers("Via"),
        vec!["SIP/2.0/UDP 198.51.100.30:5062;branch=z9hG4bKbinv"]
    );
    assert_eq!(f.headers("Contact"), vec!["<sip:alice@203.0.113.5>"]);
    assert_eq!(f.headers("Record-Route"), vec!["<sip:rr.example.net;lr>"]);
}

#[test]
fn t32_branch_is_md5_of_received_branch_and_stable() {
    let mut lab = registered();
    let text = invite_from_a("sip:bob@198.51.100.30", "")
        .replace("branch=z9hG4bKinv1", "branch=z9hG4bKabc");
    let first = one(lab.on_lan(A, &text));
    let again = one(lab.on_lan(A, &text));
    let want = format!(
        "SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bK{}",
        md5_hex(b"z9hG4bKabc")
    );
    assert_eq!(first.headers("Via")[0], want);
    assert_eq!(again.headers("Via")[0], want, "retransmission, same branch");
}

#[test]
fn t33_use_rport_bits_select_directions() {
    for (bits, out_rport, in_rport) in [
        (0, false, false),
        (1, false, true),
        (2, true, false),
        (3, true, true),
    ] {
        let mut lab = lab_with(|c| c.use_rport = bits);
        let out = one(lab.on_lan(A, &invite_from_a("sip:bob@198.51.100.30", "")));
        assert_eq!(
            out.headers("Via")[0].ends_with(";rport"),
            out_rport,
            "use_rport={bits} outgoing: {:?}",
            out.headers("Via")
        );
        let inc = incoming_to_alice(&mut lab, "<sip:alice@example.com>");
        assert_eq!(
            inc.headers("Via")[0].ends_with(";rport"),
            in_rport,
            "use_rport={bits} incoming: {:?}",
            inc.headers("Via")
        );
    }
}

#[test]
fn t34_ua_string_replaces_or_adds_on_outgoing_only() {
    let mut lab = lab_with(|c| c.ua_string = Some("Siproxd-UA".into()));
    let f = one(lab.on_lan(
        A,
        &invite_from_a("sip:bob@198.51.100.30", "User-Agent: Foo/1.0\n"),
    ));
    assert_eq!(f.headers("User-Agent"), vec!["Siproxd-UA"]);
    let f = one(lab.on_lan(A, &invite_from_a("sip:bob@198.51.100.30", "")));
    assert_eq!(f.headers("User-Agent"), vec!["Siproxd-UA"]);
    let f = one(lab.on_wan(
        B,
        &invite_from_b(
            "sip:alice@203.0.113.5",
            "<sip:alice@example.com>",
            "User-Agent: Foo/1.0\n",
        ),
    ));
    assert_eq!(f.to, sa(A));
    assert_eq!(f.headers("User-Agent"), vec!["Foo/1.0"]);
}

#[test]
fn t34_ua_string_on_outgoing_responses_too() {
    // Behaviour §4.10.6 / §4.9: outgoing responses get the User-Agent replaced or added.
    let mut lab = lab_with(|c| c.ua_string = Some("Siproxd-UA".into()));
    let inv = incoming_to_alice(&mut lab, "<sip:alice@example.com>");
    let vias = inv.headers("Via");
    for (extra, what) in [("User-Agent: Phone/2\n", "replaced"), ("", "added")] {
        let ok = format!(
            "SIP/2.0 180 Ringing\nVia: {}\nVia: {}\nFrom: <sip:bob@198.51.100.30>;tag=b1\nTo: <sip:alice@example.com>;tag=a9\nCall-ID: bcall@198.51.100.30\nCSeq: 1 INVITE\n{extra}Content-Length: 0\n\n",
            vias[0], vias[1]
        );
        let f = one(lab.on_lan(A, &ok));
        assert_eq!(f.headers("User-Agent"), vec!["Siproxd-UA"], "{what}");
        assert_eq!(f.headers("Via").len(), 1, "{what}: our Via removed");
        f.msg();
    }
}

#[test]
fn t35_outbound_proxy_gets_outgoing_requests_and_responses() {
    let mut lab = lab_with(|c| c.outbound_proxy_host = Some("proxy.example.net".into()));
    let f = one(lab.on_lan(A, &invite_from_a("sip:bob@198.51.100.30:5060", "")));
    assert_eq!(
        f.to,
        sa("198.51.100.21:5060"),
        "proxy.example.net, port 5060"
    );
    assert_eq!(f.first_line(), "INVITE sip:bob@198.51.100.30:5060 SIP/2.0");
    assert!(f.header("Route").is_none(), "no Route added");
    let f = incoming_to_alice(&mut lab, "<sip:alice@example.com>");
    assert_eq!(f.to, sa(A));
    // Behaviour §4.9 step 5.4: A's responses go to the outbound proxy too, not along B's Via.
    let vias = f.headers("Via");
    let ok = format!(
        "SIP/2.0 200 OK\nVia: {}\nVia: {}\nFrom: <sip:bob@198.51.100.30>;tag=b1\nTo: <sip:alice@example.com>;tag=a9\nCall-ID: bcall@198.51.100.30\nCSeq: 1 INVITE\nContact: <sip:alice@192.168.1.10:5060>\nContent-Length: 0\n\n",
        vias[0], vias[1]
    );
    let r = one(lab.on_lan(A, &ok));
    assert_eq!(r.to, sa("198.51.100.21:5060"));
    assert_eq!(
        r.headers("Via"),
        vec!["SIP/2.0/UDP 198.51.100.30:5062;branch=z9hG4bKbinv"]
    );
    // Responses from the Internet still follow the Via to A.
    let out = one(lab.on_lan(A, &invite_from_a("sip:bob@198.51.100.30", "")));
    let vias = out.headers("Via");
    let ok = format!(
        "SIP/2.0 180 Ringing\nVia: {}\nVia: {}\nFrom: <sip:alice@example.com>;tag=a1\nTo: <sip:bob@example.com>;tag=b2\nCall-ID: call1@192.168.1.10\nCSeq: 1 INVITE\nContent-Length: 0\n\n",
        vias[0], vias[1]
    );
    let r = one(lab.on_wan("198.51.100.21:5060", &ok));
    assert_eq!(r.to, sa(A));
}

#[test]
fn t36_outbound_domain_wins_over_global_proxy() {
    let mut lab = lab_with(|c| {
        c.outbound_proxy_host = Some("proxy.example.net".into());
        c.outbound_domain_name = vec!["Example.COM".into()];
        c.outbound_domain_host = vec!["198.51.100.99".into()];
        c.outbound_domain_port = vec![5070];
    });
    let f = one(lab.on_lan(A, &invite_from_a("sip:bob@198.51.100.30", "")));
    assert_eq!(f.to, sa("198.51.100.99:5070"), "From host example.com");
    let other = invite_from_a("sip:bob@198.51.100.30", "").replace(
        "From: <sip:alice@example.com>",
        "From: <sip:alice@other.net>",
    );
    let f = one(lab.on_lan(A, &other));
    assert_eq!(
        f.to,
        sa("198.51.100.21:5060"),
        "From host other.net: global proxy"
    );
}

#[test]
fn t37_in_dialog_bye_drops_our_route_and_follows_the_next() {
    let mut lab = registered();
    let bye = request(
        "BYE sip:bob@198.51.100.30:5060 SIP/2.0",
        "Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKbye1\nMax-Forwards: 70\nRoute: <sip:siproxd@192.168.1.1:5060;lr>, <sip:edge.example.com;lr>\nFrom: <sip:alice@example.com>;tag=a1\nTo: <sip:bob@example.com>;tag=b1\nCall-ID: call1@192.168.1.10\nCSeq: 2 BYE\n",
        "",
    );
    let f = one(lab.on_lan(A, &bye));
    assert_eq!(f.to, sa("198.51.100.22:5060"), "edge.example.com:5060");
    assert_eq!(f.headers("Route"), vec!["<sip:edge.example.com;lr>"]);
    assert_eq!(f.first_line(), "BYE sip:bob@198.51.100.30:5060 SIP/2.0");
}

#[test]
fn t38_strict_route_fixup_takes_the_last_route_as_request_uri() {
    let mut lab = registered();
    let req = request(
        "BYE sip:siproxd@192.168.1.1:5060 SIP/2.0",
        "Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKbye2\nMax-Forwards: 70\nRoute: <sip:edge.example.com;lr>\nRoute: <sip:bob@198.51.100.30:5060>\nFrom: <sip:alice@example.com>;tag=a1\nTo: <sip:bob@example.com>;tag=b1\nCall-ID: call1@192.168.1.10\nCSeq: 3 BYE\n",
        "",
    );
    let f = one(lab.on_lan(A, &req));
    assert_eq!(f.first_line(), "BYE sip:bob@198.51.100.30:5060 SIP/2.0");
    assert_eq!(f.headers("Route"), vec!["<sip:edge.example.com;lr>"]);
    assert_eq!(
        f.to,
        sa("198.51.100.22:5060"),
        "the remaining Route is the hop"
    );
}

#[test]
fn t39_grandstream_202_to_subscribe_becomes_404() {
    let mut lab = registered();
    let sub = request(
        "SUBSCRIBE sip:bob@198.51.100.30 SIP/2.0",
        "Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKsub1\nMax-Forwards: 70\nFrom: <sip:alice@example.com>;tag=a1\nTo: <sip:bob@198.51.100.30>\nCall-ID: sub1@192.168.1.10\nCSeq: 1 SUBSCRIBE\nEvent: presence\nContact: <sip:alice@192.168.1.10:5060>\n",
        "",
    );
    let f = one(lab.on_lan(A, &sub));
    let vias = f.headers("Via");
    let resp = |ua: &str| {
        format!(
            "SIP/2.0 202 Accepted\nVia: {}\nVia: {}\nFrom: <sip:alice@example.com>;tag=a1\nTo: <sip:bob@198.51.100.30>;tag=g1\nCall-ID: sub1@192.168.1.10\nCSeq: 1 SUBSCRIBE\nUser-Agent: {ua}\nContent-Length: 0\n\n",
            vias[0], vias[1]
        )
    };
    let r = one(lab.on_wan(B, &resp("Grandstream GXP")));
    assert_eq!(r.to, sa(A));
    assert_eq!(r.first_line(), "SIP/2.0 404 Accepted", "reason kept");
    let r = one(lab.on_wan(B, &resp("grandSTREAM gxp2000")));
    assert_eq!(r.status(), Some(404), "case-insensitive prefix");
    let r = one(lab.on_wan(B, &resp("Other/1.0")));
    assert_eq!(r.first_line(), "SIP/2.0 202 Accepted");
}

#[test]
fn t40_asterisk_alert_info_line_removed() {
    let mut lab = registered();
    let f = one(lab.on_wan(
        B,
        &invite_from_b(
            "sip:alice@203.0.113.5",
            "<sip:alice@example.com>",
            "User-Agent: Asterisk PBX\nAlert-Info: http://x/ring\nSubject: keep\n",
        ),
    ));
    assert_eq!(f.to, sa(A));
    assert!(f.header("Alert-Info").is_none(), "{}", f.text);
    assert!(!f.text.contains("http://x/ring"));
    assert_eq!(f.header("Subject").unwrap(), "keep");
    // Another user agent keeps it.
    let f = one(lab.on_wan(
        B,
        &invite_from_b(
            "sip:alice@203.0.113.5",
            "<sip:alice@example.com>",
            "User-Agent: Asterisk PBX 1.6\nAlert-Info: http://x/ring\n",
        ),
    ));
    assert_eq!(f.headers("Alert-Info"), vec!["http://x/ring"]);
}

#[test]
fn t41_obscure_loops_marks_and_restores_call_id() {
    let mut cfg = Lab::config();
    cfg.obscure_loops = true;
    let mut lab = Lab::with(cfg);
    let reg = one(lab.on_lan(
        A,
        &register(
            "sip:example.com",
            "<sip:alice@192.168.1.10:5060>;expires=3600",
            "",
        ),
    ));
    assert_eq!(
        reg.header("Call-ID").unwrap(),
        "reg1@192.168.1.10",
        "REGISTER untouched"
    );
    let branch = reg.headers("Via")[0].clone();
    let ok = format!(
        "SIP/2.0 200 OK\nVia: {branch}\nVia: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKreg1\nFrom: <sip:alice@example.com>;tag=r1\nTo: <sip:alice@example.com>;tag=p1\nCall-ID: reg1@192.168.1.10\nCSeq: 1 REGISTER\nContact: <sip:alice@203.0.113.5>;expires=600\nContent-Length: 0\n\n"
    );
    let back = one(lab.on_wan(PROVIDER, &ok));
    assert_eq!(back.header("Call-ID").unwrap(), "reg1@192.168.1.10");

    let inv = invite_from_a("sip:bob@198.51.100.30", "")
        .replace("Call-ID: call1@192.168.1.10", "Call-ID: abc@h")
        .replace("tag=a1", "tag=t1");
    let f = one(lab.on_lan(A, &inv));
    assert_eq!(f.header("Call-ID").unwrap(), "abc-siproxdt1@h");
    let vias = f.headers("Via");
    let ok = format!(
        "SIP/2.0 200 OK\nVia: {}\nVia: {}\nFrom: <sip:alice@example.com>;tag=t1\nTo: <sip:bob@example.com>;tag=b9\nCall-ID: abc-siproxdt1@h\nCSeq: 1 INVITE\nContact: <sip:bob@198.51.100.30>\nContent-Length: 0\n\n",
        vias[0], vias[1]
    );
    let r = one(lab.on_wan(B, &ok));
    assert_eq!(r.to, sa(A));
    assert_eq!(r.header("Call-ID").unwrap(), "abc@h");
}

#[test]
fn t41_obscure_loops_leaves_calls_from_the_internet_alone() {
    // B calls A: nothing was obscured, so A's responses (to the INVITE and to B's BYE) must
    // carry B's Call-ID as B sent it, or B cannot match them.
    let mut lab = lab_with(|c| c.obscure_loops = true);
    let f = incoming_to_alice(&mut lab, "<sip:alice@example.com>");
    assert_eq!(f.header("Call-ID").unwrap(), "bcall@198.51.100.30");
    let bye = request(
        "BYE sip:alice@203.0.113.5 SIP/2.0",
        "Via: SIP/2.0/UDP 198.51.100.30:5060;branch=z9hG4bKbye9\nMax-Forwards: 70\nFrom: <sip:bob@198.51.100.30>;tag=b1\nTo: <sip:alice@example.com>;tag=a9\nCall-ID: bcall@198.51.100.30\nCSeq: 2 BYE\n",
        "",
    );
    let f = one(lab.on_wan(B, &bye));
    assert_eq!(f.to, sa(A));
    assert_eq!(f.header("Call-ID").unwrap(), "bcall@198.51.100.30");
    let vias = f.headers("Via");
    let ok = format!(
        "SIP/2.0 200 OK\nVia: {}\nVia: {}\nFrom: <sip:bob@198.51.100.30>;tag=b1\nTo: <sip:alice@example.com>;tag=a9\nCall-ID: bcall@198.51.100.30\nCSeq: 2 BYE\nContent-Length: 0\n\n",
        vias[0], vias[1]
    );
    let r = one(lab.on_lan(A, &ok));
    assert_eq!(r.to, sa(B));
    assert_eq!(r.header("Call-ID").unwrap(), "bcall@198.51.100.30");
}

#[test]
fn t41_obscure_loops_responses_to_requests_from_the_far_end() {
    // A called B (obscured). B's in-dialog requests carry the obscured Call-ID; A sees the
    // original, and A's responses must go back with the obscured one, for every method.
    let mut lab = lab_with(|c| c.obscure_loops = true);
    let inv = invite_from_a("sip:bob@198.51.100.30", "")
        .replace("Call-ID: call1@192.168.1.10", "Call-ID: abc@h")
        .replace("tag=a1", "tag=t1");
    let f = one(lab.on_lan(A, &inv));
    assert_eq!(f.header("Call-ID").unwrap(), "abc-siproxdt1@h");
    for (method, cseq) in [("INFO", 5), ("BYE", 6)] {
        let req = request(
            &format!("{method} sip:alice@203.0.113.5 SIP/2.0"),
            &format!("Via: SIP/2.0/UDP 198.51.100.30:5060;branch=z9hG4bK{method}\nMax-Forwards: 70\nFrom: <sip:bob@example.com>;tag=b9\nTo: <sip:alice@example.com>;tag=t1\nCall-ID: abc-siproxdt1@h\nCSeq: {cseq} {method}\n"),
            "",
        );
        let f = one(lab.on_wan(B, &req));
        assert_eq!(f.to, sa(A));
        assert_eq!(f.header("Call-ID").unwrap(), "abc@h", "{method}");
        let vias = f.headers("Via");
        let ok = format!(
            "SIP/2.0 200 OK\nVia: {}\nVia: {}\nFrom: <sip:bob@example.com>;tag=b9\nTo: <sip:alice@example.com>;tag=t1\nCall-ID: abc@h\nCSeq: {cseq} {method}\nContent-Length: 0\n\n",
            vias[0], vias[1]
        );
        let r = one(lab.on_lan(A, &ok));
        assert_eq!(r.to, sa(B));
        assert_eq!(r.header("Call-ID").unwrap(), "abc-siproxdt1@h", "{method}");
    }
}
