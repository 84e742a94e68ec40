//! Black-box SIP over TCP (issue "SIP over TCP"): the real binary on loopback with sipp over
//! TCP (`-t t1`) as phone and as provider, and transport conversion between a UDP phone and a
//! TCP provider. Proxy: inbound 127.0.0.1, outbound 127.0.0.2; phone sipp on 127.0.0.1,
//! provider sipp on 127.0.0.3; `rtp_proxy_enable = 0`.
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
        let keys = self.keys();
        let k: Vec<(&str, &str)> = keys.iter().map(|(a, b)| (*a, b.as_str())).collect();
        let mut args = vec!["-m", "1", "-timeout", "15s", "-timeout_error"];
        args.extend_from_slice(wire.args());
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
    // would leave on the phone's (no per-provider transport directive yet).
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
