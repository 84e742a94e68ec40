//! Load (issue 5): 500 simultaneous sipp calls with media through the real binary on loopback,
//! i.e. 2000 relay sockets (RTP + RTCP on the LAN and on the WAN side of each call).
//!
//! sipp does the signalling (phone on 127.0.0.1 at 100 calls/s, provider on 127.0.0.3); each
//! call's SDP names `-mp + 4 × (call number − 1)` on its side, and the test owns a UDP socket on
//! each of those 1000 ports, so every packet of every call is counted: once all calls are up,
//! each phone and each provider socket sends a burst to the relay port its SDP was answered
//! with, and the burst must arrive, whole, on the far side of the same call, relayed from the
//! relay port the far side was told.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)] // test helpers: a failed set-up panics, as a test should

mod harness;

use harness::*;
use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

const CALLS: usize = 500;
/// RTP packets per call and direction.
const PKTS: u16 = 10;
const RELAY_LOW: u16 = 20000;
const RELAY_HIGH: u16 = 24000;
/// sipp's `-mp` on each side; the test owns `MP + 4k` on the side's address.
const PHONE_MP: u16 = 25000;
const PROVIDER_MP: u16 = 25000;
/// How long each call stays up after its ACK: longer than the 5 s it takes to set up all.
const CALL_MS: &str = "20000";
/// SSRCs of the provider side are offset so the two directions cannot be confused.
const PROVIDER_SSRC: u32 = 0x0001_0000;

/// Tests share the machine with other suites: make room for 1000 media sockets here and 2000
/// relay sockets in the proxy (which inherits the limit).
fn raise_fd_limit() {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain getrlimit/setrlimit on a valid struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut r), 0);
        if r.rlim_cur < r.rlim_max {
            r.rlim_cur = r.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
    }
    assert!(
        r.rlim_cur >= 4 * CALLS as libc::rlim_t + 1000,
        "open file limit {} too low for {CALLS} calls",
        r.rlim_cur
    );
}

/// `CALLS` non-blocking sockets on `ip:mp + 4k`.
fn media_sockets(ip: &str, mp: u16) -> Vec<UdpSocket> {
    (0..CALLS)
        .map(|k| {
            let port = mp + 4 * k as u16;
            let s = UdpSocket::bind((ip, port))
                .unwrap_or_else(|e| panic!("media socket {ip}:{port}: {e}"));
            s.set_nonblocking(true).unwrap();
            s
        })
        .collect()
}

/// Call number → relay port, from a `<call number> <port>` file the scenario appends to;
/// waits until it covers all calls.
fn wait_ports(dir: &Path, file: &str, proxy: &Proxy, deadline: Instant) -> HashMap<usize, u16> {
    loop {
        let text = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        let map: HashMap<usize, u16> = text
            .lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                Some((w.next()?.parse().ok()?, w.next()?.parse().ok()?))
            })
            .collect();
        if map.len() == CALLS {
            return map;
        }
        assert!(
            Instant::now() < deadline,
            "{file}: only {} of {CALLS} calls answered; proxy log tail:\n{}",
            map.len(),
            tail(&proxy.log_text())
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn tail(s: &str) -> &str {
    let mut start = s.len().saturating_sub(4000);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// (source, ssrc, seq) of every datagram that arrives on `socks` until `want` have arrived in
/// total or `limit` passed; one list per socket.
fn receive_all(
    socks: &[&UdpSocket],
    want: usize,
    limit: Duration,
) -> Vec<Vec<(SocketAddr, u32, u16)>> {
    let mut got = vec![Vec::new(); socks.len()];
    let mut total = 0;
    let mut buf = [0u8; 2048];
    let end = Instant::now() + limit;
    while total < want && Instant::now() < end {
        let mut any = false;
        for (i, s) in socks.iter().enumerate() {
            while let Ok((n, src)) = s.recv_from(&mut buf) {
                any = true;
                total += 1;
                let (ssrc, seq) = relayed_rtp(&buf, n);
                got[i].push((src, ssrc, seq));
            }
        }
        if !any {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    got
}

/// The single SSRC of a complete burst `0..PKTS` relayed from `relay`, or what is wrong.
fn whole_burst(got: &[(SocketAddr, u32, u16)], relay: SocketAddr) -> Result<u32, String> {
    let Some(&(_, ssrc, _)) = got.first() else {
        return Err("nothing arrived".to_string());
    };
    let mut seqs: Vec<u16> = got
        .iter()
        .filter(|(src, s, _)| *src == relay && *s == ssrc)
        .map(|(_, _, q)| *q)
        .collect();
    seqs.sort_unstable();
    if seqs != (0..PKTS).collect::<Vec<_>>() || got.len() != PKTS as usize {
        return Err(format!(
            "want {PKTS} packets of one SSRC from {relay}, got {got:?}"
        ));
    }
    Ok(ssrc)
}

#[test]
fn five_hundred_simultaneous_calls_with_media_through_the_binary() {
    require_sipp();
    raise_fd_limit();
    let mut proxy = Proxy::start(
        "load_media",
        &format!(
            "rtp_proxy_enable = 1\nrtp_port_low = {RELAY_LOW}\nrtp_port_high = {RELAY_HIGH}\n\
             max_rtp_streams = {}\n",
            4 * CALLS
        ),
    );
    let dir = proxy.dir.clone();
    let phone_port = free_udp_port();
    let provider_port = free_udp_port();
    let provider = format!("{PROVIDER}:{provider_port}");
    let keys: Vec<(&str, &str)> = vec![
        ("provider", &provider),
        ("provider_host", PROVIDER),
        ("user", "alice"),
        ("callee", "alice"),
        ("tag", "load"),
    ];

    // Outgoing calls are those of a registered phone.
    let (ok, _, _) = run_pair(
        &dir,
        "register",
        ("provider_register.xml", PROVIDER, provider_port),
        ("phone_register.xml", LAN, phone_port, proxy.lan_addr()),
        &keys,
    );
    assert!(ok, "registration failed");

    let phones = media_sockets(LAN, PHONE_MP);
    let providers = media_sockets(PROVIDER, PROVIDER_MP);
    let calls = CALLS.to_string();
    let phone_mp = PHONE_MP.to_string();
    let provider_mp = PROVIDER_MP.to_string();
    // sipp binds its own media socket at -mp: on another address (-mi) than the test's sockets.
    let mut uas = Sipp::start_many(
        &dir,
        "load_provider",
        "media_load_provider.xml",
        PROVIDER,
        provider_port,
        None,
        &keys,
        &[
            "-m",
            &calls,
            "-mp",
            &provider_mp,
            "-mi",
            "127.0.0.5",
            "-timeout",
            "150s",
            "-timeout_error",
        ],
    );
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let mut uac = Sipp::start_many(
        &dir,
        "load_phone",
        "media_load_phone.xml",
        LAN,
        phone_port,
        Some(proxy.lan_addr()),
        &keys,
        &[
            "-m",
            &calls,
            "-l",
            &calls,
            "-r",
            "100",
            "-d",
            CALL_MS,
            "-mp",
            &phone_mp,
            "-mi",
            "127.0.0.4",
            "-timeout",
            "150s",
            "-timeout_error",
        ],
    );

    // All calls up at once.
    let deadline = Instant::now() + Duration::from_secs(60);
    let answers = wait_ports(&dir, "load_answer_ports", &proxy, deadline);
    let offers = wait_ports(&dir, "load_offer_ports", &proxy, deadline);
    let all_up = started.elapsed();

    // Media on every call, both ways.
    for (k, s) in phones.iter().enumerate() {
        let relay: SocketAddr =
            (LAN.parse::<std::net::IpAddr>().unwrap(), answers[&(k + 1)]).into();
        for seq in 0..PKTS {
            s.send_to(&rtp_packet(k as u32 + 1, seq), relay).unwrap();
        }
    }
    for (j, s) in providers.iter().enumerate() {
        let relay: SocketAddr = (WAN.parse::<std::net::IpAddr>().unwrap(), offers[&(j + 1)]).into();
        for seq in 0..PKTS {
            s.send_to(&rtp_packet(PROVIDER_SSRC + j as u32 + 1, seq), relay)
                .unwrap();
        }
    }
    let socks: Vec<&UdpSocket> = providers.iter().chain(phones.iter()).collect();
    let got = receive_all(&socks, 2 * CALLS * PKTS as usize, Duration::from_secs(30));
    let media_done = started.elapsed();
    eprintln!("{CALLS} calls up after {all_up:?}, media relayed after {media_done:?}");
    let (at_providers, at_phones) = got.split_at(CALLS);

    // Phone k's burst reaches exactly one provider j of the same call, and j's reaches k.
    let mut failures = Vec::new();
    let mut provider_of_phone: HashMap<u32, u32> = HashMap::new();
    for (j, got) in at_providers.iter().enumerate() {
        let relay: SocketAddr = (WAN.parse::<std::net::IpAddr>().unwrap(), offers[&(j + 1)]).into();
        match whole_burst(got, relay) {
            Ok(phone) => {
                if provider_of_phone.insert(phone, j as u32 + 1).is_some() {
                    failures.push(format!("phone call {phone} reached two providers"));
                }
            }
            Err(e) => failures.push(format!("provider call {}: {e}", j + 1)),
        }
    }
    for (k, got) in at_phones.iter().enumerate() {
        let relay: SocketAddr =
            (LAN.parse::<std::net::IpAddr>().unwrap(), answers[&(k + 1)]).into();
        match whole_burst(got, relay) {
            Ok(ssrc) => {
                let from = ssrc.wrapping_sub(PROVIDER_SSRC);
                if provider_of_phone.get(&(k as u32 + 1)) != Some(&from) {
                    failures.push(format!(
                        "phone call {} got provider call {from}'s media, sent its own to {:?}",
                        k + 1,
                        provider_of_phone.get(&(k as u32 + 1))
                    ));
                }
            }
            Err(e) => failures.push(format!("phone call {}: {e}", k + 1)),
        }
    }
    assert!(
        failures.is_empty(),
        "{} media failures (all calls up after {all_up:?}, media done after {media_done:?}), first: {:#?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );

    // Every call ends well and the proxy is still there.
    let uac_ok = uac.wait_ok(Duration::from_secs(120));
    let uas_ok = uas.wait_ok(Duration::from_secs(30));
    assert!(
        uac_ok && uas_ok,
        "phone ok={uac_ok} provider ok={uas_ok}\nphone errors:\n{}\nprovider errors:\n{}\nproxy log tail:\n{}",
        tail(&uac.errors()),
        tail(&uas.errors()),
        tail(&proxy.log_text())
    );
    assert!(
        proxy.child.try_wait().unwrap().is_none(),
        "siproxd-rs exited; log tail:\n{}",
        tail(&proxy.log_text())
    );
    // All relay sockets are closed again after the BYEs.
    let deadline = Instant::now() + Duration::from_secs(5);
    for port in answers.values().chain(offers.values()) {
        for ip in [LAN, WAN] {
            while UdpSocket::bind((ip, *port)).is_err() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    assert!(
        Instant::now() < deadline,
        "relay ports still bound after all BYEs"
    );
}
