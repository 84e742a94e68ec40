//! The resolver's steady state (resolve, transmit, reply, event, cache hit) allocates nothing.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)] // test helpers: a failed set-up panics, as a test should

use alloc::allocations_during;
use siproxd_rs::dns::wire::{read_name, Name};
use siproxd_rs::dns::{parse_hosts, parse_resolv_conf, Lookup, Resolver, ResolverConfig};
use siproxd_rs::limits::DNS_QUERY_MAX;

mod alloc;

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

/// Answers an A or SRV query in place (no allocation: fixed buffer).
fn answer(query: &[u8], out: &mut [u8; 512]) -> usize {
    let mut name = Name::new();
    let end = read_name(query, 12, &mut name).unwrap();
    let qtype = u16::from_be_bytes([query[end], query[end + 1]]);
    let qlen = end + 4;
    out[..qlen].copy_from_slice(&query[..qlen]);
    out[2] = 0x81;
    out[3] = 0x80;
    out[7] = 1;
    let mut p = qlen;
    let mut put = |b: &[u8]| {
        out[p..p + b.len()].copy_from_slice(b);
        p += b.len();
    };
    put(&[0xC0, 12]);
    if qtype == 33 {
        put(&[0, 33, 0, 1, 0, 0, 0, 60, 0, 11, 0, 1, 0, 1, 0x13, 0xC4]);
        put(&[2, b's', b'v', 0xC0, 12 + 10]); // sv.<domain>
    } else {
        put(&[0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 9]);
    }
    p
}

#[test]
fn steady_state_lookups_do_not_allocate() {
    let config = ResolverConfig {
        resolv: parse_resolv_conf("nameserver 127.0.0.1\n"),
        hosts: parse_hosts(""),
        ipv6: false,
    };
    let mut r = Resolver::new(config, 7);
    let mut q = [0u8; DNS_QUERY_MAX];
    let mut reply = [0u8; 512];
    let names = ["a.example", "b.example", "c.example", "d.example"];

    let mut now = 0;
    let (allocated, ()) = allocations_during(|| {
        for round in 0..3u64 {
            for (i, name) in names.iter().enumerate() {
                let port = if i % 2 == 0 { Some(5060) } else { None };
                assert_eq!(r.resolve(now, name, port, i as u64), Lookup::Pending);
                let mut events = 0;
                while events == 0 {
                    let (to, n) = r.poll_transmit(&mut q).unwrap();
                    let m = answer(&q[..n], &mut reply);
                    r.handle_response(now, to, &reply[..m]);
                    while let Some(ev) = r.poll_event() {
                        assert!(ev.result.is_ok());
                        events += 1;
                    }
                }
                assert!(matches!(
                    r.resolve(now + 1, name, port, 0),
                    Lookup::Ready(_)
                ));
            }
            // let every entry expire so the next round asks again
            now += 61_000 + round;
        }
    });
    assert_eq!(allocated, 0, "allocations in the resolver's steady state");
}
