//! Behaviour §11 tests 17–26 (access control, sanity checks, locally generated errors) and
//! checks of the core's receive pipeline, through the sans-IO core with the lab fixture.
#![allow(clippy::unwrap_used)] // test helpers: a failed set-up panics, as a test should
mod lab;
use lab::*;

use siproxd_rs::acl::AclList;
use siproxd_rs::config::Config;
use siproxd_rs::proxy::{Addresses, DropReason};

/// Total of all drop counters.
fn drops(lab: &Lab) -> u64 {
    lab.proxy.counters().drops.values().sum()
}

fn acl(s: &str) -> Option<AclList> {
    Some(AclList::parse(s).unwrap())
}

fn only(out: Vec<Sent>) -> Sent {
    assert_eq!(out.len(), 1, "expected exactly one message: {out:?}");
    out.into_iter().next().unwrap()
}

/// A request with standard headers: `via` is the Via value, `from`/`to` URIs, extra lines.
fn req(method: &str, ruri: &str, via: &str, from: &str, to: &str, extra: &str) -> String {
    format!(
        "{method} {ruri} SIP/2.0\nVia: {via}\nFrom: <{from}>;tag=f1\nTo: <{to}>\nCall-ID: c-{method}@x\nCSeq: 1 {method}\n{extra}Content-Length: 0\n\n"
    )
}

const VIA_A: &str = "SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKa1";
const VIA_B: &str = "SIP/2.0/UDP 198.51.100.30:5060;branch=z9hG4bKb1";

/// INVITE from B to alice (registered through the lab).
fn invite_b_to_alice(extra: &str) -> String {
    req(
        "INVITE",
        "sip:alice@203.0.113.5",
        VIA_B,
        "sip:bob@other.net",
        "sip:alice@example.com",
        extra,
    )
}

/// INVITE from A to bob.
fn invite_a_to_bob(extra: &str) -> String {
    req(
        "INVITE",
        "sip:bob@other.net",
        VIA_A,
        "sip:alice@example.com",
        "sip:bob@other.net",
        extra,
    )
}

/// A REGISTER from `src` (Via = `src`) in registrar mode.
fn register_here(src: &str, user: &str) -> String {
    format!(
        "REGISTER sip:192.168.1.1 SIP/2.0\nVia: SIP/2.0/UDP {src};branch=z9hG4bKr{user}\nFrom: <sip:{user}@example.com>;tag=r\nTo: <sip:{user}@example.com>\nCall-ID: r-{user}@x\nCSeq: 1 REGISTER\nContact: <sip:{user}@{src}>\nContent-Length: 0\n\n"
    )
}

const OTHER_NET: &str = "198.51.100.23:5060";

#[test]
fn t17_denied_host_gets_no_output_at_all() {
    let mut lab = Lab::new();
    lab.register_alice(600);
    let cfg = Config {
        hosts_deny_sip: acl("198.51.100.0/24"),
        ..Lab::config()
    };
    lab.proxy.reconfigure(cfg, None);
    let before = lab.proxy.counters().dropped(DropReason::Acl);
    let from_b = [
        invite_b_to_alice(""),
        invite_b_to_alice("Max-Forwards: 0\n"),
        req(
            "OPTIONS",
            "sip:alice@203.0.113.5",
            VIA_B,
            "sip:bob@other.net",
            "sip:alice@example.com",
            "Max-Forwards: 0\n",
        ),
        register_here(B, "bob"),
        "INVITE sip:x@y SIP/2.0\nVia: SIP/2.0/UDP 198.51.100.30\n\n".to_string(),
        "SIP/2.0 200 OK\nVia: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bKq\nVia: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKa\nFrom: <sip:alice@example.com>;tag=a\nTo: <sip:bob@other.net>;tag=b\nCall-ID: q@x\nCSeq: 1 INVITE\nContent-Length: 0\n\n".to_string(),
        "x".to_string(),
    ];
    for m in &from_b {
        assert!(lab.on_wan(B, m).is_empty(), "output for {m:?}");
    }
    assert_eq!(
        lab.proxy.counters().dropped(DropReason::Acl),
        before + from_b.len() as u64
    );
    // A is not in the denied range: its calls still go out.
    let f = only(lab.on_lan(A, &invite_a_to_bob("")));
    assert_eq!(f.to, sa(OTHER_NET));
}

#[test]
fn t18_allow_reg_limits_register_and_grants_sip() {
    let mut lab = Lab::with(Config {
        hosts_allow_reg: acl("192.168.1.0/24"),
        ..Lab::config()
    });
    // REGISTER from outside the list: dropped without a response, in both modes.
    let src = "10.0.0.5:5060";
    assert!(lab.on_lan(src, &register_here(src, "eve")).is_empty());
    let proxied =
        register_here(src, "eve").replace("REGISTER sip:192.168.1.1", "REGISTER sip:example.com");
    assert!(lab.on_lan(src, &proxied).is_empty());
    assert_eq!(
        lab.proxy
            .counters()
            .dropped(DropReason::NoRegisterPermission),
        2
    );
    assert!(lab.proxy.registry().is_empty());
    // From the LAN it is processed.
    lab.register_alice(600);

    let mut lab = Lab::with(Config {
        hosts_allow_reg: acl("192.168.1.0/24"),
        hosts_allow_sip: acl("198.51.100.0/24"),
        ..Lab::config()
    });
    lab.register_alice(600);
    // A is only in hosts_allow_reg, which implies SIP permission.
    let f = only(lab.on_lan(A, &invite_a_to_bob("")));
    assert_eq!(f.to, sa(OTHER_NET));
    // 192.0.2.7 is in neither list: no permission at all, dropped silently before parsing.
    let inv = invite_b_to_alice("").replace("198.51.100.30:5060", "192.0.2.7:5060");
    assert!(lab.on_wan("192.0.2.7:5060", &inv).is_empty());
    assert_eq!(lab.proxy.counters().dropped(DropReason::Acl), 1);
    // B is in hosts_allow_sip: the same INVITE from B reaches A.
    let f = only(lab.on_wan(B, &invite_b_to_alice("")));
    assert_eq!(f.to, sa(A));
}

#[test]
fn t19_acl_entry_without_mask_is_a_single_host() {
    // decisions §2: an entry without /prefix means that host (/32), not "match nothing".
    let list = AclList::parse("198.51.100.30").unwrap();
    assert!(list.contains(ip("198.51.100.30")));
    assert!(!list.contains(ip("198.51.100.31")));

    let mut lab = Lab::with(Config {
        hosts_allow_sip: acl("198.51.100.30"),
        ..Lab::config()
    });
    // hosts_allow_reg unset: everyone may REGISTER (registrar mode here).
    let r = only(lab.on_lan(A, &register_here(A, "alice")));
    assert_eq!(r.status(), Some(200));
    // The listed host has SIP permission ...
    let inv = req(
        "INVITE",
        "sip:alice@192.168.1.1",
        VIA_B,
        "sip:bob@other.net",
        "sip:alice@example.com",
        "",
    );
    let f = only(lab.on_wan(B, &inv));
    assert_eq!(f.to, sa(A));
    // ... its neighbour has not: dropped without a response.
    let other = inv.replace("198.51.100.30", "198.51.100.31");
    assert!(lab.on_wan("198.51.100.31:5060", &other).is_empty());
    assert_eq!(lab.proxy.counters().dropped(DropReason::NoSipPermission), 1);
}

#[test]
fn t20_short_spaceless_and_empty_uri_datagrams_are_ignored() {
    let mut lab = Lab::new();
    lab.register_alice(600);
    let received = lab.proxy.counters().received;
    let forwarded = lab.proxy.counters().forwarded;
    assert!(lab.on_lan(A, "\r\n\r\n").is_empty());
    assert!(lab.on_lan(A, "\0\0\0\0").is_empty());
    assert!(lab.on_lan(A, "OPTIONS sip:x S").is_empty(), "15 bytes");
    assert!(lab
        .on_lan(A, "INVITE_sip:bob@other.net_SIP/2.0\r\nVia:_x\r\n\r\n")
        .is_empty());
    assert_eq!(lab.proxy.counters().dropped(DropReason::TooShort), 3);
    assert_eq!(lab.proxy.counters().dropped(DropReason::RawCheck), 1);

    let empty_uri = "INVITE  SIP/2.0\nVia: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKe\nFrom: <sip:alice@example.com>;tag=a\nTo: <sip:bob@other.net>\nCall-ID: e@x\nCSeq: 1 INVITE\nContent-Length: 0\n\n";
    // No Request-URI at all: not even the lenient reply parser accepts the Request-Line, so
    // it is dropped (counted) without an answer, as upstream does.
    assert!(lab.on_lan(A, empty_uri).is_empty());
    assert_eq!(lab.proxy.counters().dropped(DropReason::Unparsable), 1);
    assert_eq!(lab.proxy.counters().received, received + 5);
    assert_eq!(lab.proxy.counters().forwarded, forwarded);
}

#[test]
fn t21_unsupported_schemes_and_missing_headers() {
    let mut lab = Lab::new();
    lab.register_alice(600);
    // The core answers sips:/tel: Request-URIs with 416 (upstream drops them silently).
    for ruri in ["sips:bob@other.net", "tel:+15551234"] {
        let r = only(lab.on_lan(
            A,
            &req(
                "INVITE",
                ruri,
                VIA_A,
                "sip:alice@example.com",
                "sip:bob@other.net",
                "",
            ),
        ));
        assert_eq!(
            r.first_line(),
            "SIP/2.0 416 Unsupported URI Scheme",
            "{ruri}"
        );
        assert_eq!(r.to, sa(A));
    }
    // Missing Call-ID / CSeq / From / To: decisions §4 answers 400 naming the header.
    let full = invite_a_to_bob("");
    for (line, reason) in [
        ("Call-ID: c-INVITE@x\n", "Missing Call-ID"),
        ("CSeq: 1 INVITE\n", "Missing CSeq"),
        ("From: <sip:alice@example.com>;tag=f1\n", "Missing From"),
        ("To: <sip:bob@other.net>\n", "Missing To"),
    ] {
        assert!(full.contains(line));
        let r = only(lab.on_lan(A, &full.replace(line, "")));
        assert_eq!(r.first_line(), format!("SIP/2.0 400 {reason}"));
        assert_eq!(r.to, sa(A));
    }
    // Without Via there is nowhere to answer: dropped, counted.
    let before = drops(&lab);
    let no_via = full.replace(&format!("Via: {VIA_A}\n"), "");
    assert!(lab.on_lan(A, &no_via).is_empty());
    let resp_no_via = "SIP/2.0 200 OK\nFrom: <sip:alice@example.com>;tag=a\nTo: <sip:bob@other.net>;tag=b\nCall-ID: q@x\nCSeq: 1 INVITE\nContent-Length: 0\n\n";
    assert!(lab.on_wan(B, resp_no_via).is_empty());
    assert_eq!(drops(&lab), before + 2);
}

#[test]
fn t22_max_forwards_zero_is_answered() {
    let mut lab = Lab::new();
    lab.register_alice(600);
    // Answered to the top Via (port 5070), not to the source port.
    let via = "SIP/2.0/UDP 198.51.100.30:5070;branch=z9hG4bKmf";
    let inv = req(
        "INVITE",
        "sip:alice@203.0.113.5",
        via,
        "sip:bob@other.net",
        "sip:alice@example.com",
        "Max-Forwards: 0\nContact: <sip:bob@198.51.100.30:5070>\n",
    );
    let r = only(lab.on_wan(B, &inv));
    assert_eq!(r.first_line(), "SIP/2.0 483 Too Many Hops");
    assert_eq!(r.to, sa("198.51.100.30:5070"));
    assert_eq!(r.from, ip(O), "from the address it arrived on");
    assert!(r.headers("Contact").is_empty());

    let opt = inv.replace("INVITE", "OPTIONS");
    let r = only(lab.on_wan(B, &opt));
    assert_eq!(r.first_line(), "SIP/2.0 200 OK");
    assert_eq!(r.headers("Contact"), vec!["<sip:bob@198.51.100.30:5070>"]);

    let abc = inv.replace("Max-Forwards: 0", "Max-Forwards: abc");
    let r = only(lab.on_wan(B, &abc));
    assert_eq!(r.first_line(), "SIP/2.0 483 Too Many Hops");
}

#[test]
fn t23_forwarded_max_forwards() {
    let mut lab = Lab::new();
    lab.register_alice(600);
    for (line, expect) in [
        ("Max-Forwards: 10\n", "9"),
        ("", "70"),
        ("Max-Forwards: 300\n", "69"),
        ("Max-Forwards: 1\n", "0"),
    ] {
        let f = only(lab.on_lan(A, &invite_a_to_bob(line)));
        assert_eq!(f.to, sa(OTHER_NET), "{line:?}");
        assert_eq!(f.headers("Max-Forwards"), vec![expect], "{line:?}");
    }
}

#[test]
fn t24_three_own_vias_below_the_top_is_a_loop() {
    let mut lab = Lab::new();
    lab.register_alice(600);
    let own = "Via: SIP/2.0/UDP 192.168.1.1:5060;branch=z9hG4bK1\nVia: SIP/2.0/UDP 203.0.113.5;branch=z9hG4bK2\n";
    let third = "Via: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bK3\n";
    let foreign = "Via: SIP/2.0/UDP 203.0.113.5:5070;branch=z9hG4bK4\n";
    let r = only(lab.on_lan(A, &invite_a_to_bob(&format!("{own}{third}"))));
    assert_eq!(r.first_line(), "SIP/2.0 482 Loop Detected");
    assert_eq!(r.to, sa(A));
    // Two of ours (and one on another port) pass.
    let f = only(lab.on_lan(A, &invite_a_to_bob(&format!("{own}{foreign}"))));
    assert_eq!(f.to, sa(OTHER_NET));
    assert!(f.status().is_none());
    assert_eq!(f.headers("Via").len(), 5);
}

#[test]
fn t25_unknown_parties_get_408_and_localhost_is_outgoing() {
    let mut lab = Lab::new();
    lab.register_alice(600);
    let r = only(lab.on_wan(
        B,
        &req(
            "INVITE",
            "sip:nobody@example.com",
            VIA_B,
            "sip:bob@other.net",
            "sip:nobody@example.com",
            "",
        ),
    ));
    assert_eq!(r.first_line(), "SIP/2.0 408 Request Timeout");
    assert_eq!(r.to, sa(B));

    let lan = "192.168.1.99:5060";
    let r = only(lab.on_lan(
        lan,
        &req(
            "INVITE",
            "sip:bob@other.net",
            "SIP/2.0/UDP 192.168.1.99:5060;branch=z9hG4bKu",
            "sip:carol@example.com",
            "sip:bob@other.net",
            "",
        ),
    ));
    assert_eq!(r.first_line(), "SIP/2.0 408 Request Timeout");
    assert_eq!(r.to, sa(lan));
    assert_eq!(
        lab.proxy.counters().dropped(DropReason::UnknownDirection),
        2
    );

    let f = only(lab.deliver(
        "127.0.0.1:5062",
        I,
        &req(
            "INVITE",
            "sip:bob@other.net",
            "SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bKlo",
            "sip:pbx@example.com",
            "sip:bob@other.net",
            "",
        ),
    ));
    assert_eq!(f.to, sa(OTHER_NET));
    assert_eq!(f.from, ip(O), "outgoing: from the outbound address");
    assert!(f.headers("Via")[0].starts_with("SIP/2.0/UDP 203.0.113.5:5060;"));
}

#[test]
fn t26_outbound_down_answers_requests_408_and_drops_responses() {
    let mut lab = Lab::new();
    lab.register_alice(600);
    // A call goes out while the WAN is up ...
    let f = only(lab.on_lan(A, &invite_a_to_bob("")));
    let our_via = f.headers("Via")[0].clone();
    lab.proxy.set_addresses(Addresses::new(ip(I), None));
    // ... then the WAN goes down: new requests get 408, the answer to the call is dropped.
    let r = only(lab.on_lan(A, &invite_a_to_bob("").replace("z9hG4bKa1", "z9hG4bKa2")));
    assert_eq!(r.first_line(), "SIP/2.0 408 Request Timeout");
    assert_eq!(r.to, sa(A));
    let reg = register("sip:example.com", "<sip:alice@192.168.1.10:5060>", "");
    let r = only(lab.on_lan(A, &reg));
    assert_eq!(r.first_line(), "SIP/2.0 408 Request Timeout");
    // Registrar mode needs no WAN (siproxd answers 408 here too): LAN phones keep registering.
    let reg = register("sip:192.168.1.1", "<sip:alice@192.168.1.10:5060>", "");
    let r = only(lab.on_lan(A, &reg));
    assert_eq!(r.first_line(), "SIP/2.0 200 OK");
    let before = drops(&lab);
    let resp = format!("SIP/2.0 180 Ringing\nVia: {our_via}\nVia: {VIA_A}\nFrom: <sip:alice@example.com>;tag=f1\nTo: <sip:bob@other.net>;tag=b\nCall-ID: c-INVITE@x\nCSeq: 1 INVITE\nContent-Length: 0\n\n");
    assert!(lab.on_wan(OTHER_NET, &resp).is_empty());
    assert_eq!(drops(&lab), before + 1);
}

// ---- pipeline checks (decisions §4) ----

#[test]
fn invalid_request_is_answered_400_naming_the_problem() {
    let mut lab = Lab::new();
    lab.register_alice(600);
    let bad = invite_a_to_bob("").replace("CSeq: 1 INVITE", "CSeq: 1 BYE");
    let r = only(lab.on_lan(A, &bad));
    assert_eq!(r.first_line(), "SIP/2.0 400 CSeq Method Mismatch");
    assert_eq!(r.to, sa(A));
    assert_eq!(lab.proxy.counters().dropped(DropReason::Invalid), 1);
    // The same problem is found when Max-Forwards is out of range too (it is replaced, not
    // an error, but must not hide the other checks).
    let bad_mf = invite_a_to_bob("Max-Forwards: 300\n").replace("CSeq: 1 INVITE", "CSeq: 1 BYE");
    let r = only(lab.on_lan(A, &bad_mf));
    assert_eq!(r.first_line(), "SIP/2.0 400 CSeq Method Mismatch");
    let bad_contact = invite_a_to_bob("Max-Forwards: 300\nContact: <sip:alice@192.168.1.10\n");
    let r = only(lab.on_lan(A, &bad_contact));
    assert_eq!(r.status(), Some(400), "{}", r.text);
}

#[test]
fn ack_is_never_answered() {
    let mut lab = Lab::new();
    lab.register_alice(600);
    let ack = |extra: &str| {
        req(
            "ACK",
            "sip:bob@other.net",
            VIA_A,
            "sip:alice@example.com",
            "sip:bob@other.net",
            extra,
        )
    };
    // Dropped (and counted) where a request would be answered 483, 482 or 400.
    let dropped = [
        ("Max-Forwards 0", ack("Max-Forwards: 0\n"), DropReason::TooManyHops),
        (
            "loop",
            ack("Via: SIP/2.0/UDP 192.168.1.1:5060;branch=z9hG4bK1\nVia: SIP/2.0/UDP 192.168.1.1:5060;branch=z9hG4bK2\nVia: SIP/2.0/UDP 192.168.1.1:5060;branch=z9hG4bK3\n"),
            DropReason::Loop,
        ),
        (
            "CSeq mismatch",
            ack("").replace("CSeq: 1 ACK", "CSeq: 1 INVITE"),
            DropReason::Invalid,
        ),
    ];
    for (what, m, why) in &dropped {
        let before = lab.proxy.counters().dropped(*why);
        let out = lab.on_lan(A, m);
        assert!(out.is_empty(), "{what}: {out:?}");
        assert_eq!(lab.proxy.counters().dropped(*why), before + 1, "{what}");
    }
    // Where a request would get 420, an ACK is forwarded (it cannot be refused).
    let f = only(lab.on_lan(A, &ack("Proxy-Require: foo\n")));
    assert_eq!(f.first_line(), "ACK sip:bob@other.net SIP/2.0");
    assert_eq!(f.to, sa(OTHER_NET));
    // An ACK with a tel: URI: see `ack_with_tel_uri_is_dropped_and_counted`.
    // An ACK from an unregistered host (upstream answers 408) is dropped and counted.
    let lan = "192.168.1.99:5060";
    let before = drops(&lab);
    let m = ack("").replace("192.168.1.10", "192.168.1.99");
    assert!(lab.on_lan(lan, &m).is_empty());
    assert_eq!(drops(&lab), before + 1);
}

#[test]
fn ack_with_tel_uri_is_dropped_and_counted() {
    let mut lab = Lab::new();
    lab.register_alice(600);
    let m = req(
        "ACK",
        "tel:+1555",
        VIA_A,
        "sip:alice@example.com",
        "sip:bob@other.net",
        "",
    );
    let before = drops(&lab);
    assert!(lab.on_lan(A, &m).is_empty());
    assert_eq!(drops(&lab), before + 1);
}

#[test]
fn response_with_max_forwards_zero_is_forwarded_not_answered() {
    // decisions §4: no 483/482 for a response.
    let mut lab = Lab::new();
    lab.register_alice(600);
    let f = only(lab.on_lan(A, &invite_a_to_bob("")));
    let our_via = f.headers("Via")[0].clone();
    let resp = format!("SIP/2.0 180 Ringing\nVia: {our_via}\nVia: {VIA_A}\nMax-Forwards: 0\nFrom: <sip:alice@example.com>;tag=f1\nTo: <sip:bob@other.net>;tag=b\nCall-ID: c-INVITE@x\nCSeq: 1 INVITE\nContent-Length: 0\n\n");
    let r = only(lab.on_wan(OTHER_NET, &resp));
    assert_eq!(r.first_line(), "SIP/2.0 180 Ringing");
    assert_eq!(r.to, sa(A));
    // Nor for a response that looks like a loop.
    let looped = resp.replace(
        "Max-Forwards: 0\n",
        "Via: SIP/2.0/UDP 192.168.1.1:5060;branch=z9hG4bK1\nVia: SIP/2.0/UDP 192.168.1.1:5060;branch=z9hG4bK2\nVia: SIP/2.0/UDP 192.168.1.1:5060;branch=z9hG4bK3\n",
    );
    let r = only(lab.on_wan(OTHER_NET, &looped));
    assert_eq!(r.first_line(), "SIP/2.0 180 Ringing");
    assert_eq!(r.to, sa(A));
}

#[test]
fn every_drop_is_counted() {
    let mut lab = Lab::new();
    lab.register_alice(600);
    lab.proxy.reconfigure(
        Config {
            hosts_deny_sip: acl("192.0.2.66/32"),
            ..Lab::config()
        },
        None,
    );
    let own_via_resp = "SIP/2.0 200 OK\nVia: SIP/2.0/UDP 10.9.9.9:5060;branch=z9hG4bKx\nFrom: <sip:a@b>;tag=1\nTo: <sip:c@d>;tag=2\nCall-ID: z@y\nCSeq: 1 INVITE\nContent-Length: 0\n\n";
    let unknown_resp = "SIP/2.0 200 OK\nVia: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bKx\nVia: SIP/2.0/UDP 10.7.7.7:5060;branch=z9hG4bKy\nFrom: <sip:zed@nowhere.example>;tag=1\nTo: <sip:c@d>;tag=2\nCall-ID: z@y\nCSeq: 1 INVITE\nContent-Length: 0\n\n";
    let cases: [(&str, &str, String, DropReason); 6] = [
        (
            "acl",
            "192.0.2.66:5060",
            invite_b_to_alice(""),
            DropReason::Acl,
        ),
        ("short", B, "hi".into(), DropReason::TooShort),
        (
            "no spaces",
            B,
            "xxxxxxxxxxxxxxxxxxxxxxxxxx".into(),
            DropReason::RawCheck,
        ),
        (
            "garbage",
            B,
            "this is not a SIP message at all\n\n".into(),
            DropReason::Unparsable,
        ),
        (
            "foreign via",
            B,
            own_via_resp.into(),
            DropReason::ResponseNotOurs,
        ),
        (
            "unknown response",
            B,
            unknown_resp.into(),
            DropReason::UnknownDirection,
        ),
    ];
    for (what, src, m, why) in &cases {
        let before = lab.proxy.counters().dropped(*why);
        let total = drops(&lab);
        let out = lab.on_wan(src, m);
        assert!(out.is_empty(), "{what}: {out:?}");
        assert_eq!(lab.proxy.counters().dropped(*why), before + 1, "{what}");
        assert_eq!(drops(&lab), total + 1, "{what}: counted once");
    }
}

#[test]
fn answered_instead_of_forwarded_is_counted() {
    let mut lab = Lab::new();
    lab.register_alice(600);
    let cases: [(&str, String, u16); 6] = [
        (
            "registrar wildcard",
            register("sip:192.168.1.1", "*", ""),
            400,
        ),
        ("Proxy-Require", invite_a_to_bob("Proxy-Require: foo\n"), 420),
        ("Max-Forwards 0", invite_a_to_bob("Max-Forwards: 0\n"), 483),
        (
            "loop",
            invite_a_to_bob("Via: SIP/2.0/UDP 192.168.1.1:5060;branch=z9hG4bK1\nVia: SIP/2.0/UDP 192.168.1.1:5060;branch=z9hG4bK2\nVia: SIP/2.0/UDP 192.168.1.1:5060;branch=z9hG4bK3\n"),
            482,
        ),
        (
            "bad Expires",
            register("sip:example.com", "<sip:alice@192.168.1.10:5060>", "Expires: x\n"),
            400,
        ),
        (
            "unknown direction",
            invite_a_to_bob("").replace("192.168.1.10", "192.168.1.99"),
            408,
        ),
    ];
    for (what, m, code) in &cases {
        let src = if what.starts_with("unknown") {
            "192.168.1.99:5060"
        } else {
            A
        };
        let total = drops(&lab);
        let r = only(lab.on_lan(src, m));
        assert_eq!(r.status(), Some(*code), "{what}");
        assert_eq!(drops(&lab), total + 1, "{what}: counted once");
    }
}

#[test]
fn response_found_by_second_via_goes_to_the_phone() {
    // behaviour §4.5 rule 5: From names nobody registered, but the Via below ours is A's.
    let mut lab = Lab::new();
    lab.register_alice(600);
    let inv = req(
        "INVITE",
        "sip:bob@other.net",
        VIA_A,
        "sip:1234@pbx.example",
        "sip:bob@other.net",
        "",
    );
    let f = only(lab.on_lan(A, &inv));
    assert_eq!(f.to, sa(OTHER_NET));
    let our_via = f.headers("Via")[0].clone();
    let resp = format!("SIP/2.0 486 Busy Here\nVia: {our_via}\nVia: {VIA_A}\nFrom: <sip:1234@pbx.example>;tag=f1\nTo: <sip:bob@other.net>;tag=b\nCall-ID: c-INVITE@x\nCSeq: 1 INVITE\nContent-Length: 0\n\n");
    let r = only(lab.on_wan(OTHER_NET, &resp));
    assert_eq!(r.first_line(), "SIP/2.0 486 Busy Here");
    assert_eq!(r.to, sa(A));
    assert_eq!(r.from, ip(I));
    assert_eq!(r.headers("Via"), vec![VIA_A]);
    // The same response for a Via nobody registered is dropped.
    let stray = resp.replace(VIA_A, "SIP/2.0/UDP 192.168.1.77:5060;branch=z9hG4bKs");
    let before = lab.proxy.counters().dropped(DropReason::UnknownDirection);
    assert!(lab.on_wan(OTHER_NET, &stray).is_empty());
    assert_eq!(
        lab.proxy.counters().dropped(DropReason::UnknownDirection),
        before + 1
    );
}

#[test]
fn unparsable_request_with_usable_headers_is_answered_400() {
    let mut lab = Lab::new();
    lab.register_alice(600);
    let bad = invite_a_to_bob("").replace("Content-Length: 0", "Content-Length: abc");
    let r = only(lab.on_lan(A, &bad));
    assert_eq!(r.first_line(), "SIP/2.0 400 Bad Content-Length");
    assert_eq!(r.to, sa(A));
    assert_eq!(lab.proxy.counters().dropped(DropReason::Unparsable), 1);
    // The same defect in a response: dropped, counted, never answered.
    let resp = "SIP/2.0 200 OK\nVia: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bKx\nVia: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKy\nFrom: <sip:alice@example.com>;tag=a\nTo: <sip:bob@other.net>;tag=b\nCall-ID: x@y\nCSeq: 1 INVITE\nContent-Length: abc\n\n";
    assert!(lab.on_wan(OTHER_NET, resp).is_empty());
    assert_eq!(lab.proxy.counters().dropped(DropReason::Unparsable), 2);
}

#[test]
fn counters_of_a_registration_and_a_call() {
    let mut lab = Lab::new();
    lab.register_alice(600);
    let c = lab.proxy.counters().clone();
    assert_eq!((c.received, c.forwarded, c.generated), (2, 2, 0));
    assert!(c.drops.is_empty(), "{:?}", c.drops);
    only(lab.on_lan(A, &invite_a_to_bob("")));
    only(lab.on_lan(A, &invite_a_to_bob("Max-Forwards: 0\n")));
    let c = lab.proxy.counters();
    assert_eq!((c.received, c.forwarded, c.generated), (4, 3, 1));
    assert_eq!(c.dropped(DropReason::TooManyHops), 1);
}
