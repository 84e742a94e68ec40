//! Proxy core throughput: complete flows (REGISTER + 200, INVITE + 180 + 200 + ACK + BYE + 200)
//! through `Proxy::handle`, no sockets, behaviour §11 fixture (tests/lab).
//!
//! Four benchmarks in one group, one flow (or one call) per iteration:
//! * `parse_validate`: the eight received messages only parsed and validated — the floor, the
//!   in-run baseline;
//! * `proxy_no_media`: the flow through the core with `rtp_proxy_enable = 0` (`NoMedia`);
//! * `proxy_no_media_call`: the same without REGISTER + 200 (registered once), i.e. what one
//!   call of `scripts/bench-sip.sh` costs the core;
//! * `proxy_table_media`: the flow with the relay on (`TableMedia`: SDP rewritten both ways,
//!   a relay opened by INVITE and 200, closed by BYE).
//!
//! The flow is recorded once the way the peers would build it (responses copy the Vias and
//! Record-Route of the request the proxy forwarded; ACK and BYE follow the 200's Contact and
//! Record-Route), checked to replay identically many times over, then replayed in the timed
//! loop. Time is the benchmark thread's CPU time, not wall time: the build machine is shared,
//! and another process's load must not count as ours. After criterion, a summary prints runs/s,
//! µs per run and per message, and each case's cost per message as a multiple of the baseline.
//! Run: `cargo bench --bench proxy_core`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // a benchmark: a failed set-up stops it loudly

#[path = "../tests/lab/mod.rs"]
mod lab;

use std::hint::black_box;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{Criterion, Throughput};
use lab::{crlf, ip, request, sa, sdp, Lab, Sent, A, I, O};
use siproxd_rs::config::Config;
use siproxd_rs::proxy::{Media, NoMedia, Origin, Proxy};
use siproxd_rs::sansio::{Output, Transport};
use siproxd_rs::sip::{Framing, Message};

const GROUP: &str = "proxy_core_flow";
/// Messages per flow.
const FLOW_LEN: usize = 8;
/// Messages per call (the flow without REGISTER and its 200).
const CALL_LEN: usize = 6;
/// Replays checked against the recording before timing: more calls than the fixture has relay
/// port pairs, so a relay that BYE failed to release would show.
const CHECK_REPLAYS: usize = 200;

/// One received message of the flow and what the proxy must do with it.
struct Step {
    origin: Origin,
    bytes: Vec<u8>,
    /// Where the proxy forwards it (exactly one message out).
    to: SocketAddr,
    first_line: String,
}

fn origin(src: SocketAddr, local: &str) -> Origin {
    Origin {
        transport: Transport::Udp,
        src,
        local: SocketAddr::new(ip(local), 5060),
        connection: None,
    }
}

/// A UAS's response to the request `req` the proxy forwarded: Vias, Record-Route, From,
/// Call-ID and CSeq copied, a To tag added unless there is one.
fn response(req: &Sent, status: &str, to_tag: &str, extra: &str, body: &str) -> Vec<u8> {
    let mut h = String::new();
    for v in req.headers("Via") {
        h.push_str(&format!("Via: {v}\n"));
    }
    for rr in req.headers("Record-Route") {
        h.push_str(&format!("Record-Route: {rr}\n"));
    }
    let to = req.header("To").expect("To");
    let to = if to.contains(";tag=") {
        to
    } else {
        format!("{to};tag={to_tag}")
    };
    h.push_str(&format!(
        "From: {}\nTo: {to}\nCall-ID: {}\nCSeq: {}\n{extra}",
        req.header("From").expect("From"),
        req.header("Call-ID").expect("Call-ID"),
        req.header("CSeq").expect("CSeq"),
    ));
    crlf(&request(&format!("SIP/2.0 {status}"), &h, body))
}

/// A's in-dialog request after the 200 `ok` it received: Request-URI = the 200's Contact,
/// route set = its Record-Route reversed.
fn in_dialog(ok: &Sent, method: &str, cseq: u32, branch: &str) -> Vec<u8> {
    let contact = ok.header("Contact").expect("Contact in 200");
    let target = contact
        .trim_start_matches('<')
        .split('>')
        .next()
        .expect("contact URI");
    let mut h = format!("Via: SIP/2.0/UDP 192.168.1.10:5060;branch={branch}\nMax-Forwards: 70\n");
    for r in ok.headers("Record-Route").iter().rev() {
        h.push_str(&format!("Route: {r}\n"));
    }
    h.push_str(&format!(
        "From: {}\nTo: {}\nCall-ID: {}\nCSeq: {cseq} {method}\n",
        ok.header("From").expect("From"),
        ok.header("To").expect("To"),
        ok.header("Call-ID").expect("Call-ID"),
    ));
    crlf(&request(&format!("{method} {target} SIP/2.0"), &h, ""))
}

/// Delivers one message to the lab and returns the single message the proxy sent.
fn step(lab: &mut Lab, steps: &mut Vec<Step>, origin: Origin, bytes: Vec<u8>) -> Sent {
    lab.proxy
        .handle_message(lab.now, origin, &bytes, &mut lab.media);
    lab.now += 1;
    let out = lab.take();
    assert_eq!(
        out.len(),
        1,
        "one message forwarded for {}: {out:?}",
        String::from_utf8_lossy(&bytes)
    );
    let sent = out.into_iter().next().expect("one");
    steps.push(Step {
        origin,
        bytes,
        to: sent.to,
        first_line: sent.first_line().to_string(),
    });
    sent
}

/// Records the flow through a fresh lab proxy configured with `cfg`.
fn record(cfg: Config) -> Vec<Step> {
    let relay = cfg.rtp_proxy_enable == 1;
    let mut lab = Lab::with(cfg);
    let mut steps = Vec::with_capacity(FLOW_LEN);
    let lan = |src: SocketAddr| origin(src, I);
    let wan = |src: SocketAddr| origin(src, O);

    let reg = crlf(&lab::register(
        "sip:example.com",
        "<sip:alice@192.168.1.10:5060>;expires=3600",
        "",
    ));
    let f_reg = step(&mut lab, &mut steps, lan(sa(A)), reg);
    let contact = f_reg.header("Contact").expect("masqueraded Contact");
    let ok = response(
        &f_reg,
        "200 OK",
        "p1",
        &format!("Contact: {contact};expires=600\n"),
        "",
    );
    step(&mut lab, &mut steps, wan(f_reg.to), ok);

    let invite = crlf(&request(
        "INVITE sip:bob@example.com SIP/2.0",
        "Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKinv1\nMax-Forwards: 70\nFrom: <sip:alice@example.com>;tag=a1\nTo: <sip:bob@example.com>\nCall-ID: call1@192.168.1.10\nCSeq: 1 INVITE\nContact: <sip:alice@192.168.1.10:5060>\n",
        &sdp("192.168.1.10", 4000),
    ));
    let f_inv = step(&mut lab, &mut steps, lan(sa(A)), invite);
    if relay {
        assert!(
            f_inv.body().contains(&format!("c=IN IP4 {O}")),
            "{}",
            f_inv.text
        );
    }
    let b_contact = "Contact: <sip:bob@198.51.100.30:5060>\n";
    let ringing = response(&f_inv, "180 Ringing", "b1", b_contact, "");
    step(&mut lab, &mut steps, wan(f_inv.to), ringing);
    let answer = response(
        &f_inv,
        "200 OK",
        "b1",
        b_contact,
        &sdp("198.51.100.30", 30000),
    );
    let ok_at_a = step(&mut lab, &mut steps, wan(f_inv.to), answer);
    if relay {
        assert!(
            ok_at_a.body().contains(&format!("c=IN IP4 {I}")),
            "{}",
            ok_at_a.text
        );
    }

    let ack = in_dialog(&ok_at_a, "ACK", 1, "z9hG4bKack1");
    step(&mut lab, &mut steps, lan(sa(A)), ack);
    let bye = in_dialog(&ok_at_a, "BYE", 2, "z9hG4bKbye1");
    let f_bye = step(&mut lab, &mut steps, lan(sa(A)), bye);
    let bye_ok = response(&f_bye, "200 OK", "b1", "", "");
    step(&mut lab, &mut steps, wan(f_bye.to), bye_ok);

    assert_eq!(steps.len(), FLOW_LEN);
    let firsts: Vec<&str> = steps
        .iter()
        .map(|s| s.first_line.split(' ').next().unwrap_or(""))
        .collect();
    assert_eq!(
        firsts,
        ["REGISTER", "SIP/2.0", "INVITE", "SIP/2.0", "SIP/2.0", "ACK", "BYE", "SIP/2.0"]
    );
    steps
}

/// Replays `steps` once, the clock moving `tick` ms per message; returns the number of
/// messages the proxy sent.
fn replay(
    proxy: &mut Proxy,
    media: &mut dyn Media,
    now: &mut u64,
    tick: u64,
    steps: &[Step],
) -> usize {
    thread_local! {
        // The shell keeps one send buffer; a fresh one per flow would measure its zeroing.
        static BUF: std::cell::RefCell<Vec<u8>> =
            std::cell::RefCell::new(vec![0u8; siproxd_rs::limits::SIP_SEND_BUFFER]);
    }
    BUF.with(|b| {
        let buf = &mut b.borrow_mut()[..];
        let mut sent = 0;
        for s in steps {
            proxy.handle_message(*now, s.origin, black_box(&s.bytes), media);
            *now += tick;
            while let Output::Transmit(t) = proxy.poll_output(buf) {
                sent += 1;
                black_box(buf.get(..t.len));
            }
        }
        sent
    })
}

/// A fresh proxy for `cfg` that has replayed the flow `CHECK_REPLAYS` times, every message
/// forwarded where the recording says, with the same first line.
fn checked_proxy(cfg: Config, steps: &[Step], relay: bool) -> Lab {
    let mut lab = Lab::with(cfg);
    for round in 0..CHECK_REPLAYS {
        for s in steps {
            let media: &mut dyn Media = if relay { &mut lab.media } else { &mut NoMedia };
            lab.proxy.handle_message(lab.now, s.origin, &s.bytes, media);
            lab.now += 1;
            let out = lab.take();
            assert!(
                out.len() == 1 && out[0].to == s.to && out[0].first_line() == s.first_line,
                "replay {round} differs from the recording for {}: {out:?}",
                s.first_line
            );
        }
        if relay {
            assert_eq!(lab.media.sockets.open_pairs, 0, "BYE released the relay");
        }
    }
    lab
}

fn no_media_config() -> Config {
    Config {
        rtp_proxy_enable: 0,
        ..Lab::config()
    }
}

/// CPU time of the calling thread (`CLOCK_THREAD_CPUTIME_ID`), in ns.
struct ThreadCpu;

fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}

impl Measurement for ThreadCpu {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, start: u64) -> u64 {
        thread_cpu_ns().saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuFormatter
    }
}

/// Formats CPU nanoseconds like criterion's wall-time formatter, with a "cpu" mark.
struct CpuFormatter;

impl ValueFormatter for CpuFormatter {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (div, unit) = if typical < 1e3 {
            (1.0, "ns cpu")
        } else if typical < 1e6 {
            (1e3, "µs cpu")
        } else {
            (1e6, "ms cpu")
        };
        values.iter_mut().for_each(|v| *v /= div);
        unit
    }
    fn scale_throughputs(&self, _typical: f64, t: &Throughput, values: &mut [f64]) -> &'static str {
        let per_iter = match *t {
            Throughput::Elements(n) => n as f64,
            _ => 1.0,
        };
        values.iter_mut().for_each(|v| *v = per_iter * 1e9 / *v);
        "elem/s cpu"
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

fn bench(c: &mut Criterion<ThreadCpu>) {
    let relay_steps = record(Lab::config());
    let plain_steps = record(no_media_config());
    let mut g = c.benchmark_group(GROUP);
    g.throughput(Throughput::Elements(1));

    g.bench_function("parse_validate", |b| {
        b.iter(|| {
            let mut ok = 0usize;
            for s in &relay_steps {
                let m = Message::parse(black_box(&s.bytes), Framing::Datagram);
                if let Ok(m) = m {
                    if m.validate().is_ok() {
                        ok += 1;
                    }
                }
            }
            assert_eq!(ok, FLOW_LEN);
        })
    });

    let mut lab = checked_proxy(no_media_config(), &plain_steps, false);
    let mut now = lab.now;
    g.bench_function("proxy_no_media", |b| {
        b.iter(|| {
            let sent = replay(&mut lab.proxy, &mut NoMedia, &mut now, 1, &plain_steps);
            assert_eq!(sent, FLOW_LEN);
        })
    });

    // The call alone, as the sipp load sends it (registered once); the clock stands still so
    // the registration does not expire however many calls criterion runs.
    let call = plain_steps.get(2..).expect("call steps");
    let mut lab = checked_proxy(no_media_config(), &plain_steps, false);
    let now = lab.now;
    g.bench_function("proxy_no_media_call", |b| {
        b.iter(|| {
            let mut t = now;
            let sent = replay(&mut lab.proxy, &mut NoMedia, &mut t, 0, call);
            assert_eq!(sent, CALL_LEN);
        })
    });

    let mut lab = checked_proxy(Lab::config(), &relay_steps, true);
    let mut now = lab.now;
    g.bench_function("proxy_table_media", |b| {
        b.iter(|| {
            let sent = replay(&mut lab.proxy, &mut lab.media, &mut now, 1, &relay_steps);
            assert_eq!(sent, FLOW_LEN);
        })
    });
    g.finish();
}

/// criterion's estimate directory (`CARGO_TARGET_DIR` or `target/`).
fn criterion_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("criterion").join(GROUP)
}

/// The median point estimate (ns) criterion stored for `bench` since `start`: the median is
/// robust to the shared machine's hiccups; older files are from an earlier run, or the bench
/// was filtered out.
fn median_ns(bench: &str, start: SystemTime) -> Option<f64> {
    let path = criterion_dir().join(bench).join("new/estimates.json");
    if std::fs::metadata(&path).ok()?.modified().ok()? < start {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    let median = text.get(text.find("\"median\"")?..)?;
    let pe = median.get(median.find("\"point_estimate\":")? + "\"point_estimate\":".len()..)?;
    let end = pe.find([',', '}'])?;
    pe.get(..end)?.trim().parse().ok()
}

/// One line per case (a run is one iteration: a flow, or a call alone): runs/s, µs per run,
/// µs per message, and the cost per message as a multiple of the baseline's.
fn summary(start: SystemTime) {
    let Some(base) = median_ns("parse_validate", start) else {
        eprintln!(
            "no estimates of this run under {} (baseline filtered out?)",
            criterion_dir().display()
        );
        return;
    };
    println!(
        "\nsummary (median CPU time of this run; × base = per message, against parse_validate):"
    );
    println!(
        "{:<22} {:>6} {:>10} {:>10} {:>10} {:>10}",
        "case", "msgs", "runs/s", "µs/run", "µs/msg", "× base"
    );
    let cases = [
        ("parse_validate", FLOW_LEN),
        ("proxy_no_media", FLOW_LEN),
        ("proxy_no_media_call", CALL_LEN),
        ("proxy_table_media", FLOW_LEN),
    ];
    for (name, msgs) in cases {
        if let Some(ns) = median_ns(name, start) {
            println!(
                "{:<22} {:>6} {:>10.0} {:>10.2} {:>10.2} {:>10.1}",
                name,
                msgs,
                1e9 / ns,
                ns / 1e3,
                ns / 1e3 / msgs as f64,
                (ns / msgs as f64) / (base / FLOW_LEN as f64)
            );
        }
    }
}

fn main() {
    let start = SystemTime::now();
    let mut c = Criterion::default()
        .with_measurement(ThreadCpu)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    bench(&mut c);
    c.final_summary();
    summary(start);
}
