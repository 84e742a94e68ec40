//! The registration parts of the behaviour §11 tests, driven through the table's public API
//! with the common fixture (I = 192.168.1.1, O = 203.0.113.5, A = 192.168.1.10:5060,
//! AOR sip:alice@example.com) and a virtual clock.
#![allow(clippy::unwrap_used)] // test helpers: a failed set-up panics, as a test should

use std::net::SocketAddr;

use siproxd_rs::limits::DEFAULT_MAX_REGISTRATIONS;
use siproxd_rs::registry::{
    BindingState, ContactBinding, Masking, Mode, Registry, RegistryError, Uri, UrlField, Want,
};

fn uri(s: &str) -> Uri {
    Uri::parse(s).unwrap()
}

fn a_src() -> SocketAddr {
    "192.168.1.10:5060".parse().unwrap()
}

const PROXY: Mode<'static> = Mode::OutboundProxy {
    outbound_host: "203.0.113.5",
    listen_port: 5060,
};

fn a_contact(expires: u32) -> [ContactBinding; 1] {
    [ContactBinding {
        uri: uri("sip:alice@192.168.1.10:5060"),
        expires,
    }]
}

/// Test 1: A's REGISTER passes through siproxd (outbound-proxy mode).
fn a_registers(r: &mut Registry, now: u64, expires: u32) -> Option<usize> {
    r.register(
        now,
        PROXY,
        &Masking::default(),
        &uri("sip:alice@example.com"),
        a_src(),
        &a_contact(expires),
    )
    .unwrap()
}

/// Direction of an incoming INVITE per §4.5 rules 2–4 (To, then RURI, then user only).
fn incoming_invite_target(r: &Registry, now: u64, to: &Uri, ruri: &Uri) -> Option<usize> {
    r.find_by_url(now, to, UrlField::Either, Want::Live)
        .or_else(|| r.find_by_url(now, ruri, UrlField::Either, Want::Live))
        .or_else(|| r.find_by_user(now, to, UrlField::Either, Want::Live))
}

#[test]
fn test4_registrar_200_grants_600s() {
    let mut r = Registry::new(DEFAULT_MAX_REGISTRATIONS);
    let slot = a_registers(&mut r, 0, 3600).unwrap();
    // The 200 comes back From alice: found through reg_url although still provisional.
    let from = uri("sip:alice@example.com");
    assert_eq!(
        r.find_by_url(1, &from, UrlField::Either, Want::Any),
        Some(slot)
    );
    // Its Contact is the masqueraded one; masq → true for the Contact rewrite.
    let contact = uri("sip:alice@203.0.113.5");
    assert_eq!(
        r.find_by_url(1, &contact, UrlField::Masq, Want::Any),
        Some(slot)
    );
    r.confirm(1, slot, &contact, 600).unwrap();
    let to = uri("sip:alice@example.com");
    let ruri = uri("sip:alice@203.0.113.5");
    assert_eq!(incoming_invite_target(&r, 301, &to, &ruri), Some(slot));
    let b = r.live_bindings(301, slot).next().unwrap();
    assert_eq!(b.true_url.to_string(), "sip:alice@192.168.1.10:5060");
    r.expire(601 + 5);
    assert!(r.is_empty());
}

#[test]
fn test5_200_without_expiry_vanishes_after_about_10s() {
    let mut r = Registry::new(DEFAULT_MAX_REGISTRATIONS);
    a_registers(&mut r, 0, 3600).unwrap();
    // The 200 carried no expiry: the proxy calls nothing, the binding stays provisional.
    let deadline = r.next_deadline().unwrap();
    assert_eq!(deadline, 10);
    r.expire(deadline);
    // 15 s later A is unknown: an outgoing INVITE from A gets 408.
    assert_eq!(r.find_by_source_ip(a_src().ip()), None);
}

#[test]
fn test6_unregister_through_proxy() {
    let mut r = Registry::new(DEFAULT_MAX_REGISTRATIONS);
    let slot = a_registers(&mut r, 0, 3600).unwrap();
    r.confirm(0, slot, &uri("sip:alice@203.0.113.5"), 3600)
        .unwrap();
    assert_eq!(a_registers(&mut r, 100, 0), Some(slot));
    // The registrar's 200 to the unregister can still be routed ...
    assert_eq!(
        r.find_by_url(101, &uri("sip:alice@example.com"), UrlField::Reg, Want::Any),
        Some(slot)
    );
    // ... and about 10 s later the binding is gone.
    assert_eq!(r.next_deadline(), Some(110));
    r.expire(110);
    assert!(r.is_empty());
}

#[test]
fn test9_registrar_mode_and_test16_table_full() {
    let mut r = Registry::new(DEFAULT_MAX_REGISTRATIONS);
    for i in 0..DEFAULT_MAX_REGISTRATIONS {
        let slot = r
            .register(
                0,
                Mode::Registrar,
                &Masking::default(),
                &uri(&format!("sip:user{i}@foo.example")),
                a_src(),
                &[ContactBinding {
                    uri: uri(&format!("sip:user{i}@192.168.1.10:5062")),
                    expires: 3600,
                }],
            )
            .unwrap()
            .unwrap();
        assert_eq!(
            r.entry(slot).unwrap().bindings()[0].state,
            BindingState::Live
        );
    }
    // The 513th distinct AOR: 503.
    assert_eq!(
        r.register(
            0,
            Mode::Registrar,
            &Masking::default(),
            &uri("sip:one-too-many@foo.example"),
            a_src(),
            &a_contact(3600),
        ),
        Err(RegistryError::Full)
    );
    assert_eq!(r.len(), DEFAULT_MAX_REGISTRATIONS);
}

#[test]
fn test15_mask_host_routes_incoming() {
    let mask = ["alice-host.lan".to_string()];
    let masked = ["pub.example.org".to_string()];
    let mut r = Registry::new(DEFAULT_MAX_REGISTRATIONS);
    let slot = r
        .register(
            0,
            Mode::Registrar,
            &Masking {
                mask_host: &mask,
                masked_host: &masked,
            },
            &uri("sip:alice@alice-host.lan"),
            a_src(),
            &a_contact(3600),
        )
        .unwrap()
        .unwrap();
    let to = uri("sip:alice@pub.example.org");
    assert_eq!(incoming_invite_target(&r, 10, &to, &to), Some(slot));
}

#[test]
fn test25_unregistered_user_is_not_found() {
    let mut r = Registry::new(DEFAULT_MAX_REGISTRATIONS);
    let slot = a_registers(&mut r, 0, 3600).unwrap();
    r.confirm(0, slot, &uri("sip:alice@203.0.113.5"), 3600)
        .unwrap();
    let nobody = uri("sip:nobody@example.com");
    assert_eq!(incoming_invite_target(&r, 1, &nobody, &nobody), None);
    assert_eq!(r.find_by_source_ip("192.168.1.99".parse().unwrap()), None);
}

#[test]
fn test55_registrations_survive_restart() {
    let mut r = Registry::new(DEFAULT_MAX_REGISTRATIONS);
    let slot = a_registers(&mut r, 0, 3600).unwrap();
    r.confirm(0, slot, &uri("sip:alice@203.0.113.5"), 3600)
        .unwrap();
    let mut file = String::new();
    r.save(60, 1_795_000_060, &mut file).unwrap();

    let loaded = siproxd_rs::registry::parse_saved(&file);
    let mut restarted = Registry::new(DEFAULT_MAX_REGISTRATIONS);
    restarted.restore(0, 1_795_000_100, &loaded.records);
    let to = uri("sip:alice@example.com");
    let ruri = uri("sip:alice@203.0.113.5");
    let slot = incoming_invite_target(&restarted, 0, &to, &ruri).unwrap();
    let b = restarted.live_bindings(0, slot).next().unwrap();
    assert_eq!(b.true_url.to_string(), "sip:alice@192.168.1.10:5060");
    assert_eq!(b.expires, 3600 - 100);
}
