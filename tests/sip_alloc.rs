//! Parsing, indexing, typed access and editing of the real corpus allocate nothing.
#![allow(clippy::expect_used)] // test helpers: a failed set-up panics, as a test should

use std::hint::black_box;

use alloc::allocations;
use siproxd_rs::sip::*;

mod alloc;

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

/// Touches every accessor; returns a checksum (wrapping: usize is 32 bits on some targets)
/// so nothing is optimised away.
fn exercise(bytes: &[u8], transport: Framing, out: &mut [u8]) -> usize {
    let m = Message::parse(bytes, transport).expect("corpus message parses");
    m.validate().expect("corpus message validates");
    let mut sum = m.header_count() + m.body().len();
    for h in m.headers() {
        sum = sum.wrapping_add(h.values().count() + h.name.len());
    }
    if let Some(raw) = m.request_uri_raw() {
        let u = Uri::parse(raw).expect("request-uri");
        let mut buf = [0u8; 256];
        if let Some(user) = u.user {
            sum = sum.wrapping_add(unescape_into(user, &mut buf).unwrap_or(0));
            sum = sum.wrapping_add(usize::from(escaped_eq(user, user, true)));
        }
        sum = sum.wrapping_add(u.params.iter().count());
    }
    for v in m.vias() {
        let v = v.expect("via");
        sum =
            sum.wrapping_add(v.branch().map_or(0, <[u8]>::len) + usize::from(v.rport().is_some()));
        sum = sum.wrapping_add(v.received().map_or(0, <[u8]>::len) + v.params.iter().count());
    }
    let c = m.cseq().expect("cseq");
    sum = sum.wrapping_add(c.number as usize + m.call_id().expect("call-id").len());
    for a in [m.from().expect("from"), m.to().expect("to")] {
        sum = sum.wrapping_add(a.tag().map_or(0, <[u8]>::len) + a.uri.host_raw.len());
        let mut dn = [0u8; 128];
        sum = sum.wrapping_add(a.display_name_into(&mut dn).unwrap_or(0));
    }
    for c in m.contacts() {
        let c = c.expect("contact");
        sum = sum.wrapping_add(
            c.expires().ok().flatten().unwrap_or(0) as usize + c.q().map_or(0, <[u8]>::len),
        );
    }
    for r in m.routes().chain(m.record_routes()) {
        sum = sum.wrapping_add(r.expect("route").uri.raw.len());
    }
    for cr in m.authorizations().chain(m.proxy_authorizations()) {
        let cr = cr.expect("credentials");
        for v in [
            cr.username(),
            cr.realm(),
            cr.nonce(),
            cr.uri(),
            cr.response(),
        ] {
            sum = sum.wrapping_add(v.map_or(0, <[u8]>::len));
        }
    }
    sum = sum.wrapping_add(m.max_forwards().ok().flatten().unwrap_or(0) as usize);
    sum = sum.wrapping_add(m.expires().ok().flatten().unwrap_or(0) as usize);
    sum = sum.wrapping_add(
        m.content_type()
            .ok()
            .flatten()
            .map_or(0, |c| c.subtype.len()),
    );
    sum = sum.wrapping_add(m.proxy_require().count() + m.supported().count() + m.require().count());
    // Editing into a caller buffer allocates nothing either.
    let via = m.top_via().expect("via");
    let mut e = Editor::new(&m);
    e.set_param(&via.params, b"received", Some(b"203.0.113.1"))
        .expect("edit");
    e.insert_header_top(b"Via", b"SIP/2.0/UDP 203.0.113.1;branch=z9hG4bKx")
        .expect("edit");
    e.set_body(b"v=0\r\n");
    sum = sum.wrapping_add(e.emit(out).expect("emit"));
    sum
}

#[test]
fn corpus_access_and_editing_do_not_allocate() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/real/");
    let index = std::fs::read_to_string(format!("{dir}INDEX.tsv")).unwrap();
    let files: Vec<(Vec<u8>, Framing)> = index
        .lines()
        .skip(1)
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            let t = if cols[3].starts_with("udp") {
                Framing::Datagram
            } else {
                Framing::Stream
            };
            (std::fs::read(format!("{dir}{}", cols[0])).unwrap(), t)
        })
        .collect();
    assert_eq!(files.len(), 30);
    let mut out = vec![0u8; siproxd_rs::limits::SIP_SEND_BUFFER];
    // Warm up anything lazily initialised by std.
    black_box(exercise(&files[0].0, files[0].1, &mut out));
    let before = allocations();
    let mut total: usize = 0;
    for (bytes, t) in &files {
        total = total.wrapping_add(black_box(exercise(black_box(bytes), *t, &mut out)));
    }
    let after = allocations();
    assert!(total > 0);
    assert_eq!(
        after - before,
        0,
        "heap allocations during parse/access/edit"
    );
    // The counter works: an allocation is seen.
    let v = black_box(vec![1u8; 16]);
    assert_eq!(allocations() - after, 1);
    drop(v);
}
