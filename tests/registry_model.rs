//! Random operation sequences on a small table with a virtual clock: the table's invariants
//! hold after every step and nothing panics.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)] // test helpers: a failed set-up panics, as a test should

use std::net::SocketAddr;

use proptest::prelude::*;
use siproxd_rs::limits::MAX_CONTACTS_PER_AOR;
use siproxd_rs::registry::{
    BindingState, ContactBinding, Masking, Mode, Registry, RegistryError, Uri, UrlField, Want,
    GRACE_SECS,
};

#[derive(Debug, Clone)]
enum Op {
    Register {
        proxy: bool,
        aor: u8,
        contacts: Vec<(u8, u16, u32)>,
    },
    UnregisterAll {
        proxy: bool,
        aor: u8,
    },
    Confirm {
        slot: usize,
        contact: Option<(u8, u16)>,
        lifetime: u32,
    },
    Expire,
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<bool>(), 0u8..5, prop::collection::vec((0u8..7, 5060u16..5063, prop_oneof![Just(0u32), 1u32..120]), 0..6))
            .prop_map(|(proxy, aor, contacts)| Op::Register { proxy, aor, contacts }),
        1 => (any::<bool>(), 0u8..5).prop_map(|(proxy, aor)| Op::UnregisterAll { proxy, aor }),
        2 => (0usize..4, prop::option::of((0u8..7, 5060u16..5063)), prop_oneof![Just(0u32), 1u32..120])
            .prop_map(|(slot, contact, lifetime)| Op::Confirm { slot, contact, lifetime }),
        1 => Just(Op::Expire),
        3 => (0u64..40).prop_map(Op::Advance),
    ]
}

fn aor(n: u8) -> Uri {
    Uri::new("sip", Some(&format!("user{n}")), "example.com", None, "").unwrap()
}

fn contact(n: u8, port: u16) -> Uri {
    Uri::new(
        "sip",
        Some("phone"),
        &format!("192.168.1.{n}"),
        Some(port),
        "",
    )
    .unwrap()
}

fn mode(proxy: bool) -> Mode<'static> {
    if proxy {
        Mode::OutboundProxy {
            outbound_host: "203.0.113.5",
            listen_port: 5060,
        }
    } else {
        Mode::Registrar
    }
}

fn check_invariants(r: &mut Registry, now: u64) -> Result<(), TestCaseError> {
    let mut occupied = 0;
    let mut min_deadline = None::<u64>;
    for (slot, e) in r.iter() {
        occupied += 1;
        prop_assert!(!e.bindings().is_empty(), "slot {} without bindings", slot);
        prop_assert!(e.bindings().len() <= MAX_CONTACTS_PER_AOR);
        // No two bindings of an AOR for the same contact (compare_url).
        for (i, a) in e.bindings().iter().enumerate() {
            for b in &e.bindings()[i + 1..] {
                prop_assert!(!a.true_url.same_url(&b.true_url));
            }
            let d = a.expires + GRACE_SECS;
            min_deadline = Some(min_deadline.map_or(d, |m| m.min(d)));
        }
        // Slots are reachable by their own AOR.
        prop_assert_eq!(
            r.find_by_url(now, e.reg_url(), UrlField::Reg, Want::Any),
            Some(slot)
        );
    }
    prop_assert_eq!(occupied, r.len());
    prop_assert_eq!(r.next_deadline(), min_deadline);
    Ok(())
}

proptest! {
    #[test]
    fn random_operations_keep_the_table_consistent(ops in prop::collection::vec(op(), 1..60)) {
        let mut r = Registry::new(3);
        let mut now = 1_000u64;
        let src: SocketAddr = "192.168.1.1:5060".parse().unwrap();
        for op in ops {
            match op {
                Op::Register { proxy, aor: a, contacts } => {
                    let cs: Vec<_> = contacts
                        .iter()
                        .map(|&(n, p, e)| ContactBinding { uri: contact(n, p), expires: e })
                        .collect();
                    let full_before = r.len() == r.capacity();
                    match r.register(now, mode(proxy), &Masking::default(), &aor(a), src, &cs) {
                        Ok(Some(slot)) => {
                            let e = r.entry(slot).unwrap();
                            prop_assert!(e.reg_url().same_url(&aor(a)));
                            if !proxy {
                                // Registrar mode: the last contact, if it registers, is live now.
                                if let Some(c) = cs.last().filter(|c| c.expires > 0) {
                                    let b = e.bindings().iter().find(|b| b.true_url.same_url(&c.uri)).unwrap();
                                    prop_assert_eq!(b.state, BindingState::Live);
                                    prop_assert_eq!(b.expires, now + u64::from(c.expires));
                                }
                            }
                        }
                        Ok(None) => prop_assert!(r.find_by_url(now, &aor(a), UrlField::Reg, Want::Any).is_none()),
                        Err(RegistryError::Full) => prop_assert!(full_before),
                        Err(e) => prop_assert!(false, "unexpected error {:?}", e),
                    }
                }
                Op::UnregisterAll { proxy, aor: a } => {
                    let slot = r.unregister_all(now, mode(proxy), &aor(a));
                    if let (Some(slot), true) = (slot, proxy) {
                        for b in r.entry(slot).unwrap().bindings() {
                            prop_assert!(b.expires <= now + 5);
                        }
                    } else {
                        prop_assert!(r.find_by_url(now, &aor(a), UrlField::Reg, Want::Any).is_none());
                    }
                }
                Op::Confirm { slot, contact: c, lifetime } => {
                    let uri = match c {
                        Some((n, p)) => contact(n, p),
                        None => Uri::parse("sip:user0@203.0.113.5").unwrap(),
                    };
                    let occupied = r.entry(slot).is_some();
                    prop_assert_eq!(r.confirm(now, slot, &uri, lifetime).is_ok(), occupied);
                }
                Op::Expire => {
                    r.expire(now);
                    for (_, e) in r.iter() {
                        for b in e.bindings() {
                            prop_assert!(now < b.expires + GRACE_SECS);
                        }
                    }
                }
                Op::Advance(s) => now += s,
            }
            check_invariants(&mut r, now)?;
        }
    }
}
