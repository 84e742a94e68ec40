//! Registration table tests with a virtual clock (`now` is just a number).

use super::*;

const T0: u64 = 1_000;

fn uri(s: &str) -> Uri {
    Uri::parse(s).unwrap()
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn contact(s: &str, expires: u32) -> ContactBinding {
    ContactBinding {
        uri: uri(s),
        expires,
    }
}

const PROXY: Mode<'static> = Mode::OutboundProxy {
    outbound_host: "203.0.113.5",
    listen_port: 5060,
};

fn alice() -> Uri {
    uri("sip:alice@example.com")
}

/// Registrar-mode registration of alice with one contact.
fn reg_alice(r: &mut Registry, now: u64, contact_uri: &str, expires: u32) -> Option<usize> {
    r.register(
        now,
        Mode::Registrar,
        &Masking::default(),
        &alice(),
        addr("192.168.1.10:5060"),
        &[contact(contact_uri, expires)],
    )
    .unwrap()
}

#[test]
fn registrar_mode_registration_is_live_at_once() {
    let mut r = Registry::new(4);
    let slot = reg_alice(&mut r, T0, "sip:alice@192.168.1.10:5062", 3600).unwrap();
    assert_eq!(r.len(), 1);
    let e = r.entry(slot).unwrap();
    assert_eq!(e.reg_url(), &alice());
    // No mask, registrar mode: masq_url is the To URI.
    assert_eq!(e.masq_url().to_string(), "sip:alice@example.com");
    let live: Vec<_> = r.live_bindings(T0 + 3599, slot).collect();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].true_url.to_string(), "sip:alice@192.168.1.10:5062");
    assert_eq!(live[0].source, addr("192.168.1.10:5060"));
    assert_eq!(live[0].expires, T0 + 3600);
    assert_eq!(r.live_bindings(T0 + 3600, slot).count(), 0);
}

#[test]
fn refresh_extends_and_keeps_one_binding() {
    let mut r = Registry::new(4);
    let slot = reg_alice(&mut r, T0, "sip:alice@192.168.1.10:5060", 600).unwrap();
    let again = reg_alice(&mut r, T0 + 500, "sip:alice@192.168.1.10:5060", 600).unwrap();
    assert_eq!(slot, again);
    let e = r.entry(slot).unwrap();
    assert_eq!(e.bindings().len(), 1);
    assert_eq!(e.bindings()[0].expires, T0 + 1100);
    assert_eq!(e.bindings()[0].updated, T0 + 500);
}

#[test]
fn phone_changing_port_updates_its_binding() {
    let mut r = Registry::new(4);
    let slot = reg_alice(&mut r, T0, "sip:alice@192.168.1.10:5060", 600).unwrap();
    r.register(
        T0 + 10,
        Mode::Registrar,
        &Masking::default(),
        &alice(),
        addr("192.168.1.10:40000"),
        &[contact("sip:alice@192.168.1.10:40000", 600)],
    )
    .unwrap();
    let e = r.entry(slot).unwrap();
    assert_eq!(e.bindings().len(), 1);
    assert_eq!(e.bindings()[0].true_url.port(), Some(40000));
    assert_eq!(e.bindings()[0].source, addr("192.168.1.10:40000"));
}

#[test]
fn proxy_mode_binding_is_provisional_until_2xx() {
    let mut r = Registry::new(4);
    let slot = r
        .register(
            T0,
            PROXY,
            &Masking::default(),
            &alice(),
            addr("192.168.1.10:5060"),
            &[contact("sip:alice@192.168.1.10:5060", 3600)],
        )
        .unwrap()
        .unwrap();
    let e = r.entry(slot).unwrap();
    assert_eq!(e.masq_url().to_string(), "sip:alice@203.0.113.5");
    assert_eq!(e.bindings()[0].state, BindingState::Provisional);
    assert_eq!(e.bindings()[0].expires, T0 + PROVISIONAL_SECS);
    // Not usable for incoming requests, only for routing the REGISTER response.
    let masq = uri("sip:alice@203.0.113.5");
    assert_eq!(r.find_by_url(T0, &masq, UrlField::Masq, Want::Live), None);
    assert_eq!(r.live_bindings(T0, slot).count(), 0);
    assert_eq!(
        r.find_by_url(T0, &alice(), UrlField::Either, Want::Any),
        Some(slot)
    );
    // The registrar's 200 carries the masqueraded Contact with expires=600.
    assert_eq!(r.confirm(T0 + 1, slot, &masq, 600).unwrap(), 1);
    let b = &r.entry(slot).unwrap().bindings()[0];
    assert_eq!(b.state, BindingState::Live);
    assert_eq!(b.expires, T0 + 601);
    // Test 4: an incoming INVITE 300 s later is still routed.
    assert_eq!(
        r.find_by_url(T0 + 300, &masq, UrlField::Masq, Want::Live),
        Some(slot)
    );
    assert_eq!(r.live_bindings(T0 + 300, slot).count(), 1);
}

#[test]
fn provisional_binding_lapses_after_5s_and_is_removed_after_grace() {
    let mut r = Registry::new(4);
    let slot = r
        .register(
            T0,
            PROXY,
            &Masking::default(),
            &alice(),
            addr("192.168.1.10:5060"),
            &[contact("sip:alice@192.168.1.10:5060", 3600)],
        )
        .unwrap()
        .unwrap();
    assert_eq!(r.next_deadline(), Some(T0 + PROVISIONAL_SECS + GRACE_SECS));
    assert_eq!(r.expire(T0 + 9), 0);
    // In grace: still recognised by source address (outgoing), unexpired lookups fail.
    let ip = addr("192.168.1.10:1").ip();
    assert_eq!(r.find_by_source_ip(ip), Some(Hit { slot, binding: 0 }));
    assert!(!r.entry(slot).unwrap().bindings()[0].is_unexpired(T0 + 5));
    assert_eq!(r.expire(T0 + 10), 1);
    assert!(r.is_empty());
    assert_eq!(r.find_by_source_ip(ip), None);
    assert_eq!(r.next_deadline(), None);
}

#[test]
fn refresh_through_proxy_keeps_live_expiry_until_2xx() {
    let mut r = Registry::new(4);
    let masq = uri("sip:alice@203.0.113.5");
    let c = [contact("sip:alice@192.168.1.10:5060", 3600)];
    let src = addr("192.168.1.10:5060");
    let slot = r
        .register(T0, PROXY, &Masking::default(), &alice(), src, &c)
        .unwrap()
        .unwrap();
    r.confirm(T0, slot, &masq, 600).unwrap();
    r.register(T0 + 500, PROXY, &Masking::default(), &alice(), src, &c)
        .unwrap();
    let b = &r.entry(slot).unwrap().bindings()[0];
    assert_eq!(b.state, BindingState::Live);
    assert_eq!(b.expires, T0 + 600);
    // A 2xx may shorten.
    r.confirm(T0 + 501, slot, &masq, 60).unwrap();
    assert_eq!(r.entry(slot).unwrap().bindings()[0].expires, T0 + 561);
}

#[test]
fn confirm_ignores_foreign_contacts_and_removes_with_zero() {
    let mut r = Registry::new(4);
    let slot = r
        .register(
            T0,
            PROXY,
            &Masking::default(),
            &alice(),
            addr("192.168.1.10:5060"),
            &[contact("sip:alice@192.168.1.10:5060", 3600)],
        )
        .unwrap()
        .unwrap();
    // Another device of the AOR registered elsewhere, listed in the 2xx.
    assert_eq!(
        r.confirm(T0, slot, &uri("sip:alice@198.51.100.77"), 600)
            .unwrap(),
        0
    );
    assert_eq!(
        r.entry(slot).unwrap().bindings()[0].state,
        BindingState::Provisional
    );
    assert_eq!(
        r.confirm(T0, 3, &alice(), 600),
        Err(RegistryError::NoSuchSlot)
    );
    assert_eq!(
        r.confirm(T0, slot, &uri("sip:alice@203.0.113.5:5060"), 0)
            .unwrap(),
        1
    );
    assert!(r.is_empty());
}

#[test]
fn outbound_proxy_mode_with_other_listen_port_sets_masq_port() {
    let mut r = Registry::new(4);
    let mode = Mode::OutboundProxy {
        outbound_host: "203.0.113.5",
        listen_port: 5070,
    };
    let slot = r
        .register(
            T0,
            mode,
            &Masking::default(),
            &uri("sip:alice@example.com:5080"),
            addr("192.168.1.10:5060"),
            &[contact("sip:alice@192.168.1.10:5060", 3600)],
        )
        .unwrap()
        .unwrap();
    assert_eq!(
        r.entry(slot).unwrap().masq_url().to_string(),
        "sip:alice@203.0.113.5:5070"
    );
    // The outbound address changed (PPP reconnect): the next REGISTER follows it.
    let mode2 = Mode::OutboundProxy {
        outbound_host: "203.0.113.9",
        listen_port: 5060,
    };
    r.register(
        T0 + 60,
        mode2,
        &Masking::default(),
        &alice(),
        addr("192.168.1.10:5060"),
        &[contact("sip:alice@192.168.1.10:5060", 3600)],
    )
    .unwrap();
    assert_eq!(
        r.entry(slot).unwrap().masq_url().to_string(),
        "sip:alice@203.0.113.9"
    );
}

#[test]
fn all_contacts_kept_and_fifth_replaces_least_recent() {
    let mut r = Registry::new(4);
    let cs: Vec<_> = (0..4)
        .map(|i| contact(&format!("sip:alice@192.168.1.{}", 10 + i), 600))
        .collect();
    let slot = r
        .register(
            T0,
            Mode::Registrar,
            &Masking::default(),
            &alice(),
            addr("192.168.1.10:5060"),
            &cs[..2],
        )
        .unwrap()
        .unwrap();
    r.register(
        T0 + 1,
        Mode::Registrar,
        &Masking::default(),
        &alice(),
        addr("192.168.1.12:5060"),
        &cs[2..],
    )
    .unwrap();
    assert_eq!(r.live_bindings(T0 + 2, slot).count(), MAX_CONTACTS_PER_AOR);
    // Refresh .10 so .11 becomes the least recently updated.
    reg_alice(&mut r, T0 + 2, "sip:alice@192.168.1.10", 600);
    reg_alice(&mut r, T0 + 3, "sip:alice@192.168.1.99", 600);
    let hosts: Vec<_> = r
        .entry(slot)
        .unwrap()
        .bindings()
        .iter()
        .map(|b| b.true_url.host().to_string())
        .collect();
    assert_eq!(hosts.len(), 4);
    assert!(hosts.contains(&"192.168.1.99".to_string()));
    assert!(!hosts.contains(&"192.168.1.11".to_string()));
    assert!(hosts.contains(&"192.168.1.10".to_string()));
}

#[test]
fn contact_star_removes_all_bindings() {
    let mut r = Registry::new(4);
    r.register(
        T0,
        Mode::Registrar,
        &Masking::default(),
        &alice(),
        addr("192.168.1.10:5060"),
        &[
            contact("sip:alice@192.168.1.10", 600),
            contact("sip:alice@192.168.1.11", 600),
        ],
    )
    .unwrap();
    assert_eq!(r.unregister_all(T0 + 1, Mode::Registrar, &alice()), Some(0));
    assert!(r.is_empty());
    assert_eq!(r.unregister_all(T0 + 1, Mode::Registrar, &alice()), None);

    // Proxy mode: the bindings lapse after 5 s so the registrar's answer still routes.
    let slot = reg_alice(&mut r, T0, "sip:alice@192.168.1.10", 600).unwrap();
    assert_eq!(r.unregister_all(T0 + 100, PROXY, &alice()), Some(slot));
    assert_eq!(
        r.find_by_url(T0 + 104, &alice(), UrlField::Reg, Want::Live),
        Some(slot)
    );
    assert_eq!(
        r.find_by_url(T0 + 105, &alice(), UrlField::Reg, Want::Live),
        None
    );
    r.expire(T0 + 110);
    assert!(r.is_empty());
}

#[test]
fn expires_zero_removes_one_contact_only() {
    let mut r = Registry::new(4);
    let slot = r
        .register(
            T0,
            Mode::Registrar,
            &Masking::default(),
            &alice(),
            addr("192.168.1.10:5060"),
            &[
                contact("sip:alice@192.168.1.10", 600),
                contact("sip:alice@192.168.1.11", 600),
            ],
        )
        .unwrap()
        .unwrap();
    assert_eq!(
        reg_alice(&mut r, T0 + 5, "sip:alice@192.168.1.10:5060", 0),
        Some(slot)
    );
    let left: Vec<_> = r.live_bindings(T0 + 5, slot).collect();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].true_url.host(), "192.168.1.11");
    // The last one gone frees the slot.
    assert_eq!(reg_alice(&mut r, T0 + 6, "sip:alice@192.168.1.11", 0), None);
    assert!(r.is_empty());
    // Unregistering an unknown AOR creates nothing.
    assert_eq!(reg_alice(&mut r, T0 + 7, "sip:alice@192.168.1.11", 0), None);
    assert!(r.is_empty());
}

#[test]
fn proxy_mode_expires_zero_lapses_after_5s() {
    let mut r = Registry::new(4);
    let src = addr("192.168.1.10:5060");
    let c = |e| [contact("sip:alice@192.168.1.10:5060", e)];
    let slot = r
        .register(T0, PROXY, &Masking::default(), &alice(), src, &c(3600))
        .unwrap()
        .unwrap();
    r.confirm(T0, slot, &uri("sip:alice@203.0.113.5"), 3600)
        .unwrap();
    r.register(T0 + 100, PROXY, &Masking::default(), &alice(), src, &c(0))
        .unwrap();
    assert_eq!(r.entry(slot).unwrap().bindings()[0].expires, T0 + 105);
    assert_eq!(r.next_deadline(), Some(T0 + 110));
    r.expire(T0 + 110);
    assert!(r.is_empty());
}

#[test]
fn table_full_is_an_error_value() {
    let mut r = Registry::new(2);
    let src = addr("192.168.1.10:5060");
    for user in ["a", "b"] {
        r.register(
            T0,
            Mode::Registrar,
            &Masking::default(),
            &uri(&format!("sip:{user}@example.com")),
            src,
            &[contact(&format!("sip:{user}@192.168.1.10"), 60)],
        )
        .unwrap()
        .unwrap();
    }
    let c = uri("sip:c@example.com");
    assert_eq!(
        r.register(
            T0,
            Mode::Registrar,
            &Masking::default(),
            &c,
            src,
            &[contact("sip:c@192.168.1.10", 60)]
        ),
        Err(RegistryError::Full)
    );
    assert_eq!(r.len(), 2);
    // A refresh of a registered AOR still works when full.
    assert!(r
        .register(
            T0 + 1,
            Mode::Registrar,
            &Masking::default(),
            &uri("sip:a@example.com"),
            src,
            &[contact("sip:a@192.168.1.10", 60)]
        )
        .unwrap()
        .is_some());
    // b's expiry + grace frees its slot (a was refreshed, it stays).
    assert_eq!(r.expire(T0 + 65), 1);
    assert_eq!(r.len(), 1);
    assert!(r
        .register(
            T0 + 65,
            Mode::Registrar,
            &Masking::default(),
            &c,
            src,
            &[contact("sip:c@192.168.1.10", 60)]
        )
        .unwrap()
        .is_some());
}

#[test]
fn mask_host_replaces_masq_host() {
    // Test 15: mask_host = alice-host.lan, masked_host = pub.example.org.
    let mask = vec!["other.lan".to_string(), "alice-host.lan".to_string()];
    let masked = vec!["x.example".to_string(), "pub.example.org".to_string()];
    let masking = Masking {
        mask_host: &mask,
        masked_host: &masked,
    };
    let mut r = Registry::new(4);
    let slot = r
        .register(
            T0,
            Mode::Registrar,
            &masking,
            &uri("sip:alice@alice-host.lan"),
            addr("192.168.1.10:5060"),
            &[contact("sip:alice@192.168.1.10", 3600)],
        )
        .unwrap()
        .unwrap();
    assert_eq!(
        r.entry(slot).unwrap().masq_url().to_string(),
        "sip:alice@pub.example.org"
    );
    assert_eq!(masking.masked("ALICE-host.LAN"), Some("pub.example.org"));
    assert_eq!(masking.masked("bob-host.lan"), None);
    let to = uri("sip:alice@pub.example.org");
    assert_eq!(
        r.find_by_url(T0 + 1, &to, UrlField::Masq, Want::Live),
        Some(slot)
    );
    // A masked host that does not fit is an error, nothing is registered.
    let long = vec!["h".repeat(200)];
    let m2 = Masking {
        mask_host: &mask[1..],
        masked_host: &long,
    };
    assert!(matches!(
        r.register(
            T0,
            Mode::Registrar,
            &m2,
            &uri("sip:bob@alice-host.lan"),
            addr("192.168.1.11:5060"),
            &[contact("sip:bob@192.168.1.11", 3600)],
        ),
        Err(RegistryError::Masq(_))
    ));
    assert_eq!(r.len(), 1);
}

#[test]
fn next_deadline_tracks_changes() {
    let mut r = Registry::new(4);
    assert_eq!(r.next_deadline(), None);
    reg_alice(&mut r, T0, "sip:alice@192.168.1.10", 600);
    assert_eq!(r.next_deadline(), Some(T0 + 600 + GRACE_SECS));
    r.register(
        T0 + 10,
        Mode::Registrar,
        &Masking::default(),
        &uri("sip:bob@example.com"),
        addr("192.168.1.11:5060"),
        &[contact("sip:bob@192.168.1.11", 60)],
    )
    .unwrap();
    assert_eq!(r.next_deadline(), Some(T0 + 70 + GRACE_SECS));
    // Nothing is removed before the deadline, something at it.
    assert_eq!(r.expire(T0 + 74), 0);
    assert_eq!(r.expire(T0 + 75), 1);
    assert_eq!(r.next_deadline(), Some(T0 + 605));
}

#[test]
fn lookups_for_direction() {
    let mut r = Registry::new(4);
    let src = addr("198.18.0.7:31000"); // the phone is behind another NAT
    let slot = r
        .register(
            T0,
            PROXY,
            &Masking::default(),
            &alice(),
            src,
            &[contact("sip:alice@192.168.1.10:5062", 3600)],
        )
        .unwrap()
        .unwrap();
    r.confirm(T0, slot, &uri("sip:alice@203.0.113.5"), 3600)
        .unwrap();
    let hit = Some(Hit { slot, binding: 0 });
    // Rule 1: contact host or source address.
    assert_eq!(r.find_by_source_ip("192.168.1.10".parse().unwrap()), hit);
    assert_eq!(r.find_by_source_ip("198.18.0.7".parse().unwrap()), hit);
    assert_eq!(
        r.find_by_source_ip("::ffff:198.18.0.7".parse().unwrap()),
        hit
    );
    assert_eq!(r.find_by_source_ip("192.168.1.11".parse().unwrap()), None);
    // Rules 2/3: masq or reg URL, ports and params ignored.
    let now = T0 + 1;
    assert_eq!(
        r.find_by_url(
            now,
            &uri("sip:alice@203.0.113.5:5060;x=1"),
            UrlField::Masq,
            Want::Live
        ),
        Some(slot)
    );
    assert_eq!(
        r.find_by_url(now, &alice(), UrlField::Masq, Want::Live),
        None
    );
    assert_eq!(
        r.find_by_url(now, &alice(), UrlField::Either, Want::Live),
        Some(slot)
    );
    assert_eq!(
        r.find_by_url(
            now,
            &uri("sip:bob@example.com"),
            UrlField::Either,
            Want::Live
        ),
        None
    );
    // Rule 4: user only.
    assert_eq!(
        r.find_by_user(
            now,
            &uri("sip:alice@other.example"),
            UrlField::Reg,
            Want::Live
        ),
        Some(slot)
    );
    assert_eq!(
        r.find_by_user(now, &uri("sip:other.example"), UrlField::Reg, Want::Any),
        None
    );
    // Rule 5: true_url host:port, default 5060.
    assert_eq!(
        r.find_by_true_hostport(now, "::ffff:192.168.1.10", 5062, Want::Live),
        hit
    );
    assert_eq!(
        r.find_by_true_hostport(now, "phone.lan", 5062, Want::Any),
        None
    );
    assert_eq!(
        r.find_by_true_hostport(now, "192.168.1.10", 5062, Want::Live),
        hit
    );
    assert_eq!(
        r.find_by_true_hostport(now, "192.168.1.10", 5060, Want::Live),
        None
    );
    // Contact rewrite.
    assert_eq!(r.find_by_true_url(&uri("sip:alice@192.168.1.10")), hit);
    assert_eq!(r.find_by_true_url(&uri("sip:xyz@192.168.1.10")), None);
    // After expiry only Want::Any and source matching still find it (grace).
    let late = T0 + 3600;
    assert_eq!(
        r.find_by_url(late, &alice(), UrlField::Reg, Want::Live),
        None
    );
    assert_eq!(
        r.find_by_url(late, &alice(), UrlField::Reg, Want::Any),
        Some(slot)
    );
    assert_eq!(
        r.find_by_true_hostport(late, "192.168.1.10", 5062, Want::Live),
        None
    );
    assert_eq!(r.find_by_source_ip("198.18.0.7".parse().unwrap()), hit);
    // Routing an incoming request: contact plus NAT source.
    let b: Vec<_> = r.live_bindings(now, slot).collect();
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].true_url.to_string(), "sip:alice@192.168.1.10:5062");
    assert_eq!(b[0].source, src);
}

#[test]
fn aor_matching_is_compare_url() {
    let mut r = Registry::new(4);
    let slot = reg_alice(&mut r, T0, "sip:alice@192.168.1.10", 600).unwrap();
    // Host case and port do not make a new AOR; user case does.
    let same = r
        .register(
            T0,
            Mode::Registrar,
            &Masking::default(),
            &uri("SIP:alice@EXAMPLE.com:5060"),
            addr("192.168.1.10:5060"),
            &[contact("sip:alice@192.168.1.10", 600)],
        )
        .unwrap();
    assert_eq!(same, Some(slot));
    let other = r
        .register(
            T0,
            Mode::Registrar,
            &Masking::default(),
            &uri("sip:Alice@example.com"),
            addr("192.168.1.10:5060"),
            &[contact("sip:Alice@192.168.1.10", 600)],
        )
        .unwrap();
    assert_ne!(other, Some(slot));
    assert_eq!(r.len(), 2);
}
