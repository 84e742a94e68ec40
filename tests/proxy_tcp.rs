//! Transport decisions of the sans-IO core (issue "SIP over TCP", items 3 and 4), with the
//! §11 fixture and a virtual clock: which transport and connection each message leaves on.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test helpers

mod lab;

use lab::*;
use siproxd_rs::config::ProxyTransport;
use siproxd_rs::proxy::Origin;
use siproxd_rs::sansio::{ConnId, Transport};
use siproxd_rs::stream::{StreamLimits, Streams};

/// The phone's connection to the proxy: from an ephemeral port, not the one its Via names.
const PHONE_TCP: &str = "192.168.1.10:40001";
const CONN: ConnId = ConnId {
    slot: 3,
    generation: 7,
};

fn register_over_tcp(lab: &mut Lab, ruri: &str) -> Sent {
    let text = format!(
        "REGISTER {ruri} SIP/2.0\nVia: SIP/2.0/TCP 192.168.1.10:5060;branch=z9hG4bKt1\nMax-Forwards: 70\nFrom: <sip:alice@example.com>;tag=1\nTo: <sip:alice@example.com>\nCall-ID: tcp1@192.168.1.10\nCSeq: 1 REGISTER\nContact: <sip:alice@192.168.1.10:5060;transport=tcp>\nExpires: 600\nContent-Length: 0\n\n"
    );
    let mut out = lab.deliver_on(Transport::Tcp, Some(CONN), PHONE_TCP, I, &text);
    assert_eq!(out.len(), 1, "{out:?}");
    out.remove(0)
}

#[test]
fn a_request_over_tcp_leaves_over_tcp_and_its_response_finds_the_connection() {
    let mut lab = Lab::new();
    let fwd = register_over_tcp(&mut lab, "sip:example.com");
    assert_eq!(fwd.transport, Transport::Tcp);
    assert_eq!(
        fwd.connection, None,
        "the shell finds or opens the provider's connection"
    );
    assert_eq!(fwd.to, sa(PROVIDER));
    let vias = fwd.headers("Via");
    assert!(
        vias[0].starts_with("SIP/2.0/TCP 203.0.113.5:5060;"),
        "{vias:?}"
    );
    // The phone did not ask for rport, but over a stream the response must find the
    // connection's port: it is noted anyway.
    assert!(vias[1].contains("rport=40001"), "{vias:?}");
    let branch = fwd.msg().top_via().unwrap().branch().unwrap().to_vec();
    let resp = format!(
        "SIP/2.0 200 OK\nVia: {}\nVia: {}\nFrom: <sip:alice@example.com>;tag=1\nTo: <sip:alice@example.com>;tag=p\nCall-ID: tcp1@192.168.1.10\nCSeq: 1 REGISTER\nContact: <sip:alice@203.0.113.5:5060;transport=tcp>;expires=600\nContent-Length: 0\n\n",
        vias[0],
        vias[1]
    );
    assert!(vias[0].contains(&String::from_utf8_lossy(&branch).to_string()));
    let back = lab.deliver_on(Transport::Tcp, None, PROVIDER, O, &resp);
    assert_eq!(back.len(), 1, "{back:?}");
    assert_eq!(
        back[0].transport,
        Transport::Tcp,
        "the phone's Via says TCP"
    );
    assert_eq!(
        back[0].to,
        sa(PHONE_TCP),
        "to the connection's port, as rport says"
    );
}

#[test]
fn a_transport_parameter_of_the_next_hop_chooses_the_transport() {
    let mut lab = Lab::new();
    let fwd = register_over_tcp(&mut lab, "sip:example.com;transport=udp");
    assert_eq!(fwd.transport, Transport::Udp);
    assert!(fwd.headers("Via")[0].starts_with("SIP/2.0/UDP 203.0.113.5:5060;"));

    let mut lab = Lab::new();
    let text = "OPTIONS sip:bob@example.com;transport=tcp SIP/2.0\nVia: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKo1\nMax-Forwards: 70\nFrom: <sip:alice@example.com>;tag=1\nTo: <sip:bob@example.com>\nCall-ID: o1@192.168.1.10\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n";
    lab.register_alice(600);
    let out = lab.on_lan(A, text);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].transport, Transport::Tcp, "UDP phone, TCP next hop");
    assert!(out[0].headers("Via")[0].starts_with("SIP/2.0/TCP "));
}

#[test]
fn an_answer_of_the_proxy_goes_back_on_the_connection_the_request_came_on() {
    let mut lab = Lab::new();
    // Max-Forwards 0: answered 483 by the proxy itself.
    let text = "INVITE sip:bob@example.com SIP/2.0\nVia: SIP/2.0/TCP 192.168.1.10:5060;branch=z9hG4bKm0\nMax-Forwards: 0\nFrom: <sip:alice@example.com>;tag=1\nTo: <sip:bob@example.com>\nCall-ID: m0@192.168.1.10\nCSeq: 1 INVITE\nContent-Length: 0\n\n";
    let out = lab.deliver_on(Transport::Tcp, Some(CONN), PHONE_TCP, I, text);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].status(), Some(483));
    assert_eq!(out[0].transport, Transport::Tcp);
    assert_eq!(out[0].connection, Some(CONN));
}

#[test]
fn an_incoming_request_to_a_tcp_phone_leaves_over_tcp() {
    let mut lab = Lab::new();
    let fwd = register_over_tcp(&mut lab, "sip:example.com");
    let vias = fwd.headers("Via");
    let resp = format!(
        "SIP/2.0 200 OK\nVia: {}\nVia: {}\nFrom: <sip:alice@example.com>;tag=1\nTo: <sip:alice@example.com>;tag=p\nCall-ID: tcp1@192.168.1.10\nCSeq: 1 REGISTER\nContact: {};expires=600\nContent-Length: 0\n\n",
        vias[0],
        vias[1],
        fwd.header("Contact").unwrap()
    );
    assert_eq!(
        lab.deliver_on(Transport::Tcp, None, PROVIDER, O, &resp)
            .len(),
        1
    );
    let invite = format!(
        "INVITE {} SIP/2.0\nVia: SIP/2.0/UDP 198.51.100.30:5060;branch=z9hG4bKin1\nMax-Forwards: 70\nFrom: <sip:bob@example.net>;tag=b\nTo: <sip:alice@example.com>\nCall-ID: in1@b\nCSeq: 1 INVITE\nContent-Length: 0\n\n",
        fwd.header("Contact")
            .unwrap()
            .trim_start_matches('<')
            .trim_end_matches('>')
    );
    let out = lab.on_wan(B, &invite);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(
        out[0].transport,
        Transport::Tcp,
        "the contact says transport=tcp"
    );
    assert!(
        out[0].first_line().contains("transport=tcp"),
        "{}",
        out[0].first_line()
    );
    assert!(out[0].headers("Via")[0].starts_with("SIP/2.0/TCP 192.168.1.1:5060;"));
}

#[test]
fn outbound_proxy_transport_sends_a_udp_phone_to_its_proxy_over_tcp() {
    let mut lab = Lab::with(siproxd_rs::config::Config {
        outbound_proxy_host: Some("proxy.example.net".into()),
        outbound_proxy_transport: Some(ProxyTransport::Tcp),
        ..Lab::config()
    });
    let text = "REGISTER sip:example.com SIP/2.0\nVia: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKop1\nMax-Forwards: 70\nFrom: <sip:alice@example.com>;tag=1\nTo: <sip:alice@example.com>\nCall-ID: op1@192.168.1.10\nCSeq: 1 REGISTER\nContact: <sip:alice@192.168.1.10:5060>\nExpires: 600\nContent-Length: 0\n\n";
    let out = lab.on_lan(A, text);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].to, sa("198.51.100.21:5060"));
    assert_eq!(out[0].transport, Transport::Tcp);
    assert!(out[0].headers("Via")[0].starts_with("SIP/2.0/TCP "));
    // Unset, the phone's transport is kept.
    let mut lab = Lab::with(siproxd_rs::config::Config {
        outbound_proxy_host: Some("proxy.example.net".into()),
        ..Lab::config()
    });
    assert_eq!(lab.on_lan(A, text)[0].transport, Transport::Udp);
}

/// The 200 of the REGISTER `fwd` (the proxy's forwarded copy), granting its Contact.
fn register_ok(fwd: &Sent) -> String {
    let vias = fwd.headers("Via");
    format!(
        "SIP/2.0 200 OK\nVia: {}\nVia: {}\nFrom: <sip:alice@example.com>;tag=1\nTo: <sip:alice@example.com>;tag=p\nCall-ID: tcp1@192.168.1.10\nCSeq: 1 REGISTER\nContact: {};expires=600\nContent-Length: 0\n\n",
        vias[0],
        vias[1],
        fwd.header("Contact").unwrap()
    )
}

#[test]
fn record_route_and_contact_name_the_transport_of_their_side() {
    // Phone on TCP, provider on TCP: the masqueraded Contact says TCP.
    let mut lab = Lab::new();
    let fwd = register_over_tcp(&mut lab, "sip:example.com");
    assert_eq!(
        fwd.header("Contact").unwrap(),
        "<sip:alice@203.0.113.5;transport=tcp>"
    );
    lab.deliver_on(Transport::Tcp, None, PROVIDER, O, &register_ok(&fwd));
    // An INVITE from a UDP far end reaches the phone over TCP: our Record-Route says TCP, so
    // the phone's in-dialog requests come back over TCP.
    let invite = "INVITE sip:alice@203.0.113.5;transport=tcp SIP/2.0\nVia: SIP/2.0/UDP 198.51.100.30:5060;branch=z9hG4bKin2\nMax-Forwards: 70\nFrom: <sip:bob@example.net>;tag=b\nTo: <sip:alice@example.com>\nCall-ID: in2@b\nCSeq: 1 INVITE\nContact: <sip:bob@198.51.100.30:5060>\nContent-Length: 0\n\n";
    let out = lab.on_wan(B, invite);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].transport, Transport::Tcp);
    assert_eq!(
        out[0].headers("Record-Route"),
        ["<sip:siproxd@192.168.1.1:5060;transport=tcp;lr>"]
    );
    // The phone's 200 goes to the far end over UDP (its Via): the Contact loses the phone's
    // transport=tcp, the far end must reach us over UDP.
    let vias = out[0].headers("Via");
    let ok = format!(
        "SIP/2.0 200 OK\nVia: {}\nVia: {}\nRecord-Route: {}\nFrom: <sip:bob@example.net>;tag=b\nTo: <sip:alice@example.com>;tag=a\nCall-ID: in2@b\nCSeq: 1 INVITE\nContact: <sip:alice@192.168.1.10:5060;transport=tcp>\nContent-Length: 0\n\n",
        vias[0],
        vias[1],
        out[0].header("Record-Route").unwrap()
    );
    let back = lab.deliver_on(Transport::Tcp, Some(CONN), PHONE_TCP, I, &ok);
    assert_eq!(back.len(), 1, "{back:?}");
    assert_eq!(back[0].transport, Transport::Udp);
    assert_eq!(back[0].to, sa(B));
    assert_eq!(
        back[0].header("Contact").unwrap(),
        "<sip:alice@203.0.113.5>",
        "registered contact masqueraded, without the LAN side's transport"
    );
    assert!(back[0].headers("Record-Route").is_empty(), "ours is purged");
}

#[test]
fn a_response_to_a_tcp_phone_appends_a_tcp_record_route() {
    let mut lab = Lab::new();
    let reg = register_over_tcp(&mut lab, "sip:example.com");
    lab.deliver_on(Transport::Tcp, None, PROVIDER, O, &register_ok(&reg));
    // Phone on TCP calls a far end that wants UDP (its URI says so).
    let invite = "INVITE sip:bob@198.51.100.30:5060;transport=udp SIP/2.0\nVia: SIP/2.0/TCP 192.168.1.10:5060;branch=z9hG4bKout1\nMax-Forwards: 70\nFrom: <sip:alice@example.com>;tag=a\nTo: <sip:bob@example.net>\nCall-ID: out1@192.168.1.10\nCSeq: 1 INVITE\nContact: <sip:alice@192.168.1.10:5060;transport=tcp>\nContent-Length: 0\n\n";
    let out = lab.deliver_on(Transport::Tcp, Some(CONN), PHONE_TCP, I, invite);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].transport, Transport::Udp);
    assert!(out[0].headers("Via")[0].starts_with("SIP/2.0/UDP 203.0.113.5:5060;"));
    assert_eq!(
        out[0].header("Contact").unwrap(),
        "<sip:alice@203.0.113.5>",
        "the far end reaches us over UDP"
    );
    let vias = out[0].headers("Via");
    let ok = format!(
        "SIP/2.0 200 OK\nVia: {}\nVia: {}\nFrom: <sip:alice@example.com>;tag=a\nTo: <sip:bob@example.net>;tag=b\nCall-ID: out1@192.168.1.10\nCSeq: 1 INVITE\nContact: <sip:bob@198.51.100.30:5060>\nContent-Length: 0\n\n",
        vias[0], vias[1]
    );
    let back = lab.on_wan(B, &ok);
    assert_eq!(back.len(), 1, "{back:?}");
    assert_eq!(back[0].transport, Transport::Tcp);
    assert_eq!(back[0].to, sa(PHONE_TCP));
    assert_eq!(
        back[0].headers("Record-Route"),
        ["<sip:siproxd@192.168.1.1:5060;transport=tcp;lr>"]
    );
    // The same call from a UDP phone: no transport parameter anywhere.
    let mut lab = Lab::new();
    lab.register_alice(600);
    let udp = invite
        .replace("SIP/2.0/TCP", "SIP/2.0/UDP")
        .replace(";transport=tcp", "")
        .replace(";transport=udp", "");
    let out = lab.on_lan(A, &udp);
    assert_eq!(out[0].transport, Transport::Udp);
    let vias = out[0].headers("Via");
    let ok = format!(
        "SIP/2.0 200 OK\nVia: {}\nVia: {}\nFrom: <sip:alice@example.com>;tag=a\nTo: <sip:bob@example.net>;tag=b\nCall-ID: out1@192.168.1.10\nCSeq: 1 INVITE\nContent-Length: 0\n\n",
        vias[0], vias[1]
    );
    let back = lab.on_wan(B, &ok);
    assert_eq!(
        back[0].headers("Record-Route"),
        ["<sip:siproxd@192.168.1.1:5060;lr>"]
    );
}

#[test]
fn a_udp_phone_behind_a_tcp_proxy_gets_a_tcp_contact() {
    let mut lab = Lab::with(siproxd_rs::config::Config {
        outbound_proxy_host: Some("proxy.example.net".into()),
        outbound_proxy_transport: Some(ProxyTransport::Tcp),
        ..Lab::config()
    });
    let out = lab.on_lan(
        A,
        &register("sip:example.com", "<sip:alice@192.168.1.10:5060>", ""),
    );
    assert_eq!(out[0].transport, Transport::Tcp);
    assert_eq!(
        out[0].header("Contact").unwrap(),
        "<sip:alice@203.0.113.5;transport=tcp>"
    );
}

// ---- transports of the configured proxies, large requests (RFC 3261 §18.1.1) ----

thread_local! {
    static LOGGED: std::cell::RefCell<Vec<(log::Level, String)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Keeps each test thread's log records, so a test can look for its warning.
struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, r: &log::Record<'_>) {
        LOGGED.with(|l| l.borrow_mut().push((r.level(), r.args().to_string())));
    }
    fn flush(&self) {}
}

/// The warnings this thread logged since the last call.
fn warnings() -> Vec<String> {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        log::set_logger(&Capture).unwrap();
        log::set_max_level(log::LevelFilter::Info);
    });
    LOGGED.with(|l| {
        l.borrow_mut()
            .drain(..)
            .filter(|(lv, _)| *lv == log::Level::Warn)
            .map(|(_, m)| m)
            .collect()
    })
}

/// An INVITE from A to bob of about `size` bytes (padded with a Subject).
fn invite_of(size: usize) -> String {
    let head = "INVITE sip:bob@example.com SIP/2.0\nVia: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKbig\nMax-Forwards: 70\nFrom: <sip:alice@example.com>;tag=a\nTo: <sip:bob@example.com>\nCall-ID: big@192.168.1.10\nCSeq: 1 INVITE\nContact: <sip:alice@192.168.1.10:5060>\nContent-Length: 0\nSubject: ";
    format!("{head}{}\n\n", "x".repeat(size.saturating_sub(head.len())))
}

fn auto_proxy_lab(transport: Option<ProxyTransport>) -> Lab {
    let mut lab = Lab::with(siproxd_rs::config::Config {
        outbound_proxy_host: Some("proxy.example.net".into()),
        outbound_proxy_transport: transport,
        ..Lab::config()
    });
    lab.register_alice(600);
    lab
}

#[test]
fn a_large_udp_request_goes_over_tcp_to_a_proxy_configured_auto() {
    let mut lab = auto_proxy_lab(Some(ProxyTransport::Auto));
    warnings();
    let small = lab.on_lan(A, &invite_of(900));
    assert_eq!(small.len(), 1, "{small:?}");
    assert_eq!(small[0].transport, Transport::Udp, "auto: UDP normally");
    assert_eq!(small[0].to, sa("198.51.100.21:5060"));
    let big = lab.on_lan(A, &invite_of(1400));
    assert_eq!(big.len(), 1, "{big:?}");
    assert!(big[0].text.len() > 1300);
    assert_eq!(big[0].transport, Transport::Tcp);
    assert_eq!(big[0].to, sa("198.51.100.21:5060"));
    let vias = big[0].headers("Via");
    assert!(
        vias[0].starts_with("SIP/2.0/TCP 203.0.113.5:5060;"),
        "{vias:?}"
    );
    assert!(
        vias[1].starts_with("SIP/2.0/UDP 192.168.1.10:5060;"),
        "{vias:?}"
    );
    assert!(big[0].msg().validate().is_ok());
    assert!(warnings().is_empty());
    // Its response comes back over TCP and reaches the phone over UDP.
    let ok = format!(
        "SIP/2.0 180 Ringing\nVia: {}\nVia: {}\nFrom: <sip:alice@example.com>;tag=a\nTo: <sip:bob@example.com>;tag=b\nCall-ID: big@192.168.1.10\nCSeq: 1 INVITE\nContent-Length: 0\n\n",
        vias[0], vias[1]
    );
    let back = lab.deliver_on(Transport::Tcp, None, "198.51.100.21:5060", O, &ok);
    assert_eq!(back.len(), 1, "{back:?}");
    assert_eq!(back[0].transport, Transport::Udp);
    assert_eq!(back[0].to, sa(A));
}

#[test]
fn a_large_request_stays_udp_with_a_warning_where_tcp_is_not_known_to_work() {
    for t in [None, Some(ProxyTransport::Udp)] {
        let mut lab = auto_proxy_lab(t);
        warnings();
        let big = lab.on_lan(A, &invite_of(1400));
        assert_eq!(big.len(), 1, "{big:?}");
        assert_eq!(big[0].transport, Transport::Udp, "{t:?}");
        assert!(big[0].headers("Via")[0].starts_with("SIP/2.0/UDP "));
        let w = warnings();
        assert!(
            w.iter()
                .any(|m| m.contains("over UDP although larger than 1300")),
            "{t:?}: {w:?}"
        );
        // A small one: no warning.
        lab.on_lan(A, &invite_of(600));
        assert!(warnings().is_empty());
    }
    // Auto applies to the configured proxy only: a Route to another host stays UDP.
    let mut lab = auto_proxy_lab(Some(ProxyTransport::Auto));
    warnings();
    let routed = invite_of(1400).replacen(
        "Max-Forwards: 70\n",
        "Max-Forwards: 70\nRoute: <sip:198.51.100.23;lr>\n",
        1,
    );
    let out = lab.on_lan(A, &routed);
    assert_eq!(out[0].to, sa("198.51.100.23:5060"));
    assert_eq!(out[0].transport, Transport::Udp);
    assert_eq!(warnings().len(), 1);
}

#[test]
fn per_domain_proxies_take_a_transport_too() {
    let cfg = siproxd_rs::config::Config {
        outbound_proxy_host: Some("proxy.example.net".into()),
        outbound_domain_name: vec!["example.com".into()],
        outbound_domain_host: vec!["edge.example.com".into()],
        outbound_domain_port: vec![5070],
        outbound_domain_transport: vec![ProxyTransport::Tcp],
        ..Lab::config()
    };
    let mut lab = Lab::with(cfg.clone());
    let out = lab.on_lan(
        A,
        &register("sip:example.com", "<sip:alice@192.168.1.10:5060>", ""),
    );
    assert_eq!(out[0].to, sa("198.51.100.22:5070"));
    assert_eq!(out[0].transport, Transport::Tcp);
    assert!(out[0].headers("Via")[0].starts_with("SIP/2.0/TCP "));
    assert_eq!(
        out[0].header("Contact").unwrap(),
        "<sip:alice@203.0.113.5;transport=tcp>"
    );
    // `udp` turns a TCP phone's request to UDP.
    let mut lab = Lab::with(siproxd_rs::config::Config {
        outbound_domain_transport: vec![ProxyTransport::Udp],
        ..cfg.clone()
    });
    let fwd = register_over_tcp(&mut lab, "sip:example.com");
    assert_eq!(fwd.to, sa("198.51.100.22:5070"));
    assert_eq!(fwd.transport, Transport::Udp);
    // `auto`: the phone's transport, and TCP for a large request.
    let mut lab = Lab::with(siproxd_rs::config::Config {
        outbound_domain_transport: vec![ProxyTransport::Auto],
        ..cfg
    });
    lab.register_alice(600);
    let small = lab.on_lan(A, &invite_of(600));
    assert_eq!(
        (small[0].to, small[0].transport),
        (sa("198.51.100.22:5070"), Transport::Udp)
    );
    let big = lab.on_lan(A, &invite_of(1400));
    assert_eq!(
        (big[0].to, big[0].transport),
        (sa("198.51.100.22:5070"), Transport::Tcp)
    );
}

// ---- the core with the connection table: connect failure and reconnect ----

/// The proxy core and the sans-IO connection table wired as the shell (`net/tcp.rs`) wires
/// them, on the virtual clock; the peers' sockets are the test.
struct Net {
    lab: Lab,
    streams: Streams,
}

const OUTBOUND_TCP: &str = "198.51.100.21:5060";

impl Net {
    fn new(max_connections: usize) -> Net {
        let lab = Lab::with(siproxd_rs::config::Config {
            outbound_proxy_host: Some("proxy.example.net".into()),
            outbound_proxy_transport: Some(ProxyTransport::Tcp),
            ..Lab::config()
        });
        let streams = Streams::new(StreamLimits {
            max_connections,
            per_source: 2,
            idle_timeout: Some(600_000),
            keepalive: None,
            connect_timeout: 500,
            message_deadline: 10_000,
            write_queue: 64 * 1024,
        });
        Net { lab, streams }
    }

    /// What the proxy sent: TCP messages are queued in the table as `Tcp::send` does (on a
    /// connection found for them, else a new one, else undeliverable); UDP ones are returned.
    fn route(&mut self, sent: Vec<Sent>) -> Vec<Sent> {
        let mut udp = Vec::new();
        for m in sent {
            if m.transport == Transport::Udp {
                udp.push(m);
                continue;
            }
            let src = std::net::SocketAddr::new(m.from, 5060);
            let id = self
                .streams
                .connection_for(m.connection, m.to)
                .or_else(|| self.streams.open(self.lab.now, m.to, src).ok());
            match id {
                Some(id) => assert!(self.streams.send(id, m.text.as_bytes())),
                None => self.streams.undeliverable(src, m.to, m.text.as_bytes()),
            }
        }
        udp
    }

    fn phone_sends(&mut self, text: &str) -> Vec<Sent> {
        let out = self.lab.on_lan(A, text);
        self.route(out)
    }

    /// Moves the clock, runs the table's timers and answers what could not be delivered, as
    /// the event loop does (`answer_undelivered`).
    fn advance(&mut self, ms: u64) -> Vec<Sent> {
        self.lab.now += ms;
        self.streams.handle_timeout(self.lab.now);
        while self.streams.poll_close().is_some() {}
        let mut out = Vec::new();
        while let Some((local, peer, bytes)) = self.streams.poll_undelivered() {
            let now = self.lab.now;
            self.lab
                .proxy
                .handle_undeliverable(now, local, peer, &bytes, &mut self.lab.media);
            let sent = self.lab.take();
            out.extend(self.route(sent));
        }
        out
    }

    /// Everything the table lets the shell write on `id` now.
    fn written(&mut self, id: ConnId) -> String {
        let mut w = Vec::new();
        loop {
            let p = self.streams.pending_write(id).to_vec();
            if p.is_empty() {
                return String::from_utf8(w).unwrap();
            }
            self.streams.wrote(self.lab.now, id, p.len());
            w.extend(p);
        }
    }

    /// Bytes from the peer of `id`, framed by the table and handed to the proxy.
    fn receive(&mut self, id: ConnId, text: &str) -> Vec<Sent> {
        let now = self.lab.now;
        let info = self.streams.info(now, id).unwrap();
        let origin = Origin {
            transport: Transport::Tcp,
            src: info.peer,
            local: info.local,
            connection: Some(id),
        };
        let mut msgs = Vec::new();
        self.streams
            .received(now, id, &crlf(text), &mut |_, m, _| msgs.push(m.to_vec()));
        for m in msgs {
            self.lab
                .proxy
                .handle_message(now, origin, &m, &mut self.lab.media);
        }
        let sent = self.lab.take();
        self.route(sent)
    }
}

fn register_n(cseq: u32) -> String {
    register("sip:example.com", "<sip:alice@192.168.1.10:5060>", "")
        .replace("CSeq: 1 REGISTER", &format!("CSeq: {cseq} REGISTER"))
        .replace("branch=z9hG4bKreg1", &format!("branch=z9hG4bKreg{cseq}"))
}

#[test]
fn a_failed_connect_answers_503_and_the_next_request_opens_a_new_connection() {
    let mut net = Net::new(4);
    assert!(net.phone_sends(&register_n(1)).is_empty());
    let first = net.streams.find(sa(OUTBOUND_TCP)).unwrap();
    assert!(net.streams.is_connecting(first));
    assert_eq!(
        net.written(first),
        "",
        "nothing goes out before the connect"
    );
    assert_eq!(net.streams.poll_timeout(), Some(net.lab.now + 500));
    assert!(net.advance(499).is_empty());
    // The connect times out: the phone gets 503 at once, not after timer F.
    let out = net.advance(1);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].status(), Some(503));
    assert_eq!(out[0].to, sa(A));
    assert_eq!(out[0].headers("Via").len(), 1, "only the phone's Via");
    assert_eq!(out[0].header("CSeq").unwrap(), "1 REGISTER");
    assert!(net.streams.find(sa(OUTBOUND_TCP)).is_none());
    assert_eq!(net.streams.counters().connect_failed, 1);

    // The retry opens a new connection; what is sent meanwhile waits in its queue.
    net.lab.now += 2_000;
    assert!(net.phone_sends(&register_n(2)).is_empty());
    let second = net.streams.find(sa(OUTBOUND_TCP)).unwrap();
    assert_ne!(second, first);
    // A refresh sent meanwhile joins the same queue.
    assert!(net.phone_sends(&register_n(3)).is_empty());
    assert_eq!(net.streams.find(sa(OUTBOUND_TCP)), Some(second));
    assert_eq!(net.written(second), "");
    net.streams.connected(net.lab.now + 30, second);
    let w = net.written(second);
    let (two, three) = (w.find("CSeq: 2 ").unwrap(), w.find("CSeq: 3 ").unwrap());
    assert!(two < three, "queued in order: {w}");
    assert!(w.starts_with("REGISTER sip:example.com") && w.matches("REGISTER sip:").count() == 2);
    assert!(
        net.advance(600).is_empty(),
        "no 503 for a connection that worked"
    );

    // The registrar answers on that connection; the 200 reaches the phone over UDP.
    let top = w
        .lines()
        .find(|l| l.starts_with("Via: SIP/2.0/TCP"))
        .unwrap()
        .trim_start_matches("Via: ");
    let ok = format!(
        "SIP/2.0 200 OK\nVia: {top}\nVia: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKreg2\nFrom: <sip:alice@example.com>;tag=r1\nTo: <sip:alice@example.com>;tag=p1\nCall-ID: reg1@192.168.1.10\nCSeq: 2 REGISTER\nContact: <sip:alice@203.0.113.5;transport=tcp>;expires=600\nContent-Length: 0\n\n"
    );
    let back = net.receive(second, &ok);
    assert_eq!(back.len(), 1, "{back:?}");
    assert_eq!((back[0].status(), back[0].to), (Some(200), sa(A)));
}

#[test]
fn no_connection_to_be_had_answers_503_too() {
    // A one-slot table busy with a connect elsewhere: the proxy's connection cannot open.
    let mut net = Net::new(1);
    net.streams
        .open(
            net.lab.now,
            sa("198.51.100.99:5060"),
            sa("203.0.113.5:5060"),
        )
        .unwrap();
    assert!(net.phone_sends(&register_n(1)).is_empty());
    let out = net.advance(0);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!((out[0].status(), out[0].to), (Some(503), sa(A)));
}
