//! DNS reply parser: `parse_reply` against the question the message itself carries (so the fuzzer
//! gets past the id and question checks), `read_name` at any offset, and query round trips.
//!
//! Invariants: a reply carries only records of the asked family, within the fixed capacities;
//! SRV targets are valid names; the question name matches without regard to case or a trailing
//! dot; a query built from a name reads back as that name and is never taken for a reply.
#![no_main]

use libfuzzer_sys::fuzz_target;
use siproxd_rs::dns::wire::{
    build_query, message_id, parse_reply, read_name, validate_name, Name, QType, Reply, WireError,
};
use siproxd_rs::limits::{DNS_MAX_ADDRS, DNS_MAX_SRV, DNS_NAME_MAX, DNS_QUERY_MAX};

#[path = "common/mod.rs"]
mod common;
use common::Knobs;

fuzz_target!(|data: &[u8]| {
    let mut knobs = Knobs::new(data);
    any_name(data, &mut knobs);
    let Some(id) = message_id(data) else {
        assert_eq!(
            parse_reply(data, 0, "example.com", QType::A),
            Err(WireError::ShortPacket)
        );
        return;
    };
    assert_eq!(
        parse_reply(data, id ^ 1, "example.com", QType::A),
        Err(WireError::IdMismatch)
    );
    let mut qname = Name::new();
    if read_name(data, 12, &mut qname).is_err() {
        // Still drive the parser with a fixed question.
        let _ = parse_reply(data, id, "example.com", QType::Srv);
        return;
    }
    let qtype = match data.get(qname_end(data)..qname_end(data) + 2) {
        Some([0, 1]) => QType::A,
        Some([0, 28]) => QType::Aaaa,
        Some([0, 33]) => QType::Srv,
        _ => [QType::A, QType::Aaaa, QType::Srv][knobs.below(3) as usize],
    };
    let reply = parse_reply(data, id, &qname, qtype);
    check_reply(&reply, qtype);

    let upper = qname.to_ascii_uppercase();
    assert_eq!(parse_reply(data, id, &upper, qtype), reply, "question case");
    let dotted = format!("{qname}.");
    assert_eq!(parse_reply(data, id, &dotted, qtype), reply, "trailing dot");

    if validate_name(&qname).is_ok() {
        let mut q = [0u8; DNS_QUERY_MAX];
        let n = build_query(&mut q, id, &qname, qtype).expect("validated name builds");
        let q = &q[..n];
        let mut back = Name::new();
        let end = read_name(q, 12, &mut back).expect("own query reads back");
        assert_eq!(back, qname);
        assert_eq!(end + 4, n);
        assert_eq!(message_id(q), Some(id));
        assert_eq!(
            parse_reply(q, id, &qname, qtype),
            Err(WireError::NotAResponse)
        );
    }
});

/// Position after the question name at offset 12 (the name was read successfully).
fn qname_end(data: &[u8]) -> usize {
    let mut scratch = Name::new();
    read_name(data, 12, &mut scratch).unwrap_or(data.len())
}

fn check_reply(reply: &Result<Reply, WireError>, qtype: QType) {
    match reply {
        Ok(Reply::Addrs { addrs, ttl }) => {
            assert!(!addrs.is_empty() && addrs.len() <= DNS_MAX_ADDRS);
            assert!(
                *ttl <= i32::MAX as u32,
                "TTL with the top bit set must read as 0"
            );
            for a in addrs {
                match qtype {
                    QType::A => assert!(a.is_ipv4()),
                    QType::Aaaa => assert!(a.is_ipv6()),
                    QType::Srv => panic!("addresses in a reply to an SRV query"),
                }
            }
        }
        Ok(Reply::Srv { records, ttl }) => {
            assert_eq!(qtype, QType::Srv);
            assert!(!records.is_empty() && records.len() <= DNS_MAX_SRV);
            assert!(*ttl <= i32::MAX as u32);
            for r in records {
                assert!(
                    validate_name(&r.target).is_ok(),
                    "SRV target {:?}",
                    r.target
                );
            }
        }
        Ok(Reply::NoData { negative_ttl }) | Ok(Reply::NxDomain { negative_ttl }) => {
            if let Some(t) = negative_ttl {
                assert!(*t <= i32::MAX as u32);
            }
        }
        Ok(Reply::ServerFailure { rcode }) => assert!(*rcode != 0 && *rcode != 3 && *rcode < 16),
        Ok(Reply::Truncated) => {}
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

fn any_name(data: &[u8], knobs: &mut Knobs) {
    if data.is_empty() {
        return;
    }
    let start = knobs.below(data.len() as u64) as usize;
    let mut name = Name::new();
    if let Ok(end) = read_name(data, start, &mut name) {
        assert!(end > start && end <= data.len());
        assert!(name.len() <= DNS_NAME_MAX);
        assert!(!name.bytes().any(|b| b.is_ascii_uppercase()));
    }
}
