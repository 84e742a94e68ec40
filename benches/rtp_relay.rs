//! RTP relay benchmark (issue 5): `net::relay::Relay` + `rtp::Table` driven by a real mio loop
//! on its own thread, side by side in the same run with a *minimal relay* — the same kind of
//! mio sockets, a loop of recv_from/send_to to a fixed peer, no table, no latching. The minimal
//! relay is the limit; the figures that matter are ratios against it.
//!
//! Per case (stream count × traffic mode) and repetition, both relays carry 172-byte packets
//! (RTP header + 160 bytes, G.711 at 20 ms) between endpoints on loopback:
//! - `paced`: every stream sends at a fixed rate (50 pps, like audio), spread over the period;
//!   both relays run at the same time (own endpoints, minimal relay on ports shifted by
//!   `CONCURRENT_PORT_SHIFT`), so the shared machine's noise hits both alike;
//! - `saturate`: the generator keeps a bounded number of packets in flight as fast as it can;
//!   one relay at a time, on the very same ports, alternating which goes first.
//!
//! Each packet carries its send time; the receiver histograms one-way latency through the relay.
//! CPU is the relay thread's own (getrusage RUSAGE_THREAD). Medians of `--reps` repetitions.
//!
//! A "stream" is one half-stream: one direction of one call, one relay socket receiving it.
//! The in-process relay runs a second time with every socket on ::1 (issue 13: IPv6 relaying
//! against IPv4 in the same run; `--no-ipv6` leaves it out).
//! Run: `scripts/bench-rtp.sh` (or `cargo bench --bench rtp_relay -- --help`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // a benchmark: a failed set-up stops it loudly

#[path = "../tests/streams/mod.rs"]
mod streams;

use std::io::{self, ErrorKind};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token, Waker};
use siproxd_rs::net::relay::Relay;
use siproxd_rs::rtp::{StreamDirection, Table};

/// The relay's outbound ("O") and inbound ("I") addresses, and the two sides' endpoints.
const RELAY_O: &str = "127.0.0.1";
const RELAY_I: &str = "127.0.0.2";
const PHONE: &str = "127.0.0.10";
const PROVIDER: &str = "127.0.0.20";
/// Every role of the IPv6 run (issue 13): lo has one IPv6 address.
const V6: &str = "::1";

const PACKET: usize = 172;
/// Wakes a relay loop to stop; clear of the relay's tokens (from `RELAY_TOKEN_BASE`) and of
/// the minimal relay's (socket indexes).
const WAKE: Token = Token(1 << 22);
/// Longest sleep of a relay loop: a backstop should a wake-up be missed (seen once in a
/// while on the shared VM); 1 wake-up per second costs nothing measurable.
const MAX_SLEEP: Duration = Duration::from_secs(1);
/// Latency histogram: 100 ns bins up to 100 ms (later packets land in the last bin).
const BIN_NS: u64 = 100;
const BINS: usize = 1_000_000;
/// Packets in flight in the saturation mode: well below a default socket receive buffer, so
/// the limit measured is the relay's, not loss, and both relays see the same queue depth
/// (a deeper queue means more datagrams per wake-up, cheaper per packet).
const WINDOW: usize = 64;
/// A window slot whose packet has not arrived after this long is written off as lost.
const WRITE_OFF: Duration = Duration::from_millis(100);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// `Relay` + `Table` in this process.
    Relay,
    /// The limit.
    Minimal,
    /// The `siproxd-rs` binary, calls set up by SIP (REGISTER, INVITE/200/ACK with SDP).
    Binary,
    /// `Relay` + `Table` in this process, every socket on ::1.
    Relay6,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Relay => "Relay (in-process)",
            Kind::Minimal => "minimal relay (limit)",
            Kind::Binary => "siproxd-rs binary",
            Kind::Relay6 => "Relay (in-process, IPv6)",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Paced { pps: u32 },
    Saturate,
}

struct Args {
    reps: usize,
    /// Seconds per saturation run.
    secs: f64,
    /// Seconds per paced run: at 4 streams × 50 pps the relay uses a few ms of CPU per
    /// second, so short runs are at the mercy of the shared machine.
    paced_secs: f64,
    port_low: u16,
    streams: Vec<usize>,
    pps: u32,
    /// Also measure the `siproxd-rs` binary.
    binary: bool,
    /// Also measure the in-process relay on IPv6.
    ipv6: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        reps: 3,
        secs: 2.0,
        paced_secs: 6.0,
        port_low: 61_000,
        streams: vec![4, 200],
        pps: 50,
        binary: true,
        ipv6: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            // cargo bench passes this to harness = false benches.
            "--bench" => {}
            "--no-binary" => a.binary = false,
            "--no-ipv6" => a.ipv6 = false,
            "--reps" => a.reps = val()?.parse().map_err(|e| format!("--reps: {e}"))?,
            "--secs" => a.secs = val()?.parse().map_err(|e| format!("--secs: {e}"))?,
            "--paced-secs" => {
                a.paced_secs = val()?.parse().map_err(|e| format!("--paced-secs: {e}"))?
            }
            "--port-low" => a.port_low = val()?.parse().map_err(|e| format!("--port-low: {e}"))?,
            "--pps" => a.pps = val()?.parse().map_err(|e| format!("--pps: {e}"))?,
            "--streams" => {
                a.streams = val()?
                    .split(',')
                    .map(|s| s.parse::<usize>().map_err(|e| format!("--streams: {e}")))
                    .collect::<Result<_, _>>()?
            }
            "--help" | "-h" => {
                return Err(
                    "usage: rtp_relay [--reps 3] [--secs 2] [--paced-secs 6] [--streams 4,200] \
                            [--pps 50] [--port-low 61000] [--no-binary] [--no-ipv6]"
                        .into(),
                )
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.reps == 0 || a.secs <= 0.0 || a.paced_secs <= 0.0 || a.pps == 0 {
        return Err("--reps, --secs, --paced-secs and --pps must be positive".into());
    }
    if let Some(&n) = a.streams.iter().find(|&&n| n < 2 || n % 2 != 0) {
        return Err(format!(
            "--streams {n}: need an even count ≥ 2 (two per call)"
        ));
    }
    // Each relay needs 2 ports per half-stream from its base; the binary's base is the highest.
    let top = a.streams.iter().max().map_or(0, |&n| 4 * n as u64 + 2)
        + u64::from(a.port_low)
        + u64::from(BINARY_PORT_SHIFT);
    if top > u64::from(u16::MAX) {
        return Err(format!(
            "--port-low {}: the relays' ports would run past 65535",
            a.port_low
        ));
    }
    Ok(a)
}

/// CPU time (user + system) of the calling thread, ns.
fn thread_cpu_ns() -> u64 {
    // SAFETY: an all-zero rusage is a valid value; getrusage only writes into it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_THREAD with a struct we own.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    assert_eq!(rc, 0, "getrusage: {}", io::Error::last_os_error());
    let tv = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1_000;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// What a relay thread reports when stopped: datagrams it sent on, its CPU time.
struct RelayRun {
    /// `None` for the binary: its count is what the endpoints received.
    sent: Option<u64>,
    cpu_ns: u64,
    /// Returns from poll: packets per wake-up explains most of the cost per packet.
    wakes: u64,
}

/// One call's relay RTP ports; each sends on what the other receives.
#[derive(Clone, Copy)]
struct CallPorts {
    /// Opened for the phone's media (on O): the provider sends here.
    from_provider: SocketAddr,
    /// Opened for the provider's media (on I): the phone sends here.
    from_phone: SocketAddr,
}

struct Endpoints {
    phones: Vec<UdpSocket>,
    providers: Vec<UdpSocket>,
}

fn endpoints(calls: usize, v6: bool) -> Endpoints {
    let bind = |ip: &str| {
        let s = UdpSocket::bind((ip, 0)).expect("bind endpoint");
        s.set_nonblocking(true).unwrap();
        s
    };
    Endpoints {
        phones: (0..calls)
            .map(|_| bind(if v6 { V6 } else { PHONE }))
            .collect(),
        providers: (0..calls)
            .map(|_| bind(if v6 { V6 } else { PROVIDER }))
            .collect(),
    }
}

/// The real relay: opens every call as the proxy core does (INVITE's SDP, then 200 OK's) and
/// runs the same loop body as `net::event_loop` (poll, handle_readable per token, handle_timeout when poll_timeout says).
fn run_relay(
    ep_addrs: Vec<(SocketAddr, SocketAddr)>,
    port_low: u16,
    (relay_o, relay_i): (&'static str, &'static str),
    stop: Arc<AtomicBool>,
    ready: mpsc::Sender<(Vec<CallPorts>, Option<Arc<Waker>>)>,
) -> RelayRun {
    let mut poll = Poll::new().unwrap();
    let halves = ep_addrs.len() * 2;
    let port_high = port_low + (2 * halves as u16) + 1;
    let table = Table::new(halves, port_low, port_high, 3600);
    let mut relay = Relay::new(table, 0, poll.registry().try_clone().unwrap());
    let start = Instant::now();
    let now = |start: Instant| start.elapsed().as_millis() as u64;
    let mut ports = Vec::with_capacity(ep_addrs.len());
    for (i, (phone, provider)) in ep_addrs.iter().enumerate() {
        let call_id = format!("bench-{i}@lan");
        let e1 = relay
            .open(
                now(start),
                &streams::req(&call_id, StreamDirection::Incoming, relay_o, *phone),
            )
            .expect("open phone half");
        let e2 = relay
            .open(
                now(start),
                &streams::req(&call_id, StreamDirection::Outgoing, relay_i, *provider),
            )
            .expect("open provider half");
        ports.push(CallPorts {
            from_provider: e1.local,
            from_phone: e2.local,
        });
    }
    let waker = Arc::new(Waker::new(poll.registry(), WAKE).unwrap());
    ready.send((ports, Some(waker))).unwrap();
    let mut events = Events::with_capacity(64);
    let mut wakes = 0u64;
    let cpu0 = thread_cpu_ns();
    while !stop.load(Ordering::Relaxed) {
        wakes += 1;
        relay.handle_timeout(now(start));
        let wait = relay
            .poll_timeout()
            .map_or(MAX_SLEEP, |d| {
                Duration::from_millis(d.saturating_sub(now(start)))
            })
            .min(MAX_SLEEP);
        match poll.poll(&mut events, Some(wait)) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => panic!("poll: {e}"),
        }
        for ev in events.iter().filter(|ev| ev.token() != WAKE) {
            relay.handle_readable(now(start), ev.token());
        }
    }
    let cpu_ns = thread_cpu_ns() - cpu0;
    let st = *relay.stats();
    assert_eq!(st.dropped, 0, "relay dropped packets: {st:?}");
    relay.close_all();
    RelayRun {
        sent: Some(st.sent),
        cpu_ns,
        wakes,
    }
}

/// The limit: the same sockets (SO_REUSEADDR, non-blocking, mio) on the same ports, each
/// datagram sent on to a fixed peer from the paired socket. Nothing else.
fn run_minimal(
    ep_addrs: Vec<(SocketAddr, SocketAddr)>,
    ports: Vec<CallPorts>,
    stop: Arc<AtomicBool>,
    ready: mpsc::Sender<(Vec<CallPorts>, Option<Arc<Waker>>)>,
) -> RelayRun {
    let mut poll = Poll::new().unwrap();
    let bind = |addr: SocketAddr| {
        let s = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::DGRAM,
            Some(socket2::Protocol::UDP),
        )
        .unwrap();
        s.set_reuse_address(true).unwrap();
        s.set_nonblocking(true).unwrap();
        s.bind(&addr.into()).unwrap();
        mio::net::UdpSocket::from_std(s.into())
    };
    // socks[2i] receives the provider's packets and sends to the phone, socks[2i+1] the reverse;
    // route[k] = (socket to send from, destination).
    let mut socks = Vec::with_capacity(ports.len() * 2);
    let mut route = Vec::with_capacity(ports.len() * 2);
    for (i, (p, (phone, provider))) in ports.iter().zip(&ep_addrs).enumerate() {
        socks.push(bind(p.from_provider));
        socks.push(bind(p.from_phone));
        route.push((2 * i + 1, *phone));
        route.push((2 * i, *provider));
    }
    for (k, s) in socks.iter_mut().enumerate() {
        poll.registry()
            .register(s, Token(k), Interest::READABLE)
            .unwrap();
    }
    let waker = Arc::new(Waker::new(poll.registry(), WAKE).unwrap());
    ready.send((ports, Some(waker))).unwrap();
    let mut events = Events::with_capacity(64);
    let mut buf = vec![0u8; 1521];
    let mut sent = 0u64;
    let mut wakes = 0u64;
    let cpu0 = thread_cpu_ns();
    while !stop.load(Ordering::Relaxed) {
        wakes += 1;
        match poll.poll(&mut events, Some(MAX_SLEEP)) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => panic!("poll: {e}"),
        }
        for ev in events.iter().filter(|ev| ev.token() != WAKE) {
            let k = ev.token().0;
            let (out, dst) = route[k];
            loop {
                let n = match socks[k].recv_from(&mut buf) {
                    Ok((n, _)) => n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(_) => continue,
                };
                if socks[out].send_to(&buf[..n], dst).is_ok() {
                    sent += 1;
                }
            }
        }
    }
    let cpu_ns = thread_cpu_ns() - cpu0;
    RelayRun {
        sent: Some(sent),
        cpu_ns,
        wakes,
    }
}

/// One flow: the endpoint socket it is sent from and the relay port it is sent to.
struct Flow {
    sock: UdpSocket,
    dst: SocketAddr,
    /// Index of the relay it goes through.
    relay: usize,
}

/// 172 bytes: RTP v2 header (PT 0, seq, timestamp, SSRC = stream), then the send time (ns
/// since `base`), then filler. Built byte by byte: endian-independent.
fn fill_packet(p: &mut [u8; PACKET], stream: u32, seq: u32, sent_ns: u64) {
    p[0] = 0x80;
    p[1] = 0;
    p[2..4].copy_from_slice(&(seq as u16).to_be_bytes());
    p[4..8].copy_from_slice(&seq.wrapping_mul(160).to_be_bytes());
    p[8..12].copy_from_slice(&stream.to_be_bytes());
    p[12..20].copy_from_slice(&sent_ns.to_be_bytes());
}

struct Received {
    count: u64,
    hist: Vec<u32>,
}

/// Drains every endpoint socket until `stop`; counts packets and histograms their latency,
/// per relay (`socks[k].1` = the index of the relay the socket's packets come through).
fn receive(
    socks: Vec<(UdpSocket, usize)>,
    relays: usize,
    base: Instant,
    stop: Arc<AtomicBool>,
    got: Arc<AtomicUsize>,
) -> Vec<Received> {
    let mut poll = Poll::new().unwrap();
    let mut socks: Vec<(mio::net::UdpSocket, usize)> = socks
        .into_iter()
        .map(|(s, r)| (mio::net::UdpSocket::from_std(s), r))
        .collect();
    for (k, (s, _)) in socks.iter_mut().enumerate() {
        poll.registry()
            .register(s, Token(k), Interest::READABLE)
            .unwrap();
    }
    let mut events = Events::with_capacity(64);
    let mut out: Vec<Received> = (0..relays)
        .map(|_| Received {
            count: 0,
            hist: vec![0u32; BINS],
        })
        .collect();
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        if let Err(e) = poll.poll(&mut events, Some(Duration::from_millis(10))) {
            assert_eq!(e.kind(), ErrorKind::Interrupted, "poll: {e}");
            continue;
        }
        for ev in events.iter() {
            let (s, r) = &socks[ev.token().0];
            let rcv = &mut out[*r];
            loop {
                match s.recv_from(&mut buf) {
                    Ok((n, _)) if n == PACKET => {
                        let now = base.elapsed().as_nanos() as u64;
                        let sent = u64::from_be_bytes(buf[12..20].try_into().unwrap());
                        let bin = (now.saturating_sub(sent) / BIN_NS) as usize;
                        rcv.hist[bin.min(BINS - 1)] += 1;
                        rcv.count += 1;
                        got.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok((n, from)) => panic!("unexpected {n}-byte datagram from {from}"),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(_) => {}
                }
            }
        }
    }
    out
}

/// Sends for `secs`; returns how many packets went out per relay (`relays` of them).
fn generate(
    flows: &[Flow],
    relays: usize,
    mode: Mode,
    secs: f64,
    base: Instant,
    got: &AtomicUsize,
) -> Vec<u64> {
    let mut pkt = [0u8; PACKET];
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let mut sent = 0u64;
    let mut per_relay = vec![0u64; relays];
    let mut send = |i: usize, seq: u32, pkt: &mut [u8; PACKET]| {
        fill_packet(pkt, i as u32, seq, base.elapsed().as_nanos() as u64);
        // A full queue or an ICMP error loses this packet only; the counts show it.
        let ok = flows[i].sock.send_to(&pkt[..], flows[i].dst).is_ok();
        per_relay[flows[i].relay] += u64::from(ok);
        u64::from(ok)
    };
    match mode {
        Mode::Paced { pps } => {
            // Stream i sends at start + i·period/n + k·period: evenly spread, like many
            // independent phones, not one burst per period.
            let period = Duration::from_secs(1) / pps;
            let t0 = Instant::now();
            let n = flows.len() as u32;
            let mut next: Vec<Instant> = (0..n).map(|i| t0 + period * i / n).collect();
            let mut seq = vec![0u32; flows.len()];
            loop {
                let now = Instant::now();
                if now >= end {
                    break;
                }
                for i in 0..flows.len() {
                    if next[i] <= now {
                        send(i, seq[i], &mut pkt);
                        seq[i] += 1;
                        next[i] += period;
                    }
                }
                let wake = next.iter().min().copied().unwrap_or(end).min(end);
                if let Some(d) = wake.checked_duration_since(Instant::now()) {
                    thread::sleep(d);
                }
            }
        }
        Mode::Saturate => {
            let mut seq = 0u32;
            // Packets never received (lost) are written off after a stall, so the window
            // cannot close for good.
            let mut written_off = 0u64;
            let mut stalled: Option<Instant> = None;
            while Instant::now() < end {
                let in_flight =
                    sent.saturating_sub(got.load(Ordering::Relaxed) as u64 + written_off);
                if in_flight as usize >= WINDOW {
                    let since = *stalled.get_or_insert_with(Instant::now);
                    if since.elapsed() > WRITE_OFF {
                        written_off += in_flight;
                        stalled = None;
                    } else {
                        thread::yield_now();
                    }
                    continue;
                }
                stalled = None;
                let i = seq as usize % flows.len();
                sent += send(i, seq, &mut pkt);
                seq = seq.wrapping_add(1);
            }
        }
    }
    per_relay
}

#[derive(Clone, Copy, Debug, Default)]
struct Sample {
    /// Packets relayed per wall-clock second.
    pps: f64,
    /// Packets relayed per CPU-second of the relay thread.
    per_cpu_s: f64,
    /// CPU ns per relayed packet.
    cpu_ns_per_pkt: f64,
    p50_us: f64,
    p99_us: f64,
    /// Generated but not received.
    lost: u64,
    pkts_per_wake: f64,
}

fn percentile(hist: &[u32], count: u64, q: f64) -> f64 {
    if count == 0 {
        return f64::NAN;
    }
    let rank = ((count as f64 * q).ceil() as u64).max(1);
    let mut acc = 0u64;
    for (bin, &c) in hist.iter().enumerate() {
        acc += u64::from(c);
        if acc >= rank {
            // Bin midpoint, µs.
            return (bin as f64 + 0.5) * BIN_NS as f64 / 1000.0;
        }
    }
    f64::INFINITY
}

/// Port offset of the minimal relay when it runs at the same time as the real one.
const CONCURRENT_PORT_SHIFT: u16 = 1000;
/// Port offset of the binary's `rtp_port_low`.
const BINARY_PORT_SHIFT: u16 = 2000;

/// One case once: every relay in `kinds` carries `calls` calls at the same time (each with its
/// own endpoints; the generator interleaves their packets, so load on the machine hits all
/// alike). A minimal relay binds the real relay's ports of this run shifted by
/// `CONCURRENT_PORT_SHIFT` when both run, else `ports` (the real relay's of an earlier run).
/// Returns a sample per kind and the real relay's ports, if it ran.
fn run_case(
    kinds: &[Kind],
    calls: usize,
    mode: Mode,
    args: &Args,
    ports: Option<&[CallPorts]>,
) -> (Vec<Sample>, Option<Vec<CallPorts>>) {
    let stop_relay = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    let mut relay_ports: Option<Vec<CallPorts>> = None;
    let mut flows = Vec::new();
    let mut rx_socks = Vec::new();
    for (r, &kind) in kinds.iter().enumerate() {
        let ep = endpoints(calls, kind == Kind::Relay6);
        let ep_addrs: Vec<(SocketAddr, SocketAddr)> = ep
            .phones
            .iter()
            .zip(&ep.providers)
            .map(|(a, b)| (a.local_addr().unwrap(), b.local_addr().unwrap()))
            .collect();
        let (tx, rx) = mpsc::channel();
        let stop = stop_relay.clone();
        let handle = match kind {
            Kind::Relay => {
                let low = args.port_low;
                thread::spawn(move || run_relay(ep_addrs, low, (RELAY_O, RELAY_I), stop, tx))
            }
            // ::1 is another address than the IPv4 relay's: the same ports serve.
            Kind::Relay6 => {
                let low = args.port_low;
                thread::spawn(move || run_relay(ep_addrs, low, (V6, V6), stop, tx))
            }
            Kind::Binary => {
                let low = args.port_low + BINARY_PORT_SHIFT;
                thread::spawn(move || binary::run(ep_addrs, low, stop, tx))
            }
            Kind::Minimal => {
                let p: Vec<CallPorts> = match (&relay_ports, ports) {
                    (Some(rp), _) => rp
                        .iter()
                        .map(|c| CallPorts {
                            from_provider: shift(c.from_provider),
                            from_phone: shift(c.from_phone),
                        })
                        .collect(),
                    (None, Some(p)) => p.to_vec(),
                    (None, None) => panic!("the minimal relay needs the real relay's ports"),
                };
                thread::spawn(move || run_minimal(ep_addrs, p, stop, tx))
            }
        };
        let (p, waker) = rx.recv().expect("relay set-up failed");
        for (i, ((phone, provider), c)) in ep.phones.iter().zip(&ep.providers).zip(&p).enumerate() {
            let _ = i;
            flows.push(Flow {
                sock: phone.try_clone().unwrap(),
                dst: c.from_phone,
                relay: r,
            });
            flows.push(Flow {
                sock: provider.try_clone().unwrap(),
                dst: c.from_provider,
                relay: r,
            });
        }
        for s in ep.phones.into_iter().chain(ep.providers) {
            rx_socks.push((s, r));
        }
        if kind == Kind::Relay {
            relay_ports = Some(p);
        }
        threads.push((handle, waker));
    }
    // Interleave the relays' flows: r0 f0, r1 f0, r0 f1, ...
    let per = calls * 2;
    let mut order: Vec<Flow> = Vec::with_capacity(flows.len());
    let mut by_relay: Vec<std::vec::IntoIter<Flow>> = Vec::new();
    let mut flows = flows.into_iter();
    for _ in kinds {
        by_relay.push(flows.by_ref().take(per).collect::<Vec<_>>().into_iter());
    }
    for _ in 0..per {
        for it in by_relay.iter_mut() {
            order.extend(it.next());
        }
    }

    let base = Instant::now();
    let got = Arc::new(AtomicUsize::new(0));
    let stop_rx = Arc::new(AtomicBool::new(false));
    let receiver = {
        let (stop, got, n) = (stop_rx.clone(), got.clone(), kinds.len());
        thread::spawn(move || receive(rx_socks, n, base, stop, got))
    };
    let t0 = Instant::now();
    let secs = match mode {
        Mode::Paced { .. } => args.paced_secs,
        Mode::Saturate => args.secs,
    };
    let generated = generate(&order, kinds.len(), mode, secs, base, &got);
    let wall = t0.elapsed().as_secs_f64();
    // Let the last packets through before stopping.
    let total: u64 = generated.iter().sum();
    let settle = Instant::now();
    while (got.load(Ordering::Relaxed) as u64) < total
        && settle.elapsed() < Duration::from_millis(200)
    {
        thread::sleep(Duration::from_millis(2));
    }
    stop_relay.store(true, Ordering::Relaxed);
    let runs: Vec<RelayRun> = threads
        .into_iter()
        .map(|(h, w)| {
            if let Some(w) = w {
                w.wake().unwrap();
            }
            h.join().expect("relay thread")
        })
        .collect();
    stop_rx.store(true, Ordering::Relaxed);
    let rcv = receiver.join().expect("receiver thread");
    let samples = runs
        .iter()
        .zip(&rcv)
        .zip(&generated)
        .map(|((run, rcv), &generated)| {
            let sent = run.sent.unwrap_or(rcv.count);
            Sample {
                pps: sent as f64 / wall,
                per_cpu_s: sent as f64 / (run.cpu_ns as f64 / 1e9),
                cpu_ns_per_pkt: run.cpu_ns as f64 / sent.max(1) as f64,
                p50_us: percentile(&rcv.hist, rcv.count, 0.50),
                p99_us: percentile(&rcv.hist, rcv.count, 0.99),
                lost: generated.saturating_sub(rcv.count),
                pkts_per_wake: sent as f64 / run.wakes.max(1) as f64,
            }
        })
        .collect();
    (samples, relay_ports)
}

fn shift(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip(), a.port() + CONCURRENT_PORT_SHIFT)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    for ip in [RELAY_O, RELAY_I, PHONE, PROVIDER, V6] {
        let ip: IpAddr = ip.parse().unwrap();
        if UdpSocket::bind((ip, 0)).is_err() {
            eprintln!("cannot bind {ip}: the benchmark needs 127.0.0.0/8 on lo");
            std::process::exit(1);
        }
    }
    let modes = [Mode::Paced { pps: args.pps }, Mode::Saturate];
    let mut kinds = vec![Kind::Relay, Kind::Minimal];
    if args.binary {
        kinds.push(Kind::Binary);
    }
    if args.ipv6 {
        kinds.push(Kind::Relay6);
    }
    println!(
        "| streams | traffic | relay | pkt/s | pkt/CPU-s | % of limit | CPU/pkt | pkt/wake | \
         p50 / p99 µs | added p50 / p99 µs | lost |"
    );
    println!("|---:|---|---|---:|---:|---:|---:|---:|---|---|---:|");
    for &n in &args.streams {
        for mode in modes {
            // samples[k][rep] for kinds[k].
            let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); kinds.len()];
            let mut ports: Option<Vec<CallPorts>> = None;
            for rep in 0..args.reps {
                let calls = n / 2;
                let got: Vec<Sample> = match mode {
                    // Light load: all at once, so the machine's noise hits all alike.
                    Mode::Paced { .. } => run_case(&kinds, calls, mode, &args, None).0,
                    // Saturation: one at a time (each gets the CPU it can), the in-process
                    // relay and the limit on the same ports; the order reverses every other
                    // repetition so drift in the machine's load hits all alike.
                    Mode::Saturate => {
                        let mut order: Vec<usize> = (0..kinds.len()).collect();
                        if rep % 2 == 1 && ports.is_some() {
                            order.reverse();
                        }
                        let mut got = vec![Sample::default(); kinds.len()];
                        for k in order {
                            let (s, p) =
                                run_case(&[kinds[k]], calls, mode, &args, ports.as_deref());
                            if ports.is_none() {
                                ports = p;
                            }
                            got[k] = s[0];
                        }
                        got
                    }
                };
                let line: Vec<String> = kinds
                    .iter()
                    .zip(&got)
                    .map(|(k, s)| {
                        format!(
                            "{}: {:.0} pkt/CPU-s {:.2} pkt/wake p99 {:.1} µs lost {}",
                            k.name(),
                            s.per_cpu_s,
                            s.pkts_per_wake,
                            s.p99_us,
                            s.lost
                        )
                    })
                    .collect();
                eprintln!("streams {n} {mode:?} rep {rep}: {}", line.join("; "));
                for (k, s) in got.into_iter().enumerate() {
                    samples[k].push(s);
                }
            }
            let traffic = match mode {
                Mode::Paced { pps } => format!("{pps} pps/stream"),
                Mode::Saturate => "saturation".to_string(),
            };
            let med = |v: &[Sample], f: fn(&Sample) -> f64| median(v.iter().map(f).collect());
            let limit = &samples[1];
            let (mp50, mp99) = (med(limit, |s| s.p50_us), med(limit, |s| s.p99_us));
            for (k, v) in kinds.iter().zip(&samples) {
                let ratio = median(
                    v.iter()
                        .zip(limit)
                        .map(|(r, m)| r.per_cpu_s / m.per_cpu_s)
                        .collect(),
                );
                let (p50, p99) = (med(v, |s| s.p50_us), med(v, |s| s.p99_us));
                // Saturation latency is the generator's window queueing, not the relay's.
                let added = match (mode, k) {
                    (_, Kind::Minimal) | (Mode::Saturate, _) => "—".to_string(),
                    (Mode::Paced { .. }, _) => format!("{:.1} / {:.1}", p50 - mp50, p99 - mp99),
                };
                println!(
                    "| {n} | {traffic} | {} | {:.0} | {:.0} | {:.1} % | {:.0} ns | {:.2} | \
                     {p50:.1} / {p99:.1} | {added} | {:.0} |",
                    k.name(),
                    med(v, |s| s.pps),
                    med(v, |s| s.per_cpu_s),
                    ratio * 100.0,
                    med(v, |s| s.cpu_ns_per_pkt),
                    med(v, |s| s.pkts_per_wake),
                    med(v, |s| s.lost as f64),
                );
            }
        }
    }
}

/// The `siproxd-rs` binary as the relay: a tiny UAC (the phone, SIP on 127.0.0.1) and UAS (the
/// provider, 127.0.0.3) set the calls up through it; the relay ports are read from the SDP it
/// rewrote. CPU is the whole process's (`/proc/<pid>/task/*/schedstat`, ns on CPU).
mod binary {
    use super::*;
    use std::process::{Child, Command, Stdio};

    const SIP_PHONE: &str = "127.0.0.1";
    const SIP_PROVIDER: &str = "127.0.0.3";

    struct Proc(Child);

    impl Drop for Proc {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn cpu_ns(pid: u32) -> u64 {
        let mut total = 0;
        for t in std::fs::read_dir(format!("/proc/{pid}/task")).expect("proc task dir") {
            let path = t.unwrap().path().join("schedstat");
            let text = std::fs::read_to_string(path).unwrap_or_default();
            total += text
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
        total
    }

    fn voluntary_switches(pid: u32) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }

    fn crlf(s: &str) -> Vec<u8> {
        s.replace('\n', "\r\n").into_bytes()
    }

    fn sdp(ip: IpAddr, port: u16) -> String {
        format!(
            "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
             m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
        )
    }

    /// The (c=, m= port) of the SDP body of `msg`.
    fn media_addr(msg: &str) -> SocketAddr {
        let body = msg.split_once("\r\n\r\n").expect("no body").1;
        let ip = body
            .lines()
            .find_map(|l| l.strip_prefix("c=IN IP4 "))
            .expect("no c= line");
        let port = body
            .lines()
            .find_map(|l| l.strip_prefix("m=audio "))
            .and_then(|l| l.split(' ').next())
            .expect("no m= line");
        SocketAddr::new(ip.trim().parse().unwrap(), port.parse().unwrap())
    }

    /// Waits for a message on `s` whose first line starts with `prefix`; skips others.
    fn expect(s: &UdpSocket, prefix: &str) -> (String, SocketAddr) {
        let mut buf = [0u8; 8192];
        loop {
            let (n, from) = s
                .recv_from(&mut buf)
                .unwrap_or_else(|e| panic!("waiting for {prefix}: {e}"));
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            if text.starts_with(prefix) {
                return (text, from);
            }
        }
    }

    /// The UAS's 200 OK to `req`: its Via, From, To (+ tag), Call-ID, CSeq; `body` if any.
    fn ok(req: &str, contact: &str, body: &str) -> Vec<u8> {
        let head = req.split_once("\r\n\r\n").map_or(req, |(h, _)| h);
        let mut out = String::from("SIP/2.0 200 OK\r\n");
        for l in head.lines().skip(1) {
            let name = l
                .split(':')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if ["via", "from", "call-id", "cseq", "record-route"].contains(&name.as_str()) {
                out.push_str(l);
                out.push_str("\r\n");
            } else if name == "to" {
                out.push_str(l);
                out.push_str(";tag=uas\r\n");
            }
        }
        out.push_str(&format!("Contact: <{contact}>\r\n"));
        if !body.is_empty() {
            out.push_str("Content-Type: application/sdp\r\n");
        }
        out.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        out.into_bytes()
    }

    pub(super) fn run(
        ep_addrs: Vec<(SocketAddr, SocketAddr)>,
        port_low: u16,
        stop: Arc<AtomicBool>,
        ready: mpsc::Sender<(Vec<CallPorts>, Option<Arc<Waker>>)>,
    ) -> RelayRun {
        let phone = UdpSocket::bind((SIP_PHONE, 0)).unwrap();
        let provider = UdpSocket::bind((SIP_PROVIDER, 0)).unwrap();
        for s in [&phone, &provider] {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        }
        let sip_port = {
            // A port free on both proxy addresses.
            let s = UdpSocket::bind((RELAY_O, 0)).unwrap();
            s.local_addr().unwrap().port()
        };
        let dir = std::env::temp_dir().join(format!("siproxd-rs-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let conf = dir.join("siproxd-rs.conf");
        let halves = ep_addrs.len() * 2;
        std::fs::write(
            &conf,
            format!(
                "if_inbound = {RELAY_O}\nif_outbound = {RELAY_I}\nsip_listen_port = {sip_port}\n\
                 daemonize = 0\nrtp_proxy_enable = 1\nrtp_port_low = {port_low}\n\
                 rtp_port_high = {}\nrtp_timeout = 3600\nmax_rtp_streams = {}\n",
                port_low + 2 * halves as u16 + 1,
                halves.max(16)
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("proxy.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_siproxd-rs"))
            .arg("-f")
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start siproxd-rs");
        let proc_ = Proc(child);
        let pid = proc_.0.id();
        let proxy: SocketAddr = (RELAY_O.parse::<IpAddr>().unwrap(), sip_port).into();
        let me = phone.local_addr().unwrap();
        let prov = provider.local_addr().unwrap();

        // REGISTER through the proxy (outbound-proxy mode); retried until the proxy listens.
        let reg = crlf(&format!(
            "REGISTER sip:{prov} SIP/2.0\nVia: SIP/2.0/UDP {me};branch=z9hG4bKreg\n\
             Max-Forwards: 70\nFrom: <sip:alice@{SIP_PROVIDER}>;tag=r1\n\
             To: <sip:alice@{SIP_PROVIDER}>\nCall-ID: reg@bench\nCSeq: 1 REGISTER\n\
             Contact: <sip:alice@{me}>\nExpires: 3600\nContent-Length: 0\n\n"
        ));
        provider
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut tries = 0;
        let (req, from) = loop {
            phone.send_to(&reg, proxy).unwrap();
            let mut buf = [0u8; 8192];
            if let Ok((n, from)) = provider.recv_from(&mut buf) {
                break (String::from_utf8_lossy(&buf[..n]).into_owned(), from);
            }
            tries += 1;
            assert!(tries < 50, "siproxd-rs does not forward REGISTER");
        };
        provider
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        provider
            .send_to(&ok(&req, &format!("sip:alice@{prov}"), ""), from)
            .unwrap();
        expect(&phone, "SIP/2.0 200");

        let mut ports = Vec::with_capacity(ep_addrs.len());
        for (i, (ph_media, pv_media)) in ep_addrs.iter().enumerate() {
            let body = sdp(ph_media.ip(), ph_media.port());
            let inv = format!(
                "INVITE sip:bob@{prov} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKi{i}\r\n\
                 Max-Forwards: 70\r\nFrom: <sip:alice@{SIP_PROVIDER}>;tag=f{i}\r\n\
                 To: <sip:bob@{SIP_PROVIDER}>\r\nCall-ID: bench-{i}@lan\r\nCSeq: 1 INVITE\r\n\
                 Contact: <sip:alice@{me}>\r\nContent-Type: application/sdp\r\n\
                 Content-Length: {}\r\n\r\n{body}",
                body.len()
            );
            phone.send_to(inv.as_bytes(), proxy).unwrap();
            let (req, from) = expect(&provider, "INVITE ");
            let from_provider = media_addr(&req);
            let answer = sdp(pv_media.ip(), pv_media.port());
            provider
                .send_to(&ok(&req, &format!("sip:bob@{prov}"), &answer), from)
                .unwrap();
            let (resp, _) = expect(&phone, "SIP/2.0 200");
            let from_phone = media_addr(&resp);
            let ack = format!(
                "ACK sip:bob@{prov} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKa{i}\r\n\
                 Route: <sip:siproxd@{proxy};lr>\r\nMax-Forwards: 70\r\n\
                 From: <sip:alice@{SIP_PROVIDER}>;tag=f{i}\r\n\
                 To: <sip:bob@{SIP_PROVIDER}>;tag=uas\r\nCall-ID: bench-{i}@lan\r\n\
                 CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
            );
            phone.send_to(ack.as_bytes(), proxy).unwrap();
            ports.push(CallPorts {
                from_provider,
                from_phone,
            });
        }
        ready.send((ports, None)).unwrap();
        let (cpu0, sw0) = (cpu_ns(pid), voluntary_switches(pid));
        while !stop.load(Ordering::Relaxed) {
            thread::sleep(Duration::from_millis(5));
        }
        let (cpu, sw) = (cpu_ns(pid) - cpu0, voluntary_switches(pid) - sw0);
        drop(proc_);
        let _ = std::fs::remove_dir_all(&dir);
        RelayRun {
            sent: None,
            cpu_ns: cpu,
            wakes: sw,
        }
    }
}
