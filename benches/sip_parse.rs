//! Parser throughput on the real user-agent messages of tests/data/real.
//!
//! `cargo bench --bench sip_parse`; throughput is reported in messages (or bodies) per second.
//! Results and the comparison are recorded in docs/PERFORMANCE.md, section "SIP parser".
//!
//! The SIP groups do what the proxy does with every message: parse, index the headers, and
//! read the top Via branch, the From and To tags, Call-ID, CSeq and the first Contact URI. The
//! same work is done with the `rsip` crate (parse to `SipMessage`, typed headers) on the same
//! inputs, minus those rsip rejects; their number is printed when the bench starts.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // a benchmark: a failed set-up stops it loudly

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rsip::prelude::*;
use siproxd_rs::limits::SIP_SEND_BUFFER;
use siproxd_rs::sdp::{rewrite_for_relay, Sdp, StreamRewrite};
use siproxd_rs::sip::{Contact, Framing, Message};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

const REAL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/real");

/// Every `.sip` file of testdata/real, in name order, as (name, bytes).
fn real_messages() -> Vec<(String, Vec<u8>)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(REAL)
        .expect("testdata/real")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "sip"))
        .collect();
    paths.sort();
    assert_eq!(paths.len(), 30, "testdata/real changed");
    paths
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("read message"))
        })
        .collect()
}

/// The SDP bodies of the messages (the part after the blank line, when it starts with `v=`).
fn sdp_bodies(msgs: &[(String, Vec<u8>)]) -> Vec<Vec<u8>> {
    msgs.iter()
        .filter_map(|(_, m)| {
            let i = m.windows(4).position(|w| w == b"\r\n\r\n")?;
            let body = &m[i + 4..];
            body.starts_with(b"v=").then(|| body.to_vec())
        })
        .collect()
}

/// What the relay reads of a body: every stream with session defaults applied.
fn sdp_walk(body: &[u8]) -> usize {
    let sdp = Sdp::parse(body).expect("real SDP parses");
    let mut acc = sdp.origin().map_or(0, |o| o.session_id.len());
    for i in 0..sdp.media_count() {
        let s = sdp.stream(i).expect("stream");
        acc += usize::from(s.port) + usize::from(s.rtcp_port.unwrap_or(0));
        acc += s.address.map_or(0, |a| a.host.len());
    }
    acc
}

fn bench_sdp(c: &mut Criterion) {
    let msgs = real_messages();
    let bodies = sdp_bodies(&msgs);
    let relay = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7));
    let mut group = c.benchmark_group("sdp");
    group.throughput(Throughput::Elements(bodies.len() as u64));
    group.bench_function(BenchmarkId::new("parse_and_streams", bodies.len()), |b| {
        b.iter(|| {
            bodies
                .iter()
                .map(|body| sdp_walk(black_box(body)))
                .sum::<usize>()
        })
    });
    let mut out = vec![0u8; SIP_SEND_BUFFER];
    group.bench_function(
        BenchmarkId::new("parse_and_relay_rewrite", bodies.len()),
        |b| {
            b.iter(|| {
                let mut total = 0;
                for body in &bodies {
                    let sdp = Sdp::parse(black_box(body)).expect("real SDP parses");
                    let streams: heapless::Vec<StreamRewrite, 16> = (0..sdp.media_count())
                        .map(|i| StreamRewrite {
                            address: relay,
                            rtp_port: 30000 + 2 * i as u16,
                            rtcp_port: None,
                        })
                        .collect();
                    total += rewrite_for_relay(&sdp, relay, &streams, true, &mut out)
                        .expect("relay rewrite of real SDP");
                }
                total
            })
        },
    );
    group.finish();
}

/// The proxy's reading of one message with our parser; returns a checksum of what it read.
fn ours(bytes: &[u8]) -> Option<usize> {
    let m = Message::parse(bytes, Framing::Datagram).ok()?;
    let mut acc = m.header_count();
    acc += m.top_via().ok()?.branch().map_or(0, <[u8]>::len);
    acc += m.from().ok()?.tag().map_or(0, <[u8]>::len);
    acc += m.to().ok()?.tag().map_or(0, <[u8]>::len);
    acc += m.call_id().ok()?.len();
    acc += m.cseq().ok()?.number as usize;
    if let Some(c) = m.contacts().next() {
        if let Contact::Addr(a) = c.ok()? {
            acc += a.uri.params.iter().count() + a.uri.user.map_or(0, <[u8]>::len);
        }
    }
    Some(acc)
}

/// The same reading with rsip.
fn theirs(bytes: &[u8]) -> Option<usize> {
    let m = rsip::SipMessage::try_from(bytes).ok()?;
    let mut acc = m.headers().iter().count();
    acc += m
        .via_header()
        .ok()?
        .typed()
        .ok()?
        .branch()
        .map_or(0, |b| b.value().len());
    acc += m
        .from_header()
        .ok()?
        .typed()
        .ok()?
        .tag()
        .map_or(0, |t| t.value().len());
    acc += m
        .to_header()
        .ok()?
        .typed()
        .ok()?
        .tag()
        .map_or(0, |t| t.value().len());
    acc += m.call_id_header().ok()?.value().len();
    acc += m.cseq_header().ok()?.typed().ok()?.seq as usize;
    if let Ok(c) = m.contact_header() {
        let uri = c.typed().ok()?.uri;
        acc += uri.params.len() + uri.user().map_or(0, str::len);
    }
    Some(acc)
}

fn bench_sip(c: &mut Criterion) {
    let msgs = real_messages();
    for (name, m) in &msgs {
        assert!(
            ours(m).is_some(),
            "{name}: our parser rejects a real message"
        );
    }
    let accepted: Vec<&[u8]> = msgs
        .iter()
        .filter(|(_, m)| theirs(m).is_some())
        .map(|(_, m)| m.as_slice())
        .collect();
    let rejected: Vec<&str> = msgs
        .iter()
        .filter(|(_, m)| theirs(m).is_none())
        .map(|(n, _)| n.as_str())
        .collect();
    eprintln!(
        "sip_parse: {} messages, rsip rejects {}: {rejected:?}",
        msgs.len(),
        rejected.len()
    );

    paired_ratio(&accepted);

    let mut group = c.benchmark_group("sip");
    group.throughput(Throughput::Elements(msgs.len() as u64));
    group.bench_function(BenchmarkId::new("siproxd_rs_all", msgs.len()), |b| {
        b.iter(|| {
            msgs.iter()
                .map(|(_, m)| ours(black_box(m)).unwrap_or(0))
                .sum::<usize>()
        })
    });
    group.throughput(Throughput::Elements(accepted.len() as u64));
    group.bench_function(BenchmarkId::new("siproxd_rs", accepted.len()), |b| {
        b.iter(|| {
            accepted
                .iter()
                .map(|m| ours(black_box(m)).unwrap_or(0))
                .sum::<usize>()
        })
    });
    group.bench_function(BenchmarkId::new("rsip", accepted.len()), |b| {
        b.iter(|| {
            accepted
                .iter()
                .map(|m| theirs(black_box(m)).unwrap_or(0))
                .sum::<usize>()
        })
    });
    group.bench_function(
        BenchmarkId::new("siproxd_rs_parse_only", accepted.len()),
        |b| {
            b.iter(|| {
                accepted
                    .iter()
                    .map(|m| {
                        Message::parse(black_box(m), Framing::Datagram)
                            .map_or(0, |m| m.header_count())
                    })
                    .sum::<usize>()
            })
        },
    );
    group.bench_function(BenchmarkId::new("rsip_parse_only", accepted.len()), |b| {
        b.iter(|| {
            accepted
                .iter()
                .map(|m| {
                    rsip::SipMessage::try_from(black_box(*m))
                        .map_or(0, |m| m.headers().iter().count())
                })
                .sum::<usize>()
        })
    });
    group.finish();
}

/// On a shared, loaded machine separate criterion runs see different loads. This alternates
/// the two parsers round by round and keeps each one's fastest round, which is the least
/// disturbed measurement of both, and prints their ratio.
fn paired_ratio(inputs: &[&[u8]]) {
    use std::time::{Duration, Instant};
    let pass = |f: fn(&[u8]) -> Option<usize>| {
        let t = Instant::now();
        for _ in 0..10 {
            for m in inputs {
                black_box(f(black_box(m)));
            }
        }
        t.elapsed()
    };
    let (mut best_ours, mut best_theirs) = (Duration::MAX, Duration::MAX);
    for _ in 0..300 {
        best_ours = best_ours.min(pass(ours));
        best_theirs = best_theirs.min(pass(theirs));
    }
    let per_s = |d: Duration| (10 * inputs.len()) as f64 / d.as_secs_f64();
    eprintln!(
        "sip_parse paired (best of 300 alternating rounds, {} messages): siproxd-rs {:.0} msg/s, rsip {:.0} msg/s, ratio {:.2}",
        inputs.len(),
        per_s(best_ours),
        per_s(best_theirs),
        best_theirs.as_secs_f64() / best_ours.as_secs_f64()
    );
}

criterion_group!(benches, bench_sip, bench_sdp);
criterion_main!(benches);
