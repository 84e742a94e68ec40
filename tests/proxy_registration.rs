//! Behaviour §11 tests 1–16 (registration in outbound-proxy and registrar mode, proxy
//! authentication) through the sans-IO core, with the lab fixture of `tests/lab`.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)] // test helpers: a failed set-up panics, as a test should
mod lab;
use lab::*;

use md5::{Digest, Md5};
use siproxd_rs::auth::{Authenticator, PasswordFile};
use siproxd_rs::config::Config;
use siproxd_rs::proxy::DropReason;

fn md5_hex(s: &str) -> String {
    Md5::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An INVITE from B to `to` (Request-URI `ruri`).
fn invite_from_b(ruri: &str, to: &str, call: &str) -> String {
    request(
        &format!("INVITE {ruri} SIP/2.0"),
        &format!("Via: SIP/2.0/UDP 198.51.100.30:5060;branch=z9hG4bK{call}\nMax-Forwards: 70\nFrom: <sip:bob@other.net>;tag=b1\nTo: <{to}>\nCall-ID: {call}@198.51.100.30\nCSeq: 1 INVITE\nContact: <sip:bob@198.51.100.30:5060>\n"),
        "",
    )
}

/// An INVITE from A (Via and Contact of A) to bob.
fn invite_from_a(call: &str) -> String {
    request(
        "INVITE sip:bob@example.com SIP/2.0",
        &format!("Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bK{call}\nMax-Forwards: 70\nFrom: <sip:alice@example.com>;tag=a1\nTo: <sip:bob@example.com>\nCall-ID: {call}@192.168.1.10\nCSeq: 1 INVITE\nContact: <sip:alice@192.168.1.10:5060>\n"),
        "",
    )
}

/// The registrar's answer to a forwarded REGISTER `fwd`, with extra header lines.
fn registrar_200(fwd: &Sent, extra: &str) -> String {
    let branch = fwd.msg().top_via().unwrap().branch().unwrap().to_vec();
    format!(
        "SIP/2.0 200 OK\nVia: SIP/2.0/UDP 203.0.113.5:5060;branch={}\nVia: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKreg1\nRecord-Route: <sip:edge.example.com;lr>\nFrom: <sip:alice@example.com>;tag=r1\nTo: <sip:alice@example.com>;tag=p1\nCall-ID: reg1@192.168.1.10\nCSeq: 1 REGISTER\n{extra}Content-Length: 0\n\n",
        String::from_utf8_lossy(&branch)
    )
}

/// A REGISTER of `user`@`domain` from `src` (Via = `src`) to `ruri`, with extra lines.
fn register_of(
    src: &str,
    ruri: &str,
    user: &str,
    domain: &str,
    contact: &str,
    extra: &str,
) -> String {
    let contact_line = header_line("Contact", contact);
    format!(
        "REGISTER {ruri} SIP/2.0\nVia: SIP/2.0/UDP {src};branch=z9hG4bK{user}\nMax-Forwards: 70\nFrom: <sip:{user}@{domain}>;tag=r{user}\nTo: <sip:{user}@{domain}>\nCall-ID: reg-{user}@{src}\nCSeq: 1 REGISTER\n{contact_line}{extra}Content-Length: 0\n\n"
    )
}

/// The one message sent, or a failure listing what was sent.
/// A sends a REGISTER for the provider's domain with `contact` and `extra` header lines; the
/// one message the proxy sends for it.
fn a_registers(lab: &mut Lab, contact: &str, extra: &str) -> Sent {
    only(lab.on_lan(A, &register("sip:example.com", contact, extra)))
}

/// The registrar's 200 (with `extra` header lines) to the forwarded REGISTER `fwd`; the one
/// message the proxy sends for it.
fn registrar_answers(lab: &mut Lab, fwd: &Sent, extra: &str) -> Sent {
    only(lab.on_wan(PROVIDER, &registrar_200(fwd, extra)))
}

fn only(out: Vec<Sent>) -> Sent {
    assert_eq!(out.len(), 1, "expected exactly one message: {out:?}");
    out.into_iter().next().unwrap()
}

#[test]
fn t01_register_is_forwarded_with_own_via_and_masqueraded_contact() {
    let mut lab = Lab::new();
    let reg = register(
        "sip:example.com",
        "<sip:alice@192.168.1.10:5060>;expires=3600",
        "",
    );
    let f = only(lab.on_lan(A, &reg));
    assert_eq!(f.to, sa(PROVIDER));
    assert_eq!(f.from, ip(O), "sent from the outbound address");
    assert_eq!(f.first_line(), "REGISTER sip:example.com SIP/2.0");
    let vias = f.headers("Via");
    assert_eq!(
        vias,
        vec![
            format!(
                "SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bK{}",
                md5_hex("z9hG4bKreg1")
            ),
            "SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKreg1".to_string(),
        ]
    );
    assert_eq!(
        f.headers("Contact"),
        vec!["<sip:alice@203.0.113.5>;expires=3600"]
    );
    assert_eq!(f.headers("Max-Forwards"), vec!["69"]);
    assert!(f.headers("Record-Route").is_empty(), "{}", f.text);
    // Header values the proxy does not rewrite are kept.
    assert_eq!(f.header("To").unwrap(), "<sip:alice@example.com>");
    assert_eq!(f.header("Call-ID").unwrap(), "reg1@192.168.1.10");

    // Without Max-Forwards, 70 is added.
    let mut lab = Lab::new();
    let f = only(lab.on_lan(A, &reg.replace("Max-Forwards: 70\n", "")));
    assert_eq!(f.headers("Max-Forwards"), vec!["70"]);
}

#[test]
fn t02_register_without_expiry_gets_default_expires_added() {
    let mut lab = Lab::new();
    let f = a_registers(&mut lab, "<sip:alice@192.168.1.10:5060>", "");
    assert_eq!(f.to, sa(PROVIDER));
    assert_eq!(f.headers("Expires"), vec!["3600"]);
    assert_eq!(f.headers("Contact"), vec!["<sip:alice@203.0.113.5>"]);

    // An expiry in the Contact or the Expires header is not duplicated.
    let mut lab = Lab::new();
    let f = a_registers(&mut lab, "<sip:alice@192.168.1.10:5060>", "Expires: 120\n");
    assert_eq!(f.headers("Expires"), vec!["120"]);
}

#[test]
fn t03_listen_port_5070_appears_in_contact_and_via() {
    let mut lab = Lab::with(Config {
        sip_listen_port: 5070,
        ..Lab::config()
    });
    let f = a_registers(&mut lab, "<sip:alice@192.168.1.10:5060>;expires=3600", "");
    assert_eq!(f.to, sa(PROVIDER));
    assert_eq!(
        f.headers("Contact"),
        vec!["<sip:alice@203.0.113.5:5070>;expires=3600"]
    );
    assert!(
        f.headers("Via")[0].starts_with("SIP/2.0/UDP 203.0.113.5:5070;branch=z9hG4bK"),
        "{}",
        f.text
    );
}

#[test]
fn t04_registrar_200_goes_back_to_a_and_grants_its_lifetime() {
    let mut lab = Lab::new();
    let fwd = a_registers(&mut lab, "<sip:alice@192.168.1.10:5060>;expires=3600", "");
    let back = registrar_answers(
        &mut lab,
        &fwd,
        "Contact: <sip:alice@203.0.113.5>;expires=600\n",
    );
    assert_eq!(back.to, sa(A));
    assert_eq!(back.from, ip(I), "sent from the inbound address");
    assert_eq!(back.status(), Some(200));
    assert_eq!(
        back.headers("Via"),
        vec!["SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKreg1"]
    );
    assert_eq!(
        back.headers("Contact"),
        vec!["<sip:alice@192.168.1.10:5060>;expires=600"]
    );
    assert_eq!(
        back.headers("Record-Route"),
        vec![
            "<sip:edge.example.com;lr>",
            "<sip:siproxd@192.168.1.1:5060;lr>"
        ],
        "own RR appended as the last one"
    );

    // 300 s later an incoming INVITE is still routed to A ...
    assert!(lab.advance(300_000).is_empty());
    let f = only(lab.on_wan(
        B,
        &invite_from_b("sip:alice@203.0.113.5", "sip:alice@example.com", "c300"),
    ));
    assert_eq!(f.to, sa(A));
    assert_eq!(f.first_line(), "INVITE sip:alice@192.168.1.10:5060 SIP/2.0");
    // ... and after the 600 s granted (plus grace) it is not.
    lab.advance(310_000);
    let r = only(lab.on_wan(
        B,
        &invite_from_b("sip:alice@203.0.113.5", "sip:alice@example.com", "c610"),
    ));
    assert_eq!(r.status(), Some(408));
    assert_eq!(r.to, sa(B));
}

#[test]
fn t05_binding_without_granted_expiry_vanishes_after_10s() {
    let mut lab = Lab::new();
    let fwd = a_registers(&mut lab, "<sip:alice@192.168.1.10:5060>;expires=3600", "");
    // The 200 lists the Contact without any expiry information (no parameter, no Expires).
    let back = registrar_answers(&mut lab, &fwd, "Contact: <sip:alice@203.0.113.5>\n");
    assert_eq!(back.to, sa(A));
    assert_eq!(
        back.headers("Contact"),
        vec!["<sip:alice@192.168.1.10:5060>"]
    );

    // The 2xx confirms the binding for siproxd's provisional 5 s: A is known meanwhile.
    lab.advance(3_000);
    let f = only(lab.on_lan(A, &invite_from_a("early")));
    assert_eq!(f.to, sa(PROVIDER));
    assert!(f.status().is_none());

    // 15 s after registering, A is unknown: its INVITE gets 408.
    lab.advance(12_000);
    assert!(lab.proxy.registry().is_empty());
    let r = only(lab.on_lan(A, &invite_from_a("late")));
    assert_eq!(r.status(), Some(408));
    assert_eq!(r.to, sa(A));
    assert_eq!(
        lab.proxy.counters().dropped(DropReason::UnknownDirection),
        1
    );
}

#[test]
fn t06_register_expires_0_is_forwarded_and_binding_goes() {
    let mut lab = Lab::new();
    lab.register_alice(600);
    let fwd = a_registers(&mut lab, "<sip:alice@192.168.1.10:5060>", "Expires: 0\n");
    assert_eq!(fwd.to, sa(PROVIDER));
    assert_eq!(fwd.headers("Expires"), vec!["0"]);
    assert_eq!(fwd.headers("Contact"), vec!["<sip:alice@203.0.113.5>"]);
    // The registrar's 200 (no bindings left) is still routed back to A.
    let back = registrar_answers(&mut lab, &fwd, "");
    assert_eq!(back.to, sa(A));
    assert_eq!(back.status(), Some(200));

    lab.advance(11_000);
    assert!(lab.proxy.registry().is_empty());
    let r = only(lab.on_wan(
        B,
        &invite_from_b("sip:alice@203.0.113.5", "sip:alice@example.com", "gone"),
    ));
    assert_eq!(r.status(), Some(408));
    assert_eq!(r.to, sa(B));
}

#[test]
fn t07_register_query_from_unknown_host_is_answered_here() {
    for contact in ["", "*"] {
        let mut lab = Lab::new();
        let extra = if contact.is_empty() {
            ""
        } else {
            "Expires: 0\n"
        };
        let r = only(lab.on_lan(A, &register("sip:example.com", contact, extra)));
        assert_eq!(r.to, sa(A), "answered, not forwarded (Contact {contact:?})");
        assert_eq!(r.from, ip(I));
        assert_eq!(r.status(), Some(200));
        assert_eq!(
            r.headers("Via"),
            vec!["SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKreg1"]
        );
        assert_eq!(r.header("From").unwrap(), "<sip:alice@example.com>;tag=r1");
        assert_eq!(r.header("Call-ID").unwrap(), "reg1@192.168.1.10");
        assert_eq!(r.header("CSeq").unwrap(), "1 REGISTER");
        // decisions §4: generated responses carry a To-tag.
        assert!(
            r.header("To")
                .unwrap()
                .starts_with("<sip:alice@example.com>;tag="),
            "{}",
            r.text
        );
        assert!(lab.proxy.registry().is_empty());
    }
}

#[test]
fn t07_register_query_from_registered_host_is_forwarded_keeping_bindings() {
    let mut lab = Lab::new();
    lab.register_alice(600);
    let f = a_registers(&mut lab, "", "");
    assert_eq!(f.to, sa(PROVIDER));
    assert!(f.status().is_none(), "forwarded, not answered");
    assert!(f.headers("Contact").is_empty());
    lab.advance(20_000);
    let inv = only(lab.on_wan(
        B,
        &invite_from_b("sip:alice@203.0.113.5", "sip:alice@example.com", "q1"),
    ));
    assert_eq!(inv.to, sa(A), "the query removed no binding");
}

#[test]
fn t07_wildcard_unregister_from_registered_host_removes_bindings() {
    // decisions §4 (changed from upstream, where the wildcard never removes anything):
    // `Contact: *` with `Expires: 0` removes all bindings of the AOR once they lapse.
    let mut lab = Lab::new();
    lab.register_alice(600);
    let f = a_registers(&mut lab, "*", "Expires: 0\n");
    assert_eq!(f.to, sa(PROVIDER));
    assert_eq!(f.headers("Contact"), vec!["*"]);
    lab.advance(11_000);
    assert!(lab.proxy.registry().is_empty());
}

#[test]
fn t07_registrar_mode_query_gets_exactly_one_200() {
    // decisions §4: upstream sends 200 followed by 503; siproxd-rs answers once.
    let mut lab = Lab::new();
    let out = lab.on_lan(A, &register("sip:192.168.1.1", "", ""));
    let r = only(out);
    assert_eq!(r.status(), Some(200));
    assert_eq!(r.to, sa(A));
    assert!(r.headers("Contact").is_empty(), "nothing registered");
}

#[test]
fn t08_response_with_foreign_top_via_is_dropped() {
    let mut lab = Lab::new();
    lab.register_alice(600);
    let resp = "SIP/2.0 200 OK\nVia: SIP/2.0/UDP 10.9.9.9:5060;branch=z9hG4bKx\nVia: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKy\nFrom: <sip:alice@example.com>;tag=a\nTo: <sip:bob@example.com>;tag=b\nCall-ID: x@y\nCSeq: 1 INVITE\nContent-Length: 0\n\n";
    let before = lab.proxy.counters().dropped(DropReason::ResponseNotOurs);
    assert!(lab.on_wan(B, resp).is_empty());
    assert_eq!(
        lab.proxy.counters().dropped(DropReason::ResponseNotOurs),
        before + 1
    );
}

#[test]
fn t09_registrar_mode_answers_200_and_forwards_nothing() {
    let mut lab = Lab::new();
    let reg = "REGISTER sip:192.168.1.1 SIP/2.0\nVia: SIP/2.0/UDP 192.168.1.10:5062;branch=z9hG4bKr9\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKinner\nMax-Forwards: 70\nFrom: <sip:alice@foo.example>;tag=f9\nTo: <sip:alice@foo.example>\nCall-ID: r9@192.168.1.10\nCSeq: 7 REGISTER\nContact: <sip:alice@192.168.1.10:5062>\nContent-Length: 0\n\n";
    // From another source port: the answer follows the Via port.
    let r = only(lab.on_lan("192.168.1.10:40000", reg));
    assert_eq!(r.to, sa("192.168.1.10:5062"));
    assert_eq!(r.from, ip(I));
    assert_eq!(r.first_line(), "SIP/2.0 200 OK");
    assert_eq!(
        r.headers("Via"),
        vec![
            "SIP/2.0/UDP 192.168.1.10:5062;branch=z9hG4bKr9",
            "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKinner"
        ]
    );
    assert_eq!(r.header("From").unwrap(), "<sip:alice@foo.example>;tag=f9");
    assert_eq!(r.header("Call-ID").unwrap(), "r9@192.168.1.10");
    assert_eq!(r.header("CSeq").unwrap(), "7 REGISTER");
    // decisions §4: a To-tag is added (upstream adds none).
    assert!(r
        .header("To")
        .unwrap()
        .starts_with("<sip:alice@foo.example>;tag="));
    // The 200 lists the binding with its lifetime (RFC 3261 §10.3 step 8) instead of
    // echoing the request's Contact verbatim.
    assert_eq!(
        r.headers("Contact"),
        vec!["<sip:alice@192.168.1.10:5062>;expires=3600"]
    );
    assert_eq!(r.headers("Expires"), vec!["3600"]);
    assert_eq!(r.headers("Content-Length"), vec!["0"]);

    // The binding is live at once: B's INVITE for alice@foo.example reaches A's contact.
    let f = only(lab.on_wan(
        B,
        &invite_from_b("sip:alice@foo.example", "sip:alice@foo.example", "r9c"),
    ));
    assert_eq!(f.to, sa("192.168.1.10:5062"));
    assert_eq!(f.first_line(), "INVITE sip:alice@192.168.1.10:5062 SIP/2.0");
}

#[test]
fn t10_registrar_mode_on_outbound_address_and_proxy_mode_on_other_port() {
    let mut lab = Lab::new();
    let r = only(lab.on_lan(
        A,
        &register("sip:203.0.113.5", "<sip:alice@192.168.1.10:5060>", ""),
    ));
    assert_eq!(r.status(), Some(200));
    assert_eq!(r.to, sa(A));

    let mut lab = Lab::new();
    let f = only(lab.on_lan(
        A,
        &register("sip:192.168.1.1:5080", "<sip:alice@192.168.1.10:5060>", ""),
    ));
    assert!(f.status().is_none(), "forwarded, not answered: {}", f.text);
    assert_eq!(f.to, sa("192.168.1.1:5080"));
    assert_eq!(f.first_line(), "REGISTER sip:192.168.1.1:5080 SIP/2.0");
    assert_eq!(f.headers("Contact"), vec!["<sip:alice@203.0.113.5>"]);
}

#[test]
fn t15_masked_host_routes_invite_for_the_public_name() {
    let mut lab = Lab::with(Config {
        mask_host: vec!["alice-host.lan".into()],
        masked_host: vec!["pub.example.org".into()],
        ..Lab::config()
    });
    let r = only(lab.on_lan(
        A,
        &register_of(
            A,
            "sip:192.168.1.1",
            "alice",
            "alice-host.lan",
            "<sip:alice@192.168.1.10:5060>",
            "",
        ),
    ));
    assert_eq!(r.status(), Some(200));
    let (_, e) = lab.proxy.registry().iter().next().unwrap();
    assert_eq!(e.masq_url().to_string(), "sip:alice@pub.example.org");

    let f = only(lab.on_wan(
        B,
        &invite_from_b(
            "sip:alice@pub.example.org",
            "sip:alice@pub.example.org",
            "m1",
        ),
    ));
    assert_eq!(f.to, sa(A));
    assert_eq!(f.first_line(), "INVITE sip:alice@192.168.1.10:5060 SIP/2.0");
    // Another user at the public name is not routed.
    let r = only(lab.on_wan(
        B,
        &invite_from_b(
            "sip:carol@pub.example.org",
            "sip:carol@pub.example.org",
            "m2",
        ),
    ));
    assert_eq!(r.status(), Some(408));
}

#[test]
fn t16_full_table_answers_503_in_registrar_mode() {
    // A small table (decisions §3: capacity from `max_registrations`) stands in for 512.
    let mut lab = Lab::with(Config {
        max_registrations: 4,
        ..Lab::config()
    });
    for n in 0..4 {
        let src = format!("192.168.1.{}:5060", 20 + n);
        let user = format!("u{n}");
        let r = only(lab.on_lan(
            &src,
            &register_of(
                &src,
                "sip:192.168.1.1",
                &user,
                "example.com",
                &format!("<sip:{user}@{src}>"),
                "",
            ),
        ));
        assert_eq!(r.status(), Some(200), "registration {n}");
    }
    let src = "192.168.1.30:5060";
    let fifth = register_of(
        src,
        "sip:192.168.1.1",
        "u4",
        "example.com",
        "<sip:u4@192.168.1.30:5060>",
        "",
    );
    let r = only(lab.on_lan(src, &fifth));
    assert_eq!(r.status(), Some(503));
    assert_eq!(r.to, sa(src));
    assert_eq!(
        lab.proxy
            .counters()
            .dropped(DropReason::RegistrationTableFull),
        1
    );
    assert_eq!(lab.proxy.registry().len(), 4);

    // A refresh of a registered AOR still succeeds while the table is full.
    let src = "192.168.1.20:5060";
    let r = only(lab.on_lan(
        src,
        &register_of(
            src,
            "sip:192.168.1.1",
            "u0",
            "example.com",
            "<sip:u0@192.168.1.20:5060>",
            "",
        ),
    ));
    assert_eq!(r.status(), Some(200));
}

#[test]
fn t16_full_table_in_proxy_mode_is_answered_503() {
    // decisions §3: a full table is answered 503 (siproxd neither forwards nor answers).
    let mut lab = Lab::with(Config {
        max_registrations: 1,
        ..Lab::config()
    });
    lab.register_alice(600);
    let src = "192.168.1.30:5060";
    let reg = register_of(
        src,
        "sip:example.com",
        "bob",
        "example.com",
        "<sip:bob@192.168.1.30:5060>",
        "",
    );
    let r = only(lab.on_lan(src, &reg));
    assert_eq!(r.first_line(), "SIP/2.0 503 Registration Table Full");
    assert_eq!(r.to, sa(src));
    assert_eq!(
        lab.proxy
            .counters()
            .dropped(DropReason::RegistrationTableFull),
        1
    );
}

#[test]
fn provisional_or_lapsed_binding_does_not_route_incoming_requests() {
    // decisions §4: before the registrar's 2xx the binding only routes the REGISTER response.
    let mut lab = Lab::new();
    let fwd = a_registers(&mut lab, "<sip:alice@192.168.1.10:5060>", "");
    assert_eq!(fwd.to, sa(PROVIDER));
    let r = only(lab.on_wan(
        B,
        &invite_from_b("sip:alice@203.0.113.5", "sip:alice@example.com", "prov"),
    ));
    assert_eq!(r.status(), Some(408), "{}", r.text);
    assert_eq!(r.to, sa(B));

    // Expired but still in its grace period: not routed either.
    let mut lab = Lab::new();
    lab.register_alice(600);
    lab.advance(601_000);
    assert!(!lab.proxy.registry().is_empty(), "in grace");
    let r = only(lab.on_wan(
        B,
        &invite_from_b("sip:alice@203.0.113.5", "sip:alice@example.com", "grace"),
    ));
    assert_eq!(r.status(), Some(408), "{}", r.text);
    assert_eq!(r.to, sa(B));
}

#[test]
fn registrar_mode_wildcard_needs_expires_0() {
    // RFC 3261 §10.3 step 6: `Contact: *` is only valid alone and with `Expires: 0`.
    let mut lab = Lab::new();
    let r = only(lab.on_lan(
        A,
        &register("sip:192.168.1.1", "<sip:alice@192.168.1.10:5060>", ""),
    ));
    assert_eq!(r.status(), Some(200));
    for (contact, extra) in [
        ("*", ""),
        ("*", "Expires: 60\n"),
        ("*, <sip:alice@192.168.1.10:5062>", "Expires: 0\n"),
    ] {
        let r = only(lab.on_lan(A, &register("sip:192.168.1.1", contact, extra)));
        assert_eq!(r.status(), Some(400), "{contact} {extra:?}: {}", r.text);
        assert_eq!(lab.proxy.registry().len(), 1, "binding kept");
    }
    let r = only(lab.on_lan(A, &register("sip:192.168.1.1", "*", "Expires: 0\n")));
    assert_eq!(r.status(), Some(200));
    assert!(lab.proxy.registry().is_empty());
}

#[test]
fn registrar_mode_200_expires_matches_the_granted_lifetime() {
    let mut lab = Lab::new();
    let r = only(lab.on_lan(
        A,
        &register(
            "sip:192.168.1.1",
            "<sip:alice@192.168.1.10:5060>;expires=60",
            "",
        ),
    ));
    assert_eq!(r.status(), Some(200));
    assert_eq!(
        r.headers("Contact"),
        vec!["<sip:alice@192.168.1.10:5060>;expires=60"]
    );
    // No Expires header contradicting the Contact's 60 s (siproxd echoes only a request's
    // Expires header).
    assert!(r.headers("Expires").is_empty(), "{}", r.text);

    let r = only(lab.on_lan(
        A,
        &register(
            "sip:192.168.1.1",
            "<sip:alice@192.168.1.10:5060>",
            "Expires: 120\n",
        ),
    ));
    assert_eq!(r.headers("Expires"), vec!["120"]);
    assert_eq!(
        r.headers("Contact"),
        vec!["<sip:alice@192.168.1.10:5060>;expires=120"]
    );
}

#[test]
fn proxy_mode_invalid_wildcard_is_forwarded_and_removes_nothing() {
    let mut lab = Lab::new();
    lab.register_alice(600);
    let f = a_registers(&mut lab, "*", "Expires: 60\n");
    assert_eq!(f.to, sa(PROVIDER), "the registrar answers it");
    lab.advance(11_000);
    let inv = only(lab.on_wan(
        B,
        &invite_from_b("sip:alice@203.0.113.5", "sip:alice@example.com", "w1"),
    ));
    assert_eq!(inv.to, sa(A));
}

// ---- tests 11–14: proxy authentication in registrar mode ----

fn auth_lab(passwd: Option<&str>, pwfile: Option<&str>) -> Lab {
    let mut lab = Lab::new();
    let cfg = Config {
        proxy_auth_realm: Some("testrealm".into()),
        ..Lab::config()
    };
    let pwfile = pwfile.map(|t| PasswordFile::parse(t).0);
    let auth = Authenticator::new("testrealm", [42u8; 32], passwd, pwfile, false);
    lab.proxy.reconfigure(cfg, Some(auth));
    lab
}

/// The nonce of a 407's MD5 challenge.
fn nonce_of(r: &Sent) -> String {
    let ch = r.headers("Proxy-Authenticate");
    let md5 = ch.iter().find(|c| c.contains("algorithm=MD5")).unwrap();
    let start = md5.find("nonce=\"").unwrap() + 7;
    let len = md5[start..].find('"').unwrap();
    md5[start..start + len].to_string()
}

fn digest_response(user: &str, password: &str, nonce: &str) -> String {
    let ha1 = md5_hex(&format!("{user}:testrealm:{password}"));
    let ha2 = md5_hex("REGISTER:sip:192.168.1.1");
    md5_hex(&format!("{ha1}:{nonce}:{ha2}"))
}

fn authorized_register(user: &str, nonce: &str, response: &str) -> String {
    register(
        "sip:192.168.1.1",
        "<sip:alice@192.168.1.10:5060>",
        &format!("Proxy-Authorization: Digest username=\"{user}\", realm=\"testrealm\", nonce=\"{nonce}\", uri=\"sip:192.168.1.1\", response=\"{response}\"\n"),
    )
}

#[test]
fn t11_registrar_mode_without_credentials_is_challenged() {
    let mut lab = auth_lab(Some("secret"), None);
    let reg = register("sip:192.168.1.1", "<sip:alice@192.168.1.10:5060>", "");
    let r = only(lab.on_lan(A, &reg));
    assert_eq!(r.first_line(), "SIP/2.0 407 Proxy Authentication Required");
    assert_eq!(r.to, sa(A));
    let ch = r.headers("Proxy-Authenticate");
    assert_eq!(ch.len(), 1, "MD5 only unless SHA-256 is enabled: {ch:?}");
    assert!(
        ch[0].starts_with("Digest realm=\"testrealm\", nonce=\""),
        "{}",
        ch[0]
    );
    // decisions §5: qop=auth and algorithm=MD5 are offered.
    assert!(ch[0].contains("qop=\"auth\""));
    let n1 = nonce_of(&r);
    assert!(
        n1.len() >= 32 && n1.bytes().all(|b| b.is_ascii_hexdigit()),
        "{n1}"
    );
    assert!(lab.proxy.registry().is_empty());
    // decisions §5: nonces are timestamped, so a later challenge carries a different one.
    lab.advance(1_000);
    let n2 = nonce_of(&only(lab.on_lan(A, &reg)));
    assert_ne!(n1, n2);
}

#[test]
fn t12_correct_digest_registers() {
    let mut lab = auth_lab(Some("secret"), None);
    let reg = register("sip:192.168.1.1", "<sip:alice@192.168.1.10:5060>", "");
    let nonce = nonce_of(&only(lab.on_lan(A, &reg)));
    let resp = digest_response("alice", "secret", &nonce);
    let r = only(lab.on_lan(A, &authorized_register("alice", &nonce, &resp)));
    assert_eq!(r.first_line(), "SIP/2.0 200 OK");
    assert_eq!(lab.proxy.registry().len(), 1);
}

#[test]
fn t13_wrong_digest_gets_403() {
    // decisions §4: wrong credentials get 403 (siproxd answers 503).
    let mut lab = auth_lab(Some("secret"), None);
    let reg = register("sip:192.168.1.1", "<sip:alice@192.168.1.10:5060>", "");
    let nonce = nonce_of(&only(lab.on_lan(A, &reg)));
    let resp = digest_response("alice", "wrong", &nonce);
    let r = only(lab.on_lan(A, &authorized_register("alice", &nonce, &resp)));
    assert_eq!(r.first_line(), "SIP/2.0 403 Forbidden");
    assert!(lab.proxy.registry().is_empty());
    // A nonce this proxy never issued, with the right password, is not accepted either: it is
    // challenged again with stale=true (a phone holding a nonce from before a restart).
    let fake = "0123456789abcdef0123456789abcdef";
    let resp = digest_response("alice", "secret", fake);
    let r = only(lab.on_lan(A, &authorized_register("alice", fake, &resp)));
    assert_eq!(r.status(), Some(407));
    assert!(r.text.contains("stale=true"), "{}", r.text);
    assert!(lab.proxy.registry().is_empty());
}

#[test]
fn t14_password_file_wins_over_proxy_auth_passwd() {
    let mut lab = auth_lab(Some("other"), Some("# users\nalice secret\n"));
    let reg = register("sip:192.168.1.1", "<sip:alice@192.168.1.10:5060>", "");
    let nonce = nonce_of(&only(lab.on_lan(A, &reg)));
    // bob is not in the file (decisions §4: 403, siproxd 503).
    let resp = digest_response("bob", "secret", &nonce);
    let r = only(lab.on_lan(A, &authorized_register("bob", &nonce, &resp)));
    assert_eq!(r.status(), Some(403));
    // proxy_auth_passwd is ignored when a file is configured.
    let resp = digest_response("alice", "other", &nonce);
    let r = only(lab.on_lan(A, &authorized_register("alice", &nonce, &resp)));
    assert_eq!(r.status(), Some(403));
    let resp = digest_response("alice", "secret", &nonce);
    let r = only(lab.on_lan(A, &authorized_register("alice", &nonce, &resp)));
    assert_eq!(r.first_line(), "SIP/2.0 200 OK");
}

#[test]
fn stale_nonce_is_challenged_again() {
    let mut lab = auth_lab(Some("secret"), None);
    let reg = register("sip:192.168.1.1", "<sip:alice@192.168.1.10:5060>", "");
    let nonce = nonce_of(&only(lab.on_lan(A, &reg)));
    lab.advance(301_000);
    let resp = digest_response("alice", "secret", &nonce);
    let r = only(lab.on_lan(A, &authorized_register("alice", &nonce, &resp)));
    assert_eq!(r.status(), Some(407));
    assert!(r
        .header("Proxy-Authenticate")
        .unwrap()
        .contains("stale=true"));
    assert_ne!(nonce_of(&r), nonce);
}

#[test]
fn auth_does_not_apply_to_proxied_register() {
    // behaviour §4.7: only REGISTERs in registrar mode are authenticated.
    let mut lab = auth_lab(Some("secret"), None);
    let f = a_registers(&mut lab, "<sip:alice@192.168.1.10:5060>", "");
    assert_eq!(f.to, sa(PROVIDER));
}

#[test]
fn unreadable_expiry_is_answered_400_in_both_modes() {
    for ruri in ["sip:192.168.1.1", "sip:example.com"] {
        let mut lab = Lab::new();
        let r = only(lab.on_lan(
            A,
            &register(ruri, "<sip:alice@192.168.1.10:5060>", "Expires: soon\n"),
        ));
        assert_eq!(r.first_line(), "SIP/2.0 400 Bad Expires", "{ruri}");
        assert_eq!(r.to, sa(A));
        let r = only(lab.on_lan(
            A,
            &register(ruri, "<sip:alice@192.168.1.10:5060>;expires=later", ""),
        ));
        assert_eq!(r.first_line(), "SIP/2.0 400 Bad Contact expires", "{ruri}");
        assert!(lab.proxy.registry().is_empty());
    }
}

#[test]
fn registrar_401_challenge_then_authorized_retry() {
    let mut lab = Lab::new();
    let fwd = a_registers(&mut lab, "<sip:alice@192.168.1.10:5060>", "");
    let challenge = registrar_200(
        &fwd,
        "WWW-Authenticate: Digest realm=\"example.com\", nonce=\"n1\"\n",
    )
    .replace("200 OK", "401 Unauthorized");
    let back = only(lab.on_wan(PROVIDER, &challenge));
    assert_eq!(back.first_line(), "SIP/2.0 401 Unauthorized");
    assert_eq!(back.to, sa(A));
    assert_eq!(
        back.headers("WWW-Authenticate"),
        vec!["Digest realm=\"example.com\", nonce=\"n1\""]
    );
    // The phone answers the challenge a few seconds later (the provisional binding lapsed).
    lab.advance(12_000);
    let retry = register("sip:example.com", "<sip:alice@192.168.1.10:5060>", "Authorization: Digest username=\"alice\", realm=\"example.com\", nonce=\"n1\", uri=\"sip:example.com\", response=\"0123\"\n")
        .replace("CSeq: 1 REGISTER", "CSeq: 2 REGISTER")
        .replace("z9hG4bKreg1", "z9hG4bKreg2");
    let fwd = only(lab.on_lan(A, &retry));
    assert_eq!(fwd.to, sa(PROVIDER));
    assert_eq!(
        fwd.headers("Authorization"),
        vec!["Digest username=\"alice\", realm=\"example.com\", nonce=\"n1\", uri=\"sip:example.com\", response=\"0123\""]
    );
    let ok = registrar_200(&fwd, "Contact: <sip:alice@203.0.113.5>;expires=600\n")
        .replace("z9hG4bKreg1", "z9hG4bKreg2")
        .replace("CSeq: 1", "CSeq: 2");
    let back = only(lab.on_wan(PROVIDER, &ok));
    assert_eq!(back.to, sa(A));
    assert_eq!(
        back.headers("Contact"),
        vec!["<sip:alice@192.168.1.10:5060>;expires=600"]
    );
    lab.advance(500_000);
    let inv = only(lab.on_wan(
        B,
        &invite_from_b("sip:alice@203.0.113.5", "sip:alice@example.com", "after401"),
    ));
    assert_eq!(inv.to, sa(A));
}

#[test]
fn outbound_address_change_moves_the_masqueraded_contact() {
    // decisions §3: the proxy follows address changes of if_outbound (PPP reconnect).
    let mut lab = Lab::new();
    lab.register_alice(600);
    lab.proxy.set_addresses(siproxd_rs::proxy::Addresses::new(
        ip(I),
        Some(ip("203.0.113.77")),
    ));
    let f = only(lab.on_lan(A, &invite_from_a("ppp")));
    assert_eq!(f.from, ip("203.0.113.77"));
    assert!(f.headers("Via")[0].starts_with("SIP/2.0/UDP 203.0.113.77:5060;"));
    assert_eq!(f.headers("Contact"), vec!["<sip:alice@203.0.113.77>"]);

    // Down, then up again with yet another address.
    lab.proxy
        .set_addresses(siproxd_rs::proxy::Addresses::new(ip(I), None));
    lab.proxy.set_addresses(siproxd_rs::proxy::Addresses::new(
        ip(I),
        Some(ip("203.0.113.88")),
    ));
    let f = only(lab.on_lan(A, &invite_from_a("ppp2")));
    assert_eq!(f.headers("Contact"), vec!["<sip:alice@203.0.113.88>"]);
    // Incoming calls to the new public identity reach A.
    let f = only(lab.on_wan(
        B,
        &invite_from_b("sip:alice@203.0.113.88", "sip:alice@example.com", "ppp3"),
    ));
    assert_eq!(f.to, sa(A));
}

#[test]
fn registrar_mode_refresh_new_port_and_unregister() {
    let mut lab = Lab::new();
    let r = only(lab.on_lan(
        A,
        &register("sip:192.168.1.1", "<sip:alice@192.168.1.10:5060>", ""),
    ));
    assert_eq!(r.status(), Some(200));
    // The phone restarts on another port: the binding follows (compare_url ignores ports).
    lab.advance(1_000);
    let r = only(lab.on_lan(
        "192.168.1.10:5064",
        &register("sip:192.168.1.1", "<sip:alice@192.168.1.10:5064>", ""),
    ));
    assert_eq!(
        r.headers("Contact"),
        vec!["<sip:alice@192.168.1.10:5064>;expires=3600"]
    );
    let f = only(lab.on_wan(
        B,
        &invite_from_b("sip:alice@example.com", "sip:alice@example.com", "np"),
    ));
    assert_eq!(f.to, sa("192.168.1.10:5064"));
    // Unregistering: 200 listing no binding, and the AOR is gone at once.
    let r = only(lab.on_lan(
        A,
        &register(
            "sip:192.168.1.1",
            "<sip:alice@192.168.1.10:5064>",
            "Expires: 0\n",
        ),
    ));
    assert_eq!(r.status(), Some(200));
    assert!(r.headers("Contact").is_empty(), "{}", r.text);
    assert_eq!(r.headers("Expires"), vec!["0"]);
    assert!(lab.proxy.registry().is_empty());
    let r = only(lab.on_wan(
        B,
        &invite_from_b("sip:alice@example.com", "sip:alice@example.com", "np2"),
    ));
    assert_eq!(r.status(), Some(408));
}

// ---- real messages (tests/data/real): a Nero phone registering at cybercity.dk ----

fn real(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/real/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The lab fixture with the registrar's name resolvable.
fn cybercity_lab() -> Lab {
    use siproxd_rs::dns::{parse_hosts, parse_resolv_conf, Resolver, ResolverConfig};
    use siproxd_rs::proxy::{Addresses, Proxy, TableMedia};
    let cfg = Lab::config();
    let resolver = Resolver::new(
        ResolverConfig {
            resolv: parse_resolv_conf("nameserver 127.0.0.53\n"),
            hosts: parse_hosts("198.51.100.40 sip.cybercity.dk\n"),
            ipv6: false,
        },
        7,
    );
    let media = TableMedia::new(siproxd_rs::rtp::Table::from_config(&cfg));
    let addrs = Addresses::new(ip(I), Some(ip(O)));
    Lab::from_parts(Proxy::new(cfg, addrs, resolver, None), media)
}

const NERO: &str = "192.168.1.2:5060";
const CYBERCITY: &str = "198.51.100.40:5060";

/// A registrar response from the capture, with our Via on top and the Via we forwarded
/// below it (the registrar echoes the Vias it received).
fn as_answer_to(captured: &[u8], fwd: &Sent) -> String {
    let text = String::from_utf8(captured.to_vec()).unwrap();
    let vias = fwd.headers("Via");
    let (status, rest) = text.split_once("\r\n").unwrap();
    let rest: String = rest
        .split_inclusive("\r\n")
        .filter(|l| !l.starts_with("Via:"))
        .collect();
    format!("{status}\r\nVia: {}\r\nVia: {}\r\n{rest}", vias[0], vias[1])
}

#[test]
fn real_nero_register_401_and_digest_retry() {
    let mut lab = cybercity_lab();
    let reg = String::from_utf8(real("nero-register-noauth.sip")).unwrap();
    let f = only(lab.on_lan(NERO, &reg));
    assert_eq!(f.to, sa(CYBERCITY));
    assert_eq!(f.from, ip(O));
    assert_eq!(f.first_line(), "REGISTER sip:sip.cybercity.dk SIP/2.0");
    let vias = f.headers("Via");
    assert_eq!(vias.len(), 2);
    assert!(vias[0].starts_with("SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bK"));
    // RFC 3581: the phone asked for rport; it sent from the address in its Via.
    assert_eq!(
        vias[1],
        "SIP/2.0/UDP 192.168.1.2;branch=z9hG4bKnp151248737-46ea715e192.168.1.2;rport=5060"
    );
    // The Contact is the masqueraded AOR (URI parameters of the phone's Contact are not
    // carried, behaviour §4.10.1); header parameters stay.
    assert_eq!(
        f.headers("Contact"),
        vec!["<sip:voi18063@203.0.113.5>;expires=1200;q=0.500"]
    );
    assert_eq!(f.headers("Expires"), vec!["1200"], "not duplicated");
    assert_eq!(f.headers("Max-Forwards"), vec!["69"]);
    assert_eq!(
        f.header("User-Agent").unwrap(),
        "Nero SIPPS IP Phone Version 2.0.51.16"
    );

    // The registrar's challenge goes back to the phone, untouched but for our Via.
    let challenge = as_answer_to(&real("cybercity-401-register.sip"), &f);
    let back = only(lab.on_wan(CYBERCITY, &challenge));
    assert_eq!(back.to, sa(NERO));
    assert_eq!(back.first_line(), "SIP/2.0 401 Unauthorized");
    assert_eq!(back.headers("Via"), vec![vias[1].clone()]);
    assert_eq!(
        back.headers("WWW-Authenticate"),
        vec!["Digest realm=\"sip.cybercity.dk\",nonce=\"1701af566be182070084c6f740706bb\",opaque=\"1701a1351f70795\",stale=false,algorithm=MD5"]
    );

    // The retry with credentials is forwarded with its Authorization byte for byte.
    let retry = String::from_utf8(real("nero-register-digest.sip")).unwrap();
    let f = only(lab.on_lan(NERO, &retry));
    assert_eq!(f.to, sa(CYBERCITY));
    assert_eq!(
        f.headers("Authorization"),
        vec!["Digest username=\"voi18063\",realm=\"sip.cybercity.dk\",uri=\"sip:192.168.1.2\",nonce=\"1701af566be182070084c6f740706bb\",opaque=\"1701a1351f70795\",nc=\"00000001\",response=\"bd79fecae600a2eb79d37ec73214830b\""]
    );
    let ok = format!(
        "SIP/2.0 200 OK\r\nVia: {}\r\nVia: {}\r\nFrom: <sip:voi18063@sip.cybercity.dk>;tag=8e948b0\r\nTo: <sip:voi18063@sip.cybercity.dk>;tag=00-1\r\nCall-ID: 578222729-4665d775@578222732-4665d772\r\nCSeq: 69 REGISTER\r\nContact: <sip:voi18063@203.0.113.5>;q=0.500;expires=1200\r\nContent-Length: 0\r\n\r\n",
        f.headers("Via")[0],
        f.headers("Via")[1]
    );
    let back = only(lab.on_wan(CYBERCITY, &ok));
    assert_eq!(back.to, sa(NERO));
    // The phone gets its own Contact back, with the registrar's header parameters.
    assert_eq!(
        back.headers("Contact"),
        vec!["<sip:voi18063@192.168.1.2:5060;line=9c7d2dbd8822013c>;q=0.500;expires=1200"]
    );
    lab.advance(1_100_000);
    let inv = only(lab.on_wan(
        B,
        &invite_from_b(
            "sip:voi18063@203.0.113.5",
            "sip:voi18063@sip.cybercity.dk",
            "nero1",
        ),
    ));
    assert_eq!(inv.to, sa(NERO));
    assert_eq!(
        inv.first_line(),
        "INVITE sip:voi18063@192.168.1.2:5060;line=9c7d2dbd8822013c SIP/2.0"
    );
}

#[test]
fn register_with_sips_or_tel_request_uri_is_refused_416_without_binding() {
    for ruri in ["sips:192.168.1.1", "sips:example.com", "tel:+15551234"] {
        let mut lab = Lab::new();
        let r = only(lab.on_lan(A, &register(ruri, "<sip:alice@192.168.1.10:5060>", "")));
        assert_eq!(
            r.first_line(),
            "SIP/2.0 416 Unsupported URI Scheme",
            "{ruri}"
        );
        assert_eq!(r.to, sa(A));
        assert!(
            lab.proxy.registry().is_empty(),
            "{ruri}: nothing registered"
        );
    }
}

#[test]
fn unconfirmed_binding_does_not_make_its_source_outgoing() {
    // decisions §4: before the registrar's 2xx a binding only routes the REGISTER response;
    // it does not make its source a local phone whose requests are relayed.
    let mut lab = Lab::new();
    let fwd = a_registers(&mut lab, "<sip:alice@192.168.1.10:5060>", "");
    assert_eq!(fwd.to, sa(PROVIDER));
    let r = only(lab.on_lan(A, &invite_from_a("tooearly")));
    assert_eq!(r.status(), Some(408), "{}", r.text);
    // Once the registrar confirms, the same INVITE goes out.
    let back = registrar_answers(
        &mut lab,
        &fwd,
        "Contact: <sip:alice@203.0.113.5>;expires=600\n",
    );
    assert_eq!(back.to, sa(A));
    let f = only(lab.on_lan(A, &invite_from_a("confirmed")));
    assert_eq!(f.to, sa(PROVIDER));
    assert!(f.status().is_none());

    // A host on the Internet cannot open a relay by sending a REGISTER through the proxy.
    let wan = "192.0.2.99:5060";
    let reg = register_of(
        wan,
        "sip:example.com",
        "mallory",
        "example.com",
        "<sip:mallory@192.0.2.99>",
        "",
    );
    // Review finding: a REGISTER arriving on the outbound address is refused outright unless
    // hosts_allow_reg lists its sender (else a WAN host becomes a "local phone").
    let f = only(lab.on_wan(wan, &reg));
    assert_eq!(f.status(), Some(403), "{}", f.text);
    assert_eq!(f.to, sa(wan));
    let inv = request(
        "INVITE sip:victim@other.net SIP/2.0",
        "Via: SIP/2.0/UDP 192.0.2.99:5060;branch=z9hG4bKm1\nMax-Forwards: 70\nFrom: <sip:mallory@example.com>;tag=m\nTo: <sip:victim@other.net>\nCall-ID: m1@192.0.2.99\nCSeq: 1 INVITE\n",
        "",
    );
    let r = only(lab.on_wan(wan, &inv));
    assert_eq!(r.status(), Some(408), "not relayed: {}", r.text);
    assert_eq!(r.to, sa(wan));
}

#[test]
fn refresh_whose_2xx_grants_no_lifetime_keeps_the_binding() {
    let mut lab = Lab::new();
    lab.register_alice(600);
    lab.advance(100_000);
    let fwd = a_registers(&mut lab, "<sip:alice@192.168.1.10:5060>", "");
    let back = registrar_answers(&mut lab, &fwd, "Contact: <sip:alice@203.0.113.5>\n");
    assert_eq!(back.to, sa(A));
    // Still routed 400 s later: the 2xx did not cut the 500 s left to 5.
    lab.advance(400_000);
    let f = only(lab.on_wan(
        B,
        &invite_from_b("sip:alice@203.0.113.5", "sip:alice@example.com", "rf"),
    ));
    assert_eq!(f.to, sa(A));
}

#[test]
fn t16_default_table_takes_512_and_answers_the_513th_503() {
    let mut lab = Lab::new();
    assert_eq!(lab.proxy.registry().capacity(), 512);
    for n in 0..513u32 {
        let src = format!("10.0.{}.{}:5060", n / 200, n % 200 + 1);
        let user = format!("u{n}");
        let reg = register_of(
            &src,
            "sip:192.168.1.1",
            &user,
            "example.com",
            &format!("<sip:{user}@{src}>"),
            "",
        );
        let r = only(lab.on_lan(&src, &reg));
        let want = if n < 512 { 200 } else { 503 };
        assert_eq!(r.status(), Some(want), "registration {}", n + 1);
    }
    assert_eq!(lab.proxy.registry().len(), 512);
}
