//! URIs and addresses: `Uri::parse`, `Host::parse`, `NameAddr::parse`, `Contact::parse`,
//! `Via::parse`, `unescape_into`, `escaped_eq`.
//!
//! Invariants: the parts of a URI are slices of it and put together give it back
//! (`scheme:opaque`, `host[:port]`); masquerading (replacing `host[:port]` with the proxy's
//! address, as the proxy does with Contact) yields a URI that parses with the same user,
//! parameters and headers; `escaped_eq` is reflexive on well-formed escapes and symmetric.
#![no_main]

use libfuzzer_sys::fuzz_target;
use siproxd_rs::sip::{
    escaped_eq, unescape_into, Contact, Host, NameAddr, Scheme, UnescapeError, Uri, Via,
};
use std::net::Ipv4Addr;

#[path = "common/mod.rs"]
mod common;
use common::within;

fuzz_target!(|data: &[u8]| {
    if let Ok(u) = Uri::parse(data) {
        check_uri(data, &u);
        masquerade(data, &u);
    }
    let _ = Host::parse(data);
    if let Ok(a) = NameAddr::parse(data) {
        assert!(within(data, a.raw) && within(data, a.uri.raw));
        check_uri(data, &a.uri);
        for p in a.params.iter() {
            assert!(within(a.raw, p.item));
        }
        let _ = a.tag();
    }
    if let Ok(Contact::Addr(a)) = Contact::parse(data) {
        assert!(within(data, a.raw));
    }
    if let Ok(v) = Via::parse(data) {
        for s in [
            v.raw,
            v.protocol,
            v.version,
            v.transport,
            v.host_raw,
            v.sent_by_raw,
        ] {
            assert!(within(data, s));
        }
        assert!(within(v.sent_by_raw, v.host_raw));
        let _ = (v.branch(), v.received(), v.rport(), v.maddr());
    }
    escapes(data);
});

fn check_uri(whole: &[u8], u: &Uri<'_>) {
    for s in [
        u.raw,
        u.scheme_raw,
        u.host_raw,
        u.hostport_raw,
        u.opaque,
        u.params.raw(),
    ] {
        assert!(within(whole, s));
    }
    // raw == scheme ":" opaque
    assert_eq!(u.raw.len(), u.scheme_raw.len() + 1 + u.opaque.len());
    assert!(u.raw.starts_with(u.scheme_raw) && u.raw.ends_with(u.opaque));
    assert_eq!(u.raw.get(u.scheme_raw.len()), Some(&b':'));
    match u.scheme {
        Scheme::Sip | Scheme::Sips => {
            assert!(u.is_sip());
            assert!(u.host.is_some());
            assert!(within(u.raw, u.hostport_raw) && within(u.hostport_raw, u.host_raw));
            assert!(u.hostport_raw.starts_with(u.host_raw));
            let rest = &u.hostport_raw[u.host_raw.len()..];
            match u.port {
                None => assert!(rest.is_empty()),
                Some(p) => {
                    assert_eq!(rest.first(), Some(&b':'));
                    let digits = std::str::from_utf8(&rest[1..]).expect("port digits");
                    assert_eq!(digits.parse::<u16>().ok(), Some(p));
                }
            }
            if !u.host_raw.contains(&b':') || u.host_raw.starts_with(b"[") {
                assert_eq!(Host::parse(u.host_raw), u.host, "host {:?}", u.host_raw);
            }
            for s in [u.user, u.password, u.headers].into_iter().flatten() {
                assert!(within(u.raw, s));
            }
        }
        _ => assert!(!u.is_sip()),
    }
    for p in u.params.iter() {
        assert!(within(u.raw, p.item) && within(p.item, p.name));
        if let Ok(name) = std::str::from_utf8(p.name) {
            // `param` finds the first parameter of that name.
            let first = u
                .params
                .iter()
                .find(|q| q.name.eq_ignore_ascii_case(p.name));
            assert_eq!(u.param(name), first.map(|q| q.value));
        }
    }
}

/// Replace `host[:port]` as the proxy does when it masquerades a Contact.
fn masquerade(data: &[u8], u: &Uri<'_>) {
    if !u.is_sip() {
        return;
    }
    let start = u.hostport_raw.as_ptr() as usize - data.as_ptr() as usize;
    let end = start + u.hostport_raw.len();
    let mut new = data[..start].to_vec();
    new.extend_from_slice(b"203.0.113.9:5060");
    new.extend_from_slice(&data[end..]);
    let m = Uri::parse(&new).unwrap_or_else(|e| {
        panic!(
            "masqueraded URI {:?} does not parse: {e:?}",
            String::from_utf8_lossy(&new)
        )
    });
    assert_eq!(m.host, Some(Host::Ipv4(Ipv4Addr::new(203, 0, 113, 9))));
    assert_eq!(m.port, Some(5060));
    assert_eq!(m.scheme, u.scheme);
    assert_eq!(m.user, u.user);
    assert_eq!(m.password, u.password);
    assert_eq!(m.params.raw(), u.params.raw());
    assert_eq!(m.headers, u.headers);
}

fn escapes(data: &[u8]) {
    let mut out = vec![0u8; data.len()];
    match unescape_into(data, &mut out) {
        Ok(n) => {
            assert!(n <= data.len());
            assert!(escaped_eq(data, data, false) && escaped_eq(data, data, true));
            // Decoded bytes without '%' compare equal to the escaped form.
            if !out[..n].contains(&b'%') {
                assert!(escaped_eq(data, &out[..n], false));
            }
        }
        Err(UnescapeError::BadEscape) => assert!(!escaped_eq(data, data, false)),
        Err(UnescapeError::BufferTooSmall) => panic!("decoding never grows"),
    }
    let half = data.len() / 2;
    let (a, b) = data.split_at(half);
    assert_eq!(escaped_eq(a, b, true), escaped_eq(b, a, true));
    assert_eq!(escaped_eq(a, b, false), escaped_eq(b, a, false));
    if escaped_eq(a, b, false) {
        assert!(escaped_eq(a, b, true));
    }
}
