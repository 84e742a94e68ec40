//! IPv6 black-box (issue 13): the real binary on a router namespace between a LAN and a WAN
//! namespace, veth pairs and no forwarding, so siproxd-rs is the only way across. Both sides
//! are dual-stack (LAN 192.168.77.0/24 + fd00:77::/64, WAN 203.0.113.0/24 + 2001:db8:77::/64)
//! and the proxy finds its addresses from the interface names. The phone and the provider are
//! this test: sockets opened inside the LAN and WAN namespaces (a thread enters the namespace,
//! binds, and hands the socket back; it stays in its namespace). Per family pair: REGISTER, a
//! call out (with hold and unhold) and a call in, RTP both ways counted at the far end, and nothing of the LAN (v4 or
//! v6) in any message the provider gets but the phone's own Via and its Call-ID.
//!
//! Needs root and network namespaces; without them each test says loudly that it skipped.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test helpers: a failed set-up panics, as a test should
#[path = "bin/mod.rs"]
mod bin;
#[path = "tempdir/mod.rs"]
mod tempdir;

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static SERIAL: Mutex<()> = Mutex::new(());

const RTR_LAN4: &str = "192.168.77.1";
const RTR_LAN6: &str = "fd00:77::1";
const RTR_WAN4: &str = "203.0.113.1";
const RTR_WAN6: &str = "2001:db8:77::1";
const PHONE4: &str = "192.168.77.10";
const PHONE6: &str = "fd00:77::10";
const PROV4: &str = "203.0.113.2";
const PROV6: &str = "2001:db8:77::2";
const WAIT: Duration = Duration::from_secs(3);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn sh(args: &[&str]) {
    let st = Command::new("ip").args(args).status().unwrap();
    assert!(st.success(), "ip {args:?}");
}

/// Why this cannot run here, if it cannot.
fn unsupported() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root: network namespaces need CAP_SYS_ADMIN".into());
    }
    let probe = format!("sx6probe{}", std::process::id());
    let ok = Command::new("ip")
        .args(["netns", "add", &probe])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return Some("`ip netns add` fails here".into());
    }
    let _ = Command::new("ip").args(["netns", "del", &probe]).status();
    None
}

/// Three namespaces and the proxy on the middle one; all removed on drop.
struct World {
    lan: String,
    rtr: String,
    wan: String,
    proxy: Option<Child>,
    dir: tempdir::TempDir,
}

impl World {
    fn new(tag: &str, provider: &str) -> World {
        let id = std::process::id();
        let name = |n: &str| format!("sx6{n}{tag}{id}");
        let w = World {
            lan: name("l"),
            rtr: name("r"),
            wan: name("w"),
            proxy: None,
            dir: tempdir::TempDir::new(&format!("netns6-{tag}")),
        };
        for ns in [&w.lan, &w.rtr, &w.wan] {
            sh(&["netns", "add", ns]);
            sh(&["-n", ns, "link", "set", "lo", "up"]);
        }
        let (rl, rw) = (format!("rl{id}"), format!("rw{id}"));
        sh(&[
            "-n", &w.rtr, "link", "add", &rl, "type", "veth", "peer", "name", "lan0", "netns",
            &w.lan,
        ]);
        sh(&[
            "-n", &w.rtr, "link", "add", &rw, "type", "veth", "peer", "name", "wan0", "netns",
            &w.wan,
        ]);
        let addrs = [
            (&w.rtr, rl.as_str(), RTR_LAN4, 24, RTR_LAN6),
            (&w.rtr, rw.as_str(), RTR_WAN4, 24, RTR_WAN6),
            (&w.lan, "lan0", PHONE4, 24, PHONE6),
            (&w.wan, "wan0", PROV4, 24, PROV6),
        ];
        for (ns, dev, v4, len, v6) in addrs {
            sh(&["-n", ns, "addr", "add", &format!("{v4}/{len}"), "dev", dev]);
            // nodad: usable at once, not "tentative" for a second.
            sh(&[
                "-n",
                ns,
                "-6",
                "addr",
                "add",
                &format!("{v6}/64"),
                "dev",
                dev,
                "nodad",
            ]);
            sh(&["-n", ns, "link", "set", dev, "up"]);
        }
        let conf = w.dir.write(
            "siproxd-rs.conf",
            &format!(
                "if_inbound = {rl}\nif_outbound = {rw}\nsip_listen_port = 5060\ndaemonize = 0\n\
                 rtp_port_low = 7070\nrtp_port_high = 7089\noutbound_proxy_host = {provider}\n"
            ),
        );
        let log = std::fs::File::create(w.dir.0.join("proxy.log")).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &w.rtr, bin::BIN, "-f", "-d", "-1", "-c"])
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut w = w;
        w.proxy = Some(child);
        let end = Instant::now() + Duration::from_secs(5);
        // Four SIP sockets (two families, two sides) before the test talks to it.
        while w.log().matches("listening for SIP on udp:").count() < 4 {
            assert!(Instant::now() < end, "proxy did not bind:\n{}", w.log());
            std::thread::sleep(Duration::from_millis(20));
        }
        w
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("proxy.log")).unwrap_or_default()
    }

    /// A UDP socket bound to `addr:port` inside namespace `ns`.
    fn socket(&self, ns: &str, addr: &str, port: u16) -> UdpSocket {
        let path = format!("/var/run/netns/{ns}");
        let at = SocketAddr::new(ip(addr), port);
        std::thread::spawn(move || {
            let f = std::fs::File::open(path).unwrap();
            // SAFETY: setns on this (short-lived) thread only; the fd is valid.
            let r = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(r, 0, "setns");
            let s = UdpSocket::bind(at).unwrap();
            s.set_read_timeout(Some(WAIT)).unwrap();
            s
        })
        .join()
        .unwrap()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if let Some(mut c) = self.proxy.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in [&self.lan, &self.rtr, &self.wan] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

fn uri_host(a: IpAddr) -> String {
    match a {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("[{a}]"),
    }
}

fn sdp(a: IpAddr, port: u16) -> String {
    sdp_dir(a, port, 1, "sendrecv")
}

fn sdp_dir(a: IpAddr, port: u16, version: u32, dir: &str) -> String {
    let fam = if a.is_ipv4() { "IP4" } else { "IP6" };
    format!("v=0\r\no=- 1 {version} IN {fam} {a}\r\ns=-\r\nc=IN {fam} {a}\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na={dir}\r\n")
}

fn with_body(head: &str, body: &str) -> String {
    let ct = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/sdp\r\n"
    };
    format!("{head}{ct}Content-Length: {}\r\n\r\n{body}", body.len())
}

fn recv(s: &UdpSocket, what: &str, w: &World) -> (String, SocketAddr) {
    let mut buf = [0u8; 4096];
    match s.recv_from(&mut buf) {
        Ok((n, from)) => (String::from_utf8_lossy(&buf[..n]).into_owned(), from),
        Err(e) => panic!("{what}: nothing received ({e}); proxy log:\n{}", w.log()),
    }
}

fn header<'a>(msg: &'a str, name: &str) -> Vec<&'a str> {
    msg.split("\r\n")
        .filter_map(|l| l.split_once(':'))
        .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
        .collect()
}

/// The media address of an SDP body: `c=` and the first `m=` port.
fn media_of(msg: &str) -> SocketAddr {
    let c = msg.lines().find_map(|l| l.strip_prefix("c=IN ")).unwrap();
    let a = ip(c.get(4..).unwrap().trim());
    let m = msg
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .unwrap();
    let port = m.split(' ').next().unwrap().parse().unwrap();
    SocketAddr::new(a, port)
}

/// A response to `req` with `code`, its Vias and Record-Route copied, the To tagged.
fn answer(req: &str, code: &str, contact: &str, body: &str) -> String {
    let mut h = format!("SIP/2.0 {code}\r\n");
    for v in header(req, "Via") {
        h.push_str(&format!("Via: {v}\r\n"));
    }
    for r in header(req, "Record-Route") {
        h.push_str(&format!("Record-Route: {r}\r\n"));
    }
    for n in ["From", "Call-ID", "CSeq"] {
        h.push_str(&format!("{n}: {}\r\n", header(req, n)[0]));
    }
    h.push_str(&format!(
        "To: {};tag=t{}\r\n",
        header(req, "To")[0],
        code.len()
    ));
    h.push_str(&format!("Contact: <{contact}>\r\n"));
    with_body(&h, body)
}

/// No line names the LAN (either family) but the phone's own Via and the Call-ID.
fn assert_no_lan(msg: &str) {
    let mut vias = 0;
    for l in msg.lines() {
        let lower = l.to_ascii_lowercase();
        let via = lower.starts_with("via:");
        vias += usize::from(via);
        let exempt = (via && vias > 1) || lower.starts_with("call-id:");
        assert!(
            exempt || !(l.contains("192.168.77.") || lower.contains("fd00:")),
            "the provider got the LAN in `{l}`:\n{msg}"
        );
    }
}

/// `n` RTP packets from `from` to `to`; how many `at` receives.
fn rtp(from: &UdpSocket, to: SocketAddr, at: &UdpSocket, n: u16) -> usize {
    at.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut got = 0;
    let mut buf = [0u8; 512];
    for seq in 0..n {
        let mut p = [0u8; 172];
        p[0] = 0x80;
        p[2..4].copy_from_slice(&seq.to_be_bytes());
        p[8..12].copy_from_slice(&0x1234_5678u32.to_be_bytes());
        from.send_to(&p, to).unwrap();
        if at.recv_from(&mut buf).is_ok_and(|(len, _)| len == 172) {
            got += 1;
        }
    }
    got
}

/// One world: the phone on `phone` (its family's router address is the outbound proxy), the
/// provider on `prov`.
fn scenario(tag: &str, phone: &str, prov: &str) {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(why) = unsupported() {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "\n!!!! SKIPPED netns IPv6 test {tag}: {why} !!!!\n"
        );
        return;
    }
    let w = World::new(tag, &uri_host(ip(prov)));
    let (pa, va) = (ip(phone), ip(prov));
    let rtr_lan = ip(if pa.is_ipv4() { RTR_LAN4 } else { RTR_LAN6 });
    let rtr_wan = ip(if va.is_ipv4() { RTR_WAN4 } else { RTR_WAN6 });
    let proxy_lan = SocketAddr::new(rtr_lan, 5060);
    let proxy_wan = SocketAddr::new(rtr_wan, 5060);
    let sip_p = w.socket(&w.lan, phone, 5062);
    let rtp_p = w.socket(&w.lan, phone, 40000);
    let sip_v = w.socket(&w.wan, prov, 5060);
    let rtp_v = w.socket(&w.wan, prov, 50000);
    let ph = uri_host(pa);
    let pv = uri_host(va);

    // REGISTER through the proxy.
    let reg = with_body(&format!("REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP {ph}:5062;branch=z9hG4bKr1\r\nMax-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a\r\nTo: <sip:alice@example.com>\r\nCall-ID: reg@{tag}\r\nCSeq: 1 REGISTER\r\nContact: <sip:alice@{ph}:5062>;expires=600\r\n"), "");
    sip_p.send_to(reg.as_bytes(), proxy_lan).unwrap();
    let (got, from) = recv(&sip_v, "REGISTER at the provider", &w);
    assert_eq!(
        from,
        proxy_wan,
        "REGISTER from the router's {} address",
        if va.is_ipv4() { "IPv4" } else { "IPv6" }
    );
    assert_no_lan(&got);
    let masq = header(&got, "Contact")[0]
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap()
        .to_string();
    assert!(masq.contains(&uri_host(rtr_wan)), "Contact {masq}");
    sip_v
        .send_to(answer(&got, "200 OK", &masq, "").as_bytes(), from)
        .unwrap();
    let (ok, from) = recv(&sip_p, "200 to REGISTER at the phone", &w);
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    assert_eq!(from, proxy_lan);

    // A call out: INVITE, 200, ACK, RTP both ways, BYE.
    let inv = with_body(&format!("INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP {ph}:5062;branch=z9hG4bKi1\r\nMax-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>\r\nCall-ID: out@{tag}\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@{ph}:5062>\r\n"), &sdp(pa, 40000));
    sip_p.send_to(inv.as_bytes(), proxy_lan).unwrap();
    let (got, from) = recv(&sip_v, "INVITE at the provider", &w);
    assert_eq!(from, proxy_wan);
    assert_no_lan(&got);
    let relay_wan = media_of(&got);
    assert_eq!(
        relay_wan.ip(),
        rtr_wan,
        "SDP towards the provider in its family"
    );
    sip_v
        .send_to(
            answer(
                &got,
                "200 OK",
                &format!("sip:bob@{pv}:5060"),
                &sdp(va, 50000),
            )
            .as_bytes(),
            from,
        )
        .unwrap();
    let (ok, _) = recv(&sip_p, "200 to INVITE at the phone", &w);
    let relay_lan = media_of(&ok);
    assert_eq!(
        relay_lan.ip(),
        rtr_lan,
        "SDP towards the phone in its family:\n{ok}"
    );
    let ack = with_body(&format!("ACK sip:bob@{pv}:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {ph}:5062;branch=z9hG4bKa1\r\nMax-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\nTo: {}\r\nCall-ID: out@{tag}\r\nCSeq: 1 ACK\r\n", header(&ok, "To")[0]), "");
    sip_p.send_to(ack.as_bytes(), proxy_lan).unwrap();
    let (got, _) = recv(&sip_v, "ACK at the provider", &w);
    assert!(got.starts_with("ACK "), "{got}");
    assert_no_lan(&got);
    assert_eq!(rtp(&rtp_p, relay_lan, &rtp_v, 20), 20, "phone to provider");
    assert_eq!(rtp(&rtp_v, relay_wan, &rtp_p, 20), 20, "provider to phone");
    // Hold, then unhold: re-INVITEs on the same relay ports, media flows again after.
    let to = header(&ok, "To")[0].to_string();
    for (cseq, (mine, theirs)) in [(2, ("sendonly", "recvonly")), (3, ("sendrecv", "sendrecv"))] {
        let re = with_body(&format!("INVITE sip:bob@{pv}:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {ph}:5062;branch=z9hG4bKh{cseq}\r\nMax-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\nTo: {to}\r\nCall-ID: out@{tag}\r\nCSeq: {cseq} INVITE\r\nContact: <sip:alice@{ph}:5062>\r\n"), &sdp_dir(pa, 40000, cseq, mine));
        sip_p.send_to(re.as_bytes(), proxy_lan).unwrap();
        let (got, from) = recv(&sip_v, "re-INVITE at the provider", &w);
        assert_no_lan(&got);
        assert_eq!(
            media_of(&got),
            relay_wan,
            "same relay port on re-INVITE {cseq}"
        );
        assert!(got.contains(&format!("a={mine}\r\n")), "{got}");
        sip_v
            .send_to(
                answer(
                    &got,
                    "200 OK",
                    &format!("sip:bob@{pv}:5060"),
                    &sdp_dir(va, 50000, cseq, theirs),
                )
                .as_bytes(),
                from,
            )
            .unwrap();
        let (ok, _) = recv(&sip_p, "200 to re-INVITE at the phone", &w);
        assert_eq!(media_of(&ok), relay_lan);
        let ack = with_body(&format!("ACK sip:bob@{pv}:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {ph}:5062;branch=z9hG4bKha{cseq}\r\nMax-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\nTo: {to}\r\nCall-ID: out@{tag}\r\nCSeq: {cseq} ACK\r\n"), "");
        sip_p.send_to(ack.as_bytes(), proxy_lan).unwrap();
        recv(&sip_v, "ACK of the re-INVITE at the provider", &w);
    }
    assert_eq!(
        rtp(&rtp_p, relay_lan, &rtp_v, 20),
        20,
        "phone to provider after unhold"
    );
    assert_eq!(
        rtp(&rtp_v, relay_wan, &rtp_p, 20),
        20,
        "provider to phone after unhold"
    );
    let bye = with_body(&format!("BYE sip:bob@{pv}:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {ph}:5062;branch=z9hG4bKb1\r\nMax-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a1\r\nTo: {to}\r\nCall-ID: out@{tag}\r\nCSeq: 4 BYE\r\n"), "");
    sip_p.send_to(bye.as_bytes(), proxy_lan).unwrap();
    let (got, from) = recv(&sip_v, "BYE at the provider", &w);
    assert!(got.starts_with("BYE "), "{got}");
    assert_no_lan(&got);
    sip_v
        .send_to(
            answer(&got, "200 OK", &format!("sip:bob@{pv}:5060"), "").as_bytes(),
            from,
        )
        .unwrap();
    recv(&sip_p, "200 to BYE at the phone", &w);

    // A call in, to the masqueraded Contact the provider was given.
    let inv = with_body(&format!("INVITE {masq} SIP/2.0\r\nVia: SIP/2.0/UDP {pv}:5060;branch=z9hG4bKv1\r\nMax-Forwards: 70\r\nFrom: <sip:bob@example.com>;tag=b1\r\nTo: <sip:alice@example.com>\r\nCall-ID: in@{tag}\r\nCSeq: 1 INVITE\r\nContact: <sip:bob@{pv}:5060>\r\n"), &sdp(va, 50000));
    sip_v.send_to(inv.as_bytes(), proxy_wan).unwrap();
    let (got, from) = recv(&sip_p, "INVITE at the phone", &w);
    assert_eq!(from, proxy_lan);
    let relay_lan = media_of(&got);
    assert_eq!(relay_lan.ip(), rtr_lan, "{got}");
    sip_p
        .send_to(
            answer(
                &got,
                "200 OK",
                &format!("sip:alice@{ph}:5062"),
                &sdp(pa, 40000),
            )
            .as_bytes(),
            from,
        )
        .unwrap();
    let (ok, _) = recv(&sip_v, "200 to INVITE at the provider", &w);
    assert_no_lan(&ok);
    let relay_wan = media_of(&ok);
    assert_eq!(relay_wan.ip(), rtr_wan, "{ok}");
    assert_eq!(rtp(&rtp_v, relay_wan, &rtp_p, 20), 20, "provider to phone");
    assert_eq!(rtp(&rtp_p, relay_lan, &rtp_v, 20), 20, "phone to provider");
    let bye = with_body(&format!("BYE {masq} SIP/2.0\r\nVia: SIP/2.0/UDP {pv}:5060;branch=z9hG4bKv2\r\nMax-Forwards: 70\r\nFrom: <sip:bob@example.com>;tag=b1\r\nTo: {}\r\nCall-ID: in@{tag}\r\nCSeq: 2 BYE\r\n", header(&ok, "To")[0]), "");
    sip_v.send_to(bye.as_bytes(), proxy_wan).unwrap();
    let (got, _) = recv(&sip_p, "BYE at the phone", &w);
    assert!(got.starts_with("BYE "), "{got}");
}

#[test]
fn ipv6_phone_and_ipv6_provider() {
    scenario("66", PHONE6, PROV6);
}

#[test]
fn ipv4_phone_and_ipv6_provider() {
    scenario("46", PHONE4, PROV6);
}

#[test]
fn ipv6_phone_and_ipv4_provider() {
    scenario("64", PHONE6, PROV4);
}
