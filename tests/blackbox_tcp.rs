//! Black-box SIP over TCP (issue "SIP over TCP"): the real binary on loopback with sipp over
//! TCP (`-t t1`) as phone and as provider, and transport conversion between a UDP phone and a
//! TCP provider. Proxy: inbound 127.0.0.1, outbound 127.0.0.2; phone sipp on 127.0.0.1,
//! provider sipp on 127.0.0.3; `rtp_proxy_enable = 0` unless a test relays media (then the
//! test owns the media sockets both sides' SDP name and counts every RTP packet).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test helpers

mod harness;

use harness::*;
use std::net::SocketAddr;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Wire {
    Udp,
    Tcp,
}

impl Wire {
    fn args(self) -> &'static [&'static str] {
        match self {
            Wire::Udp => &[],
            Wire::Tcp => &["-t", "t1"],
        }
    }
}

struct Lab {
    proxy: Proxy,
    phone_port: u16,
    provider_port: u16,
    phone: Wire,
    provider: Wire,
}

impl Lab {
    fn new(name: &str, phone: Wire, provider: Wire) -> Lab {
        Lab::with_extra(name, phone, provider, "")
    }

    fn with_extra(name: &str, phone: Wire, provider: Wire, extra: &str) -> Lab {
        require_sipp();
        Lab {
            proxy: Proxy::start(name, &format!("rtp_proxy_enable = 0\n{extra}")),
            phone_port: free_udp_port(),
            provider_port: free_udp_port(),
            phone,
            provider,
        }
    }

    fn keys(&self) -> Vec<(&'static str, String)> {
        // Across transports the provider's URI says which it speaks (otherwise a request
        // leaves on the transport it came on).
        let param = match (self.phone, self.provider) {
            (Wire::Udp, Wire::Tcp) => ";transport=tcp",
            (Wire::Tcp, Wire::Udp) => ";transport=udp",
            _ => "",
        };
        vec![
            (
                "provider",
                format!("{PROVIDER}:{}{param}", self.provider_port),
            ),
            ("provider_host", PROVIDER.to_string()),
            ("user", "alice".to_string()),
            ("callee", "alice".to_string()),
        ]
    }

    #[allow(clippy::too_many_arguments)]
    fn sipp(
        &self,
        name: &str,
        scenario: &str,
        ip: &str,
        port: u16,
        wire: Wire,
        remote: Option<SocketAddr>,
    ) -> Sipp {
        self.sipp_with(name, scenario, ip, port, wire, remote, &[])
    }

    /// `sipp` with more arguments (e.g. `-mp`, `-d`) after the common ones.
    #[allow(clippy::too_many_arguments)]
    fn sipp_with(
        &self,
        name: &str,
        scenario: &str,
        ip: &str,
        port: u16,
        wire: Wire,
        remote: Option<SocketAddr>,
        more: &[&str],
    ) -> Sipp {
        let mut keys = self.keys();
        keys.push(("tag", "media".to_string()));
        let k: Vec<(&str, &str)> = keys.iter().map(|(a, b)| (*a, b.as_str())).collect();
        let mut args = vec!["-m", "1", "-timeout", "30s", "-timeout_error"];
        args.extend_from_slice(wire.args());
        args.extend_from_slice(more);
        Sipp::start_many(&self.proxy.dir, name, scenario, ip, port, remote, &k, &args)
    }

    /// Server role first, then the client; both must succeed.
    fn pair(&self, tag: &str, mut server: Sipp, client: impl FnOnce() -> Sipp) -> (Sipp, Sipp) {
        std::thread::sleep(Duration::from_millis(300));
        let mut client = client();
        let ok = client.wait_ok(T) & server.wait_ok(T);
        assert!(
            ok,
            "phase {tag} failed\nproxy log:\n{}\nclient:\n{}{}\nserver:\n{}{}",
            self.proxy.log_text(),
            client.messages(),
            client.errors(),
            server.messages(),
            server.errors()
        );
        (server, client)
    }

    /// Phone (client) → provider (server); returns the provider's sipp.
    fn outgoing(&self, tag: &str, phone: &str, provider: &str) -> Sipp {
        let srv = self.sipp(
            &format!("{tag}_provider"),
            provider,
            PROVIDER,
            self.provider_port,
            self.provider,
            None,
        );
        let (srv, _) = self.pair(tag, srv, || {
            self.sipp(
                &format!("{tag}_phone"),
                phone,
                LAN,
                self.phone_port,
                self.phone,
                Some(self.proxy.lan_addr()),
            )
        });
        srv
    }

    /// Provider (client) → phone (server); returns the phone's sipp.
    fn incoming(&self, tag: &str, phone: &str, provider: &str) -> Sipp {
        let srv = self.sipp(
            &format!("{tag}_phone"),
            phone,
            LAN,
            self.phone_port,
            self.phone,
            None,
        );
        let (srv, _) = self.pair(tag, srv, || {
            self.sipp(
                &format!("{tag}_provider"),
                provider,
                PROVIDER,
                self.provider_port,
                self.provider,
                Some(self.proxy.wan_addr()),
            )
        });
        srv
    }

    fn register(&self) -> Sipp {
        self.outgoing("register", "phone_register.xml", "provider_register.xml")
    }
}

/// No header the provider received names the LAN address outside the phone's own Via and the
/// Call-ID (the SDP is not rewritten here: the relay is off).
fn assert_no_lan_leak(provider: &Sipp) {
    let msgs = provider.received();
    assert!(!msgs.is_empty(), "provider received nothing");
    for m in &msgs {
        let mut vias = 0;
        let headers = m
            .lines()
            .skip_while(|l| l.trim().is_empty())
            .take_while(|l| !l.trim().is_empty());
        for l in headers {
            let lower = l.to_ascii_lowercase();
            if lower.starts_with("via:") {
                vias += 1;
                if vias > 1 {
                    continue; // the phone's own Via below ours
                }
            }
            if lower.starts_with("call-id:") {
                continue;
            }
            assert!(!l.contains(LAN), "the LAN address leaks: {l}\n{m}");
        }
    }
}

fn top_via(m: &str) -> String {
    m.lines()
        .find(|l| l.to_ascii_lowercase().starts_with("via:"))
        .unwrap_or("")
        .to_string()
}

#[test]
fn phone_tcp_registers_and_calls_a_tcp_provider_both_ways() {
    let lab = Lab::new("tcp_both", Wire::Tcp, Wire::Tcp);
    let reg = lab.register();
    assert_no_lan_leak(&reg);
    let via = top_via(&reg.received()[0]);
    assert!(
        via.contains(&format!("SIP/2.0/TCP {WAN}:{}", lab.proxy.port)),
        "our Via names TCP and the WAN address: {via}"
    );
    let provider = lab.outgoing("callout", "phone_call_out.xml", "provider_uas_call.xml");
    assert_no_lan_leak(&provider);
    assert_eq!(provider.received_methods(), ["INVITE", "ACK", "BYE"]);
    let phone = lab.incoming("callin", "provider_uas_call.xml", "provider_call_in.xml");
    let invite = &phone.received()[0];
    assert!(
        top_via(invite).contains(&format!("SIP/2.0/TCP {LAN}:{}", lab.proxy.port)),
        "the phone gets the INVITE over TCP: {invite}"
    );
    assert!(
        lab.proxy.log_text().contains("listening for SIP on tcp:"),
        "the listener is logged"
    );
}

#[test]
fn phone_udp_reaches_a_tcp_only_provider_and_back() {
    let lab = Lab::new("udp_to_tcp", Wire::Udp, Wire::Tcp);
    let reg = lab.register();
    assert_no_lan_leak(&reg);
    assert!(top_via(&reg.received()[0]).contains("SIP/2.0/TCP"));
    let provider = lab.outgoing("callout", "phone_call_out.xml", "provider_uas_call_tcp.xml");
    assert_no_lan_leak(&provider);
    assert_eq!(provider.received_methods(), ["INVITE", "ACK", "BYE"]);
}

#[test]
fn phone_tcp_reaches_a_udp_provider() {
    let lab = Lab::new("tcp_to_udp", Wire::Tcp, Wire::Udp);
    let reg = lab.register();
    assert_no_lan_leak(&reg);
    assert!(top_via(&reg.received()[0]).contains("SIP/2.0/UDP"));
    // In-dialog requests go to the provider's Contact: it must name its transport, or they
    // would leave on the phone's (a transport directive applies to configured proxies only).
    let provider = lab.outgoing("callout", "phone_call_out.xml", "provider_uas_call_tcp.xml");
    assert_eq!(provider.received_methods(), ["INVITE", "ACK", "BYE"]);
}

#[test]
fn hostile_tcp_peers_do_not_stall_a_udp_registration() {
    use std::io::Write;
    let status =
        std::env::temp_dir().join(format!("siproxd-rs-tcp-status-{}.json", std::process::id()));
    let lab = Lab::with_extra(
        "tcp_hostile",
        Wire::Udp,
        Wire::Udp,
        &format!("status_interval = 1\nstatus_file = {}\n", status.display()),
    );
    let lan = lab.proxy.lan_addr();
    // A peer with a header line too long, then peers that connect and send nothing or half
    // a message (more than the per-source cap of them).
    let mut long = std::net::TcpStream::connect(lan).expect("connect");
    let _ =
        long.write_all(format!("OPTIONS sip:x SIP/2.0\r\nX: {}", "a".repeat(20_000)).as_bytes());
    let mut peers = Vec::new();
    for i in 0..20 {
        let mut s = std::net::TcpStream::connect(lan).expect("connect");
        if i % 2 == 0 {
            s.write_all(b"REGISTER sip:x SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1")
                .unwrap();
        }
        peers.push(s);
    }
    let reg = lab.register();
    assert_eq!(reg.received_methods(), ["REGISTER"]);
    let wait = |needle: &str| {
        let end = std::time::Instant::now() + T;
        while !lab.proxy.log_text().contains(needle) && std::time::Instant::now() < end {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            lab.proxy.log_text().contains(needle),
            "no log line with {needle:?}:\n{}",
            lab.proxy.log_text()
        );
    };
    wait("Line Too Long; connection closed");
    wait("already open from that address");
    // Half a message is given 10 s, then the connection goes.
    wait("closed: slow_sender");
    // The status snapshot counts what was refused and closed, and why.
    let counter = |name: &str| -> u64 {
        let text = std::fs::read_to_string(&status).unwrap_or_default();
        let key = format!("\"{name}\":");
        text.find(&key)
            .map(|i| &text[i + key.len()..])
            .map(|rest| {
                rest.trim_start()
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
            })
            .and_then(|d| d.parse().ok())
            .unwrap_or(0)
    };
    let end = std::time::Instant::now() + T;
    while counter("tcp.closed_slow_sender") == 0 && std::time::Instant::now() < end {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        counter("tcp.closed_slow_sender") >= 1,
        "{}",
        std::fs::read_to_string(&status).unwrap_or_default()
    );
    assert!(counter("tcp.refused_per_source") >= 1);
    assert_eq!(counter("tcp.closed_bad_framing"), 1, "the over-long line");
    let _ = std::fs::remove_file(&status);
    drop(peers);
}

#[test]
fn a_request_to_a_tcp_next_hop_that_cannot_be_reached_gets_503() {
    let lab = Lab::new("tcp_refused", Wire::Udp, Wire::Tcp);
    // Nothing listens on the provider's TCP port: the connect fails.
    let closed = free_udp_port();
    let phone = std::net::UdpSocket::bind((LAN, 0)).unwrap();
    phone
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let me = phone.local_addr().unwrap();
    let register = format!(
        "REGISTER sip:{PROVIDER}:{closed};transport=tcp SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};branch=z9hG4bKnc1\r\nMax-Forwards: 70\r\n\
         From: <sip:alice@{PROVIDER}>;tag=1\r\nTo: <sip:alice@{PROVIDER}>\r\n\
         Call-ID: nc1@test\r\nCSeq: 1 REGISTER\r\nContact: <sip:alice@{me}>\r\n\
         Expires: 600\r\nContent-Length: 0\r\n\r\n"
    );
    phone
        .send_to(register.as_bytes(), lab.proxy.lan_addr())
        .unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = phone
        .recv_from(&mut buf)
        .unwrap_or_else(|e| panic!("no answer ({e}); proxy log:\n{}", lab.proxy.log_text()));
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(
        text.starts_with("SIP/2.0 503"),
        "{text}\nproxy log:\n{}",
        lab.proxy.log_text()
    );
    assert!(
        text.contains("branch=z9hG4bKnc1"),
        "the phone's own Via: {text}"
    );
    assert!(
        lab.proxy
            .log_text()
            .contains("not delivered (no TCP connection)"),
        "{}",
        lab.proxy.log_text()
    );
}

// ---- media over TCP signalling, and hostile peers during a call with media ----

/// One call with media up through the proxy (sipp `media_load_*` scenarios, held for
/// `hold_ms`): the test owns the media socket each side's SDP names.
struct MediaCall {
    phone_media: std::net::UdpSocket,
    provider_media: std::net::UdpSocket,
    phone: Sipp,
    provider: Sipp,
    /// The relay addresses each side was told: (LAN, WAN).
    lan: SocketAddr,
    wan: SocketAddr,
}

const BURST: u16 = 50;

fn media_socket(ip: &str) -> std::net::UdpSocket {
    let s = std::net::UdpSocket::bind((ip, 0)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    s
}

/// The relay port in `dir/file` ("<call> <port>" lines), waiting for it.
fn relay_port(lab: &Lab, file: &str) -> u16 {
    let end = std::time::Instant::now() + T;
    loop {
        let text = std::fs::read_to_string(lab.proxy.dir.join(file)).unwrap_or_default();
        if let Some(p) = text
            .lines()
            .next()
            .filter(|_| text.ends_with('\n'))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|p| p.parse().ok())
        {
            return p;
        }
        assert!(
            std::time::Instant::now() < end,
            "no relay port in {file}; proxy log:\n{}",
            lab.proxy.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Lab {
    fn media_call(&self, hold_ms: &str) -> MediaCall {
        let phone_media = media_socket(LAN);
        let provider_media = media_socket(PROVIDER);
        let pmp = provider_media.local_addr().unwrap().port().to_string();
        let provider = self.sipp_with(
            "media_provider",
            "media_load_provider.xml",
            PROVIDER,
            self.provider_port,
            self.provider,
            None,
            // sipp binds its own media socket at -mp: on another address than the test's.
            &["-mp", &pmp, "-mi", "127.0.0.5"],
        );
        std::thread::sleep(Duration::from_millis(300));
        let mp = phone_media.local_addr().unwrap().port().to_string();
        let phone = self.sipp_with(
            "media_phone",
            "media_load_phone.xml",
            LAN,
            self.phone_port,
            self.phone,
            Some(self.proxy.lan_addr()),
            &["-mp", &mp, "-mi", "127.0.0.4", "-d", hold_ms],
        );
        let lan = format!("{LAN}:{}", relay_port(self, "media_answer_ports"))
            .parse()
            .unwrap();
        let wan = format!("{WAN}:{}", relay_port(self, "media_offer_ports"))
            .parse()
            .unwrap();
        MediaCall {
            phone_media,
            provider_media,
            phone,
            provider,
            lan,
            wan,
        }
    }

    fn finish(&self, mut call: MediaCall) {
        let ph = call.phone.wait_ok(T);
        let pr = call.provider.wait_ok(T);
        assert!(
            ph && pr,
            "call: phone ok={ph} provider ok={pr}\nproxy log:\n{}\nphone:\n{}{}\nprovider:\n{}{}",
            self.proxy.log_text(),
            call.phone.messages(),
            call.phone.errors(),
            call.provider.messages(),
            call.provider.errors()
        );
    }

    /// SIGUSR1, then the snapshot the proxy writes to `status`.
    fn snapshot(&self, status: &std::path::Path) -> siproxd_rs::status::Snapshot {
        let _ = std::fs::remove_file(status);
        self.proxy.signal("USR1");
        let end = std::time::Instant::now() + T;
        loop {
            let text = std::fs::read_to_string(status).unwrap_or_default();
            if text.trim_end().ends_with('}') {
                return siproxd_rs::status::Snapshot::from_json(text.as_bytes()).unwrap();
            }
            assert!(std::time::Instant::now() < end, "no status snapshot");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl MediaCall {
    /// A burst each way; every packet must arrive on the far side, from the relay port that
    /// side was told.
    fn audio(&self, first: u16, what: &str) {
        let count = |rx: &std::net::UdpSocket, from: SocketAddr, ssrc: u32| {
            let mut seqs = Vec::new();
            let mut buf = [0u8; 2048];
            let end = std::time::Instant::now() + Duration::from_secs(5);
            while seqs.len() < usize::from(BURST) && std::time::Instant::now() < end {
                if let Ok((n, src)) = rx.recv_from(&mut buf) {
                    let (s, q) = relayed_rtp(&buf, n);
                    if src == from && s == ssrc {
                        seqs.push(q);
                    }
                }
            }
            seqs.sort_unstable();
            seqs
        };
        let want: Vec<u16> = (first..first + BURST).collect();
        for (tx, to, rx, from, ssrc, dir) in [
            (
                &self.phone_media,
                self.lan,
                &self.provider_media,
                self.wan,
                0x1111_u32,
                "to the provider",
            ),
            (
                &self.provider_media,
                self.wan,
                &self.phone_media,
                self.lan,
                0x2222_u32,
                "to the phone",
            ),
        ] {
            for i in 0..BURST {
                tx.send_to(&rtp_packet(ssrc, first + i), to).unwrap();
                if i % 10 == 9 {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            assert_eq!(count(rx, from, ssrc), want, "{what}: RTP {dir}");
        }
    }
}

#[test]
fn tcp_calls_relay_media_and_status_lists_the_connections() {
    let status = std::env::temp_dir().join(format!(
        "siproxd-rs-tcp-media-status-{}.json",
        std::process::id()
    ));
    let lab = Lab::with_extra(
        "tcp_media",
        Wire::Tcp,
        Wire::Tcp,
        &format!(
            "rtp_proxy_enable = 1\nrtp_port_low = 27800\nrtp_port_high = 27819\nstatus_file = {}\n",
            status.display()
        ),
    );
    lab.register();
    let call = lab.media_call("4000");
    call.audio(1, "TCP phone, TCP provider");
    // The phone's connection to us and ours to the provider, as --status lists them.
    let snap = lab.snapshot(&status);
    let conn = |role: &str, peer_ip: &str| {
        snap.tcp
            .iter()
            .any(|t| t.role == role && t.peer.starts_with(&format!("{peer_ip}:")))
    };
    assert!(
        conn("accepted", LAN) && conn("opened", PROVIDER),
        "{:?}",
        snap.tcp
    );
    assert!(
        siproxd_rs::status::render_tables(&snap, snap.taken_unix()).contains("TCP connections (")
    );
    lab.finish(call);
    let _ = std::fs::remove_file(&status);
}

/// A TCP connection from `ip` (any port) to `to`.
fn connect_from(ip: &str, to: SocketAddr) -> socket2::Socket {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let from: SocketAddr = format!("{ip}:0").parse().unwrap();
    s.bind(&from.into()).unwrap();
    s.connect(&to.into()).unwrap();
    s
}

#[test]
fn a_full_tcp_table_and_50_more_connections_leave_a_udp_call_with_media_alone() {
    let status = std::env::temp_dir().join(format!(
        "siproxd-rs-tcp-flood-status-{}.json",
        std::process::id()
    ));
    let lab = Lab::with_extra(
        "tcp_flood",
        Wire::Udp,
        Wire::Udp,
        &format!(
            "rtp_proxy_enable = 1\nrtp_port_low = 27900\nrtp_port_high = 27919\n\
             max_tcp_connections = 16\nstatus_file = {}\n",
            status.display()
        ),
    );
    lab.register();
    let call = lab.media_call("6000");
    call.audio(1, "before");
    let lan = lab.proxy.lan_addr();
    // 16 peers fill the table, each in the middle of a message (so none may be evicted) ...
    let mut peers: Vec<socket2::Socket> = (1..=16)
        .map(|i| {
            let s = connect_from(&format!("127.0.1.{i}"), lan);
            assert_eq!(s.send(b"OPTIONS sip:x SIP/2.0\r\n").unwrap(), 23);
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    // ... and 50 more, one per address (below the per-source cap), find it full.
    peers.extend((1..=50).map(|i| connect_from(&format!("127.0.2.{i}"), lan)));
    call.audio(100, "during");
    let end = std::time::Instant::now() + T;
    let snap = loop {
        let snap = lab.snapshot(&status);
        let c = |n: &str| snap.counters.get(n).copied().unwrap_or(0);
        if c("tcp.refused_table_full") + c("tcp.evicted") >= 50 || std::time::Instant::now() > end {
            break snap;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let c = |n: &str| snap.counters.get(n).copied().unwrap_or(0);
    assert!(
        c("tcp.refused_table_full") + c("tcp.evicted") >= 50,
        "{:?}\n{}",
        snap.counters,
        lab.proxy.log_text()
    );
    assert_eq!(c("tcp.open"), 16, "the table never grows");
    assert_eq!(snap.tcp.len(), 16);
    call.audio(200, "after");
    lab.finish(call);
    // The UDP signalling kept working: the call ended normally, and a new REGISTER passes.
    lab.register();
    drop(peers);
    let _ = std::fs::remove_file(&status);
}

#[test]
fn a_peer_that_never_reads_loses_its_connection_and_udp_goes_on() {
    use std::io::Write;
    let status = std::env::temp_dir().join(format!(
        "siproxd-rs-tcp-noread-status-{}.json",
        std::process::id()
    ));
    let lab = Lab::with_extra(
        "tcp_noread",
        Wire::Udp,
        Wire::Udp,
        &format!("status_file = {}\n", status.display()),
    );
    // A small receive window: what the proxy answers piles up on its side.
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.set_recv_buffer_size(4096).unwrap();
    s.connect(&lab.proxy.lan_addr().into()).unwrap();
    let mut peer: std::net::TcpStream = s.into();
    peer.set_write_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    // OPTIONS with Max-Forwards 0 are answered by the proxy itself, every Via copied back:
    // about 10 kB per answer. Past what the kernel buffers (some MB) and the proxy's write
    // queue take, the connection goes; the peer sees its writes fail.
    let vias: String = (0..100)
        .map(|i| format!("Via: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK{i:0>80}\r\n"))
        .collect();
    let writer = std::thread::spawn(move || {
        let mut sent = 0usize;
        for n in 0..3000 {
            let req = format!(
                "OPTIONS sip:x@{LAN} SIP/2.0\r\n{vias}Max-Forwards: 0\r\nFrom: <sip:a@{LAN}>;tag=1\r\n\
                 To: <sip:x@{LAN}>\r\nCall-ID: nr{n}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
            );
            if peer.write_all(req.as_bytes()).is_err() {
                break;
            }
            sent += req.len();
        }
        (sent, peer)
    });
    // UDP meanwhile: the peer's stream is read a budget per turn of the loop, so it cannot
    // hold the loop (before that budget, this REGISTER waited until the peer stopped).
    lab.register();
    let (sent, _peer) = writer.join().unwrap();
    assert!(sent > 2_000_000, "the peer could send ({sent} bytes)");
    let end = std::time::Instant::now() + T;
    while !lab.proxy.log_text().contains("does not read") && std::time::Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        lab.proxy.log_text().contains("does not read"),
        "{}",
        lab.proxy.log_text()
    );
    let snap = lab.snapshot(&status);
    assert_eq!(snap.counters.get("tcp.closed_not_reading"), Some(&1));
    assert!(snap.tcp.is_empty(), "{:?}", snap.tcp);
    lab.register();
    let _ = std::fs::remove_file(&status);
}
