//! End to end over a real UDP socket: a tiny DNS server on 127.0.0.1 in a thread, and the
//! sans-IO resolver driven the way the shell drives it.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)] // test helpers: a failed set-up panics, as a test should

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use siproxd_rs::dns::wire::{read_name, Name};
use siproxd_rs::dns::{parse_resolv_conf, Failure, Resolved, Resolver, ResolverConfig};
use siproxd_rs::limits::{DNS_MESSAGE_MAX, DNS_QUERY_MAX};

fn encode(name: &str) -> Vec<u8> {
    let mut v = Vec::new();
    for l in name.split('.') {
        v.push(l.len() as u8);
        v.extend_from_slice(l.as_bytes());
    }
    v.push(0);
    v
}

/// The zone the fake server knows; everything else is NXDOMAIN.
fn answer(query: &[u8], dropped_slow: &mut bool) -> Option<Vec<u8>> {
    let mut name = Name::new();
    let end = read_name(query, 12, &mut name).ok()?;
    let qtype = u16::from_be_bytes([*query.get(end)?, *query.get(end + 1)?]);
    let (rtype, rdata): (u16, Vec<u8>) = match (name.as_str(), qtype) {
        ("pbx.test", 1) => (1, vec![127, 0, 0, 10]),
        ("_sip._udp.voip.test", 33) => {
            let mut d = vec![0, 10, 0, 60, 0x13, 0xCE]; // port 5070
            d.extend_from_slice(&encode("edge.voip.test"));
            (33, d)
        }
        ("edge.voip.test", 1) => (1, vec![127, 0, 0, 20]),
        ("slow.test", 1) => {
            // the first query is lost: the resolver must retransmit
            if !*dropped_slow {
                *dropped_slow = true;
                return None;
            }
            (1, vec![127, 0, 0, 30])
        }
        _ => (0, Vec::new()),
    };
    let mut m = query.get(..end + 4)?.to_vec();
    m[2] = 0x81;
    m[3] = if rtype == 0 { 0x83 } else { 0x80 };
    if rtype != 0 {
        m[7] = 1;
        m.extend_from_slice(&[0xC0, 12]);
        m.extend_from_slice(&rtype.to_be_bytes());
        m.extend_from_slice(&[0, 1, 0, 0, 0x0E, 0x10]); // IN, TTL 3600
        m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        m.extend_from_slice(&rdata);
    }
    Some(m)
}

fn spawn_server() -> (SocketAddr, Arc<AtomicBool>, thread::JoinHandle<()>) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let addr = sock.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let handle = thread::spawn(move || {
        let mut buf = [0u8; DNS_MESSAGE_MAX];
        let mut dropped_slow = false;
        while !stop2.load(Ordering::Relaxed) {
            let Ok((n, from)) = sock.recv_from(&mut buf) else {
                continue;
            };
            if let Some(reply) = answer(&buf[..n], &mut dropped_slow) {
                sock.send_to(&reply, from).unwrap();
            }
        }
    });
    (addr, stop, handle)
}

/// The shell's loop: transmit, wait for a datagram or the next deadline, feed it, collect.
fn run_until_event(r: &mut Resolver, sock: &UdpSocket, start: Instant) -> Resolved {
    let mut out = [0u8; DNS_QUERY_MAX];
    let mut inbuf = [0u8; DNS_MESSAGE_MAX];
    let now = || start.elapsed().as_millis() as u64;
    for _ in 0..200 {
        if let Some(ev) = r.poll_event() {
            return ev;
        }
        while let Some((to, n)) = r.poll_transmit(&mut out) {
            sock.send_to(&out[..n], to).unwrap();
        }
        let wait = r
            .poll_timeout()
            .map_or(100, |t| t.saturating_sub(now()).max(1));
        sock.set_read_timeout(Some(Duration::from_millis(wait)))
            .unwrap();
        match sock.recv_from(&mut inbuf) {
            Ok((n, from)) => r.handle_response(now(), from, &inbuf[..n]),
            Err(_) => r.handle_timeout(now()),
        }
    }
    panic!("no event");
}

#[test]
fn resolves_a_and_srv_over_loopback() {
    let (server, stop, handle) = spawn_server();
    let mut resolv = parse_resolv_conf("options timeout:1 attempts:2\n");
    resolv.nameservers.clear();
    resolv.nameservers.push(server).unwrap();
    let config = ResolverConfig {
        resolv,
        hosts: Default::default(),
        ipv6: false,
    };
    let mut r = Resolver::new(config, 0x1234_5678_9abc_def0);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let start = Instant::now();

    let now = start.elapsed().as_millis() as u64;
    assert_eq!(
        r.resolve(now, "pbx.test", Some(5060), 1),
        siproxd_rs::dns::Lookup::Pending
    );
    let ev = run_until_event(&mut r, &sock, start);
    assert_eq!(ev.user_token, 1);
    assert_eq!(
        ev.result.unwrap().as_slice(),
        &["127.0.0.10:5060".parse::<SocketAddr>().unwrap()]
    );

    // SIP domain without port: SRV, then the target's A record, with the SRV port
    assert_eq!(
        r.resolve(now, "voip.test", None, 2),
        siproxd_rs::dns::Lookup::Pending
    );
    let ev = run_until_event(&mut r, &sock, start);
    assert_eq!(ev.user_token, 2);
    assert_eq!(
        ev.result.unwrap().as_slice(),
        &["127.0.0.20:5070".parse::<SocketAddr>().unwrap()]
    );

    // no SRV, no A: NXDOMAIN after the fallback query
    assert_eq!(
        r.resolve(now, "missing.test", None, 3),
        siproxd_rs::dns::Lookup::Pending
    );
    let ev = run_until_event(&mut r, &sock, start);
    assert_eq!(ev.result, Err(Failure::NxDomain));

    // a lost query is retransmitted after the 1 s timeout
    let before = Instant::now();
    let now = start.elapsed().as_millis() as u64;
    assert_eq!(
        r.resolve(now, "slow.test", Some(5080), 4),
        siproxd_rs::dns::Lookup::Pending
    );
    let ev = run_until_event(&mut r, &sock, start);
    assert_eq!(
        ev.result.unwrap().as_slice(),
        &["127.0.0.30:5080".parse::<SocketAddr>().unwrap()]
    );
    assert!(before.elapsed() >= Duration::from_millis(900));

    // now cached: answered without the network
    let now = start.elapsed().as_millis() as u64;
    assert!(
        matches!(r.resolve(now, "PBX.test", Some(5062), 5), siproxd_rs::dns::Lookup::Ready(a) if a[0].port() == 5062)
    );

    stop.store(true, Ordering::Relaxed);
    handle.join().unwrap();
}
