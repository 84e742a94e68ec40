//! Black-box tests of plugin_stun and plugin_stats (issue 12): the real binary on loopback.
//!
//! Proxy: inbound (LAN) 127.0.0.1, outbound (WAN) 127.0.0.2. The test plays the phone
//! (127.0.0.1), the provider/registrar (127.0.0.3) and a small STUN server (127.0.0.3) that
//! tells the proxy a "public" address from the documentation range.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // tests: a failed step panics, as a test should

mod harness;

use harness::*;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A STUN server on 127.0.0.3 answering every Binding request with the address in `public`
/// (RFC 5389 XOR-MAPPED-ADDRESS); remembers where each request came from.
struct Stun {
    port: u16,
    public: Arc<Mutex<Ipv4Addr>>,
    sources: Arc<Mutex<Vec<SocketAddr>>>,
    stop: Arc<AtomicBool>,
}

impl Stun {
    fn start(public: Ipv4Addr) -> Stun {
        let sock = UdpSocket::bind((PROVIDER, 0)).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let port = sock.local_addr().unwrap().port();
        let public = Arc::new(Mutex::new(public));
        let sources = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s, st) = (public.clone(), sources.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 600];
            while !st.load(Ordering::Relaxed) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                // A Binding request: type 0x0001, the magic cookie.
                if n < 20 || buf[..2] != [0, 1] || buf[4..8] != [0x21, 0x12, 0xA4, 0x42] {
                    continue;
                }
                s.lock().unwrap().push(from);
                let ip = p.lock().unwrap().octets();
                let mut a = vec![0x01, 0x01, 0, 12];
                a.extend_from_slice(&buf[4..20]);
                a.extend_from_slice(&[0x00, 0x20, 0, 8, 0, 1]);
                a.extend_from_slice(&(from.port() ^ 0x2112).to_be_bytes());
                a.extend((0..4).map(|i| ip[i] ^ buf[4 + i]));
                let _ = sock.send_to(&a, from);
            }
        });
        Stun {
            port,
            public,
            sources,
            stop,
        }
    }
}

impl Drop for Stun {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Waits until the proxy's log contains `needle`.
fn wait_log(proxy: &Proxy, needle: &str, timeout: Duration) {
    let end = Instant::now() + timeout;
    while !proxy.log_text().contains(needle) {
        assert!(
            Instant::now() < end,
            "no '{needle}' in the log:\n{}",
            proxy.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn udp(ip: &str) -> UdpSocket {
    let s = UdpSocket::bind((ip, 0)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

/// The next SIP message `sock` receives (and from where).
fn recv(sock: &UdpSocket, what: &str, proxy: &Proxy) -> (String, SocketAddr) {
    let mut buf = [0u8; 8192];
    match sock.recv_from(&mut buf) {
        Ok((n, from)) => (String::from_utf8_lossy(&buf[..n]).into_owned(), from),
        Err(e) => panic!("no {what}: {e}; proxy log:\n{}", proxy.log_text()),
    }
}

/// A response to `req` copying its Via, From, To, Call-ID and CSeq lines.
fn response(req: &str, status: &str, extra: &str) -> String {
    let mut out = format!("SIP/2.0 {status}\r\n");
    for l in req.lines() {
        let name = l
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match name.as_str() {
            "via" | "from" | "call-id" | "cseq" => out.push_str(&format!("{l}\r\n")),
            "to" => out.push_str(&format!("{l};tag=prov1\r\n")),
            _ => {}
        }
    }
    out.push_str(&format!("{extra}Content-Length: 0\r\n\r\n"));
    out
}

fn header<'a>(msg: &'a str, name: &str) -> Vec<&'a str> {
    msg.lines()
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
        .collect()
}

/// The phone registers alice through the proxy at the registrar; returns the REGISTER the
/// registrar saw.
fn register(proxy: &Proxy, phone: &UdpSocket, registrar: &UdpSocket) -> String {
    let me = phone.local_addr().unwrap();
    let reg = registrar.local_addr().unwrap();
    let msg = format!(
        "REGISTER sip:{reg} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKr1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:alice@{reg}>;tag=a1\r\nTo: <sip:alice@{reg}>\r\n\
         Call-ID: reg1@phone\r\nCSeq: 1 REGISTER\r\nContact: <sip:alice@{me}>\r\n\
         Expires: 600\r\nContent-Length: 0\r\n\r\n"
    );
    phone.send_to(msg.as_bytes(), proxy.lan_addr()).unwrap();
    let (got, from) = recv(registrar, "REGISTER at the registrar", proxy);
    let contact = header(&got, "Contact")[0].to_string();
    let ok = response(
        &got,
        "200 OK",
        &format!("Contact: {contact};expires=600\r\n"),
    );
    registrar.send_to(ok.as_bytes(), from).unwrap();
    let (answer, _) = recv(phone, "200 to the REGISTER", proxy);
    assert!(answer.starts_with("SIP/2.0 200"), "{answer}");
    got
}

/// The phone calls bob at the provider with an SDP offer; returns the INVITE the provider saw.
fn call(proxy: &Proxy, phone: &UdpSocket, provider: &UdpSocket, call_id: &str) -> String {
    let me = phone.local_addr().unwrap();
    let prov = provider.local_addr().unwrap();
    let branch: String = call_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let sdp = "v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
               m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
    let msg = format!(
        "INVITE sip:bob@{prov} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK{branch}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:alice@{prov}>;tag=a2\r\nTo: <sip:bob@{prov}>\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@{me}>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    );
    phone.send_to(msg.as_bytes(), proxy.lan_addr()).unwrap();
    loop {
        let (got, _) = recv(provider, "INVITE at the provider", proxy);
        if got.starts_with("INVITE") {
            return got;
        }
    }
}

/// Every place the proxy names itself towards the Internet carries `public`.
fn assert_public_in_invite(invite: &str, public: &str) {
    let via = header(invite, "Via")[0];
    assert!(via.contains(&format!("UDP {public}:")), "Via: {via}");
    let contact = header(invite, "Contact")[0];
    assert!(
        contact.contains(&format!("@{public}:")),
        "Contact: {contact}"
    );
    assert!(
        invite.contains(&format!("c=IN IP4 {public}\r\n")),
        "SDP c=:\n{invite}"
    );
    assert!(
        invite.contains(&format!("o=alice 1 1 IN IP4 {public}\r\n")),
        "SDP o=:\n{invite}"
    );
    assert!(
        !invite.contains("127.0.0.2"),
        "the WAN address leaked:\n{invite}"
    );
}

#[test]
fn stun_public_address_is_used_in_via_contact_and_sdp_and_a_change_moves_registrations() {
    let stun = Stun::start(Ipv4Addr::new(203, 0, 113, 50));
    let dir_status = temp_dir("stun-status").join("status.json");
    let proxy = Proxy::start(
        "stun",
        &format!(
            "load_plugin = plugin_stun.la\nplugin_stun_server = {PROVIDER}\n\
             plugin_stun_port = {}\nplugin_stun_period = 1\nstatus_file = {}\n",
            stun.port,
            dir_status.display()
        ),
    );
    wait_log(
        &proxy,
        "plugin_stun: the public address is now 203.0.113.50",
        Duration::from_secs(5),
    );
    // Asked from the SIP socket on the WAN side.
    assert_eq!(stun.sources.lock().unwrap()[0], proxy.wan_addr());

    let phone = udp(LAN);
    let registrar = udp(PROVIDER);
    let reg = register(&proxy, &phone, &registrar);
    assert!(
        header(&reg, "Via")[0].contains("UDP 203.0.113.50:"),
        "{reg}"
    );
    assert!(
        header(&reg, "Contact")[0].contains("@203.0.113.50:"),
        "{reg}"
    );
    let invite = call(&proxy, &phone, &registrar, "call1@phone");
    assert_public_in_invite(&invite, "203.0.113.50");

    // The status snapshot says where the address comes from.
    proxy.signal("USR1");
    let end = Instant::now() + Duration::from_secs(5);
    let status = loop {
        let text = std::fs::read_to_string(&dir_status).unwrap_or_default();
        if text.contains("\"public\"") {
            break text;
        }
        assert!(Instant::now() < end, "no public address in the status file");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        status.contains("\"public\": {\"address\": \"203.0.113.50\", \"source\": \"stun\""),
        "{status}"
    );

    // The NAT in front hands out a new address: the next answer moves everything.
    *stun.public.lock().unwrap() = Ipv4Addr::new(203, 0, 113, 51);
    wait_log(
        &proxy,
        "plugin_stun: the public address is now 203.0.113.51",
        Duration::from_secs(5),
    );
    wait_log(
        &proxy,
        "outbound address 203.0.113.50 -> 203.0.113.51: 1 registration(s) moved",
        Duration::from_secs(1),
    );
    let log = proxy.log_text();
    assert_eq!(
        log.matches("public address is now").count(),
        2,
        "each change is logged once, the same answer again not at all:\n{log}"
    );
    let invite = call(&proxy, &phone, &registrar, "call2@phone");
    assert_public_in_invite(&invite, "203.0.113.51");

    // A call from the provider to the moved contact reaches the phone.
    let prov = registrar.local_addr().unwrap();
    let port = proxy.port;
    let incoming = format!(
        "INVITE sip:alice@203.0.113.51:{port} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {prov};branch=z9hG4bKin1\r\nMax-Forwards: 70\r\n\
         From: <sip:carol@{prov}>;tag=c1\r\nTo: <sip:alice@{prov}>\r\nCall-ID: in1@prov\r\n\
         CSeq: 1 INVITE\r\nContact: <sip:carol@{prov}>\r\nContent-Length: 0\r\n\r\n"
    );
    registrar
        .send_to(incoming.as_bytes(), proxy.wan_addr())
        .unwrap();
    loop {
        let (got, _) = recv(&phone, "the incoming INVITE at the phone", &proxy);
        if got.starts_with("INVITE") {
            assert!(got.contains("Call-ID: in1@prov"), "{got}");
            break;
        }
    }
}

#[test]
fn a_stun_answer_from_another_source_is_not_taken_and_never_reaches_sip() {
    // The server configured never answers; a correct answer from another port is ignored.
    let server = udp(PROVIDER);
    let proxy = Proxy::start(
        "stun-wrong-source",
        &format!(
            "load_plugin = plugin_stun.la\nplugin_stun_server = {PROVIDER}\n\
             plugin_stun_port = {}\n",
            server.local_addr().unwrap().port()
        ),
    );
    let mut buf = [0u8; 100];
    let (n, from) = server.recv_from(&mut buf).expect("a Binding request");
    assert_eq!((n, from), (20, proxy.wan_addr()));
    let mut a = vec![0x01, 0x01, 0, 12];
    a.extend_from_slice(&buf[4..20]);
    a.extend_from_slice(&[0x00, 0x20, 0, 8, 0, 1, 0, 0, 1, 2, 3, 4]);
    udp(PROVIDER).send_to(&a, proxy.wan_addr()).unwrap();
    wait_log(
        &proxy,
        "STUN answer not awaited from this address",
        Duration::from_secs(5),
    );
    // The same answer from the server is taken.
    server.send_to(&a, from).unwrap();
    wait_log(&proxy, "public address is now", Duration::from_secs(5));
    let log = proxy.log_text();
    assert!(!log.contains("unparsable"), "taken for SIP:\n{log}");
}

#[test]
fn an_unset_stun_server_stops_start_up_naming_the_directive() {
    let dir = TempDir::new("stun-t");
    let conf = loopback_config(&dir, free_udp_port(), "load_plugin = plugin_stun.la\n");
    let (st, _, err) = run(&["-t", "-c", conf.to_str().unwrap_or_default()]);
    assert_eq!(st.code(), Some(1), "{err}");
    assert!(err.contains("plugin_stun_server"), "{err}");
}

#[test]
fn stats_are_written_periodically_and_logged_on_sigusr1() {
    let dir = temp_dir("stats-out");
    let file = dir.join("stats.txt");
    let proxy = Proxy::start(
        "stats",
        &format!(
            "load_plugin = plugin_stats.la\nplugin_stats_to_file = 1\n\
             plugin_stats_to_syslog = -1\nplugin_stats_filename = {}\n",
            file.display()
        ),
    );
    let phone = udp(LAN);
    let provider = udp(PROVIDER);
    register(&proxy, &phone, &provider);
    let _invite = call(&proxy, &phone, &provider, "stats1@phone");
    // The next periodic write shows the registration and the call's relay streams.
    let end = Instant::now() + Duration::from_secs(5);
    let text = loop {
        let t = std::fs::read_to_string(&file).unwrap_or_default();
        if t.contains("stats1@phone") {
            break t;
        }
        assert!(
            Instant::now() < end,
            "no stats file with the call:\n{t}\n{}",
            proxy.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(text.starts_with("siproxd-rs statistics\nDate: "), "{text}");
    assert!(text.contains(&format!("PID: {}\n", proxy.pid())), "{text}");
    // The offer opened one relay half (towards the Internet): siproxd counted 0 calls and
    // 0 clients with exactly one stream.
    assert!(
        text.contains(
            "\nSTATS: 1 active RTP streams, 1 calls, 1 active clients, 1 registered clients\n"
        ),
        "{text}"
    );
    let data: Vec<&str> = text.lines().filter(|l| l.starts_with("Data;")).collect();
    assert_eq!(
        data,
        ["Data;alice@127.0.0.3;stats1@phone;Outgoing call;Incoming stream;127.0.0.2;-"],
        "{text}"
    );
    // Rewritten every second.
    let first = std::fs::metadata(&file).unwrap().modified().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(std::fs::metadata(&file).unwrap().modified().unwrap() > first);

    // -1: the log line only on SIGUSR1.
    assert!(!proxy.log_text().contains("STATS:"), "{}", proxy.log_text());
    proxy.signal("USR1");
    wait_log(&proxy, "STATS: ", Duration::from_secs(5));
    let log = proxy.log_text();
    let line = log.lines().find(|l| l.contains("STATS: ")).unwrap();
    assert!(
        line.ends_with(
            "STATS: 1 active RTP streams, 1 calls, 1 active clients, 1 registered clients"
        ),
        "{line}"
    );
}

/// The `STATS:` line of a daemonized proxy reaches syslog. Needs root and unshare(1): the
/// proxy runs in a private mount namespace whose /dev/log is a socket of this test (the host
/// keeps its own /dev); elsewhere it says so and passes.
#[test]
fn stats_reach_syslog_when_daemonized() {
    use std::os::unix::net::UnixDatagram;
    use std::process::Command;
    if !siproxd_rs::process::is_root() || Command::new("unshare").arg("-V").output().is_err() {
        eprintln!("skipped: needs root and unshare(1)");
        return;
    }
    let dir = temp_dir("stats-syslog");
    let syslog = UnixDatagram::bind(dir.join("log.sock")).unwrap();
    syslog
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let pid_file = dir.join("pid");
    let conf = dir.join("siproxd-rs.conf");
    std::fs::write(
        &conf,
        format!(
            "if_inbound = {LAN}\nif_outbound = {WAN}\nsip_listen_port = {}\ndaemonize = 1\n\
             pid_file = {}\nload_plugin = plugin_stats\nplugin_stats_to_syslog = 1\n",
            free_udp_port(),
            pid_file.display()
        ),
    )
    .unwrap();
    // /dev of the namespace: the host's null and random devices, and our socket as log.
    let script = r#"set -e; d=$1; shift; mkdir -p "$d/dev"
        for f in null zero random urandom; do touch "$d/dev/$f"; mount --bind "/dev/$f" "$d/dev/$f"; done
        touch "$d/dev/log"; mount --bind "$d/log.sock" "$d/dev/log"; mount --rbind "$d/dev" /dev
        exec "$@""#;
    let st = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", script, "sh"])
        .arg(&dir)
        .arg(env!("CARGO_BIN_EXE_siproxd-rs"))
        .arg("-c")
        .arg(&conf)
        .status()
        .unwrap();
    assert!(st.success(), "the daemon did not start");
    let pid = read_pid_file(&pid_file, Duration::from_secs(5));
    let _kill = KillOnDrop(pid);
    let mut buf = [0u8; 2048];
    let end = Instant::now() + Duration::from_secs(5);
    let line = loop {
        assert!(Instant::now() < end, "no STATS line in syslog");
        let n = syslog.recv(&mut buf).expect("a syslog line");
        let l = String::from_utf8_lossy(&buf[..n]).into_owned();
        if l.contains("STATS: ") {
            break l;
        }
    };
    // Facility daemon at the priority info maps to (`logging::syslog_priority`), ident, pid.
    assert!(line.starts_with("<29>"), "{line}");
    assert!(line.contains(&format!("siproxd-rs[{pid}]: ")), "{line}");
    assert!(
        line.ends_with(
            "STATS: 0 active RTP streams, 0 calls, 0 active clients, 0 registered clients"
        ),
        "{line}"
    );
}
