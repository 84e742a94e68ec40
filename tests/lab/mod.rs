//! Drives the sans-IO proxy core with a virtual clock (behaviour §11 fixture).
//!
//! I = 192.168.1.1 (LAN), O = 203.0.113.5 (WAN), port 5060, RTP 7070–7089, relay on; phone A
//! at 192.168.1.10:5060 (`sip:alice@example.com`), provider example.com = 198.51.100.20, remote
//! UA B at 198.51.100.30:5060. Names resolve through an /etc/hosts text given to the resolver,
//! so no DNS traffic is needed.
#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test helpers: a failed set-up panics, as a test should

use std::net::{IpAddr, SocketAddr};

use siproxd_rs::config::Config;
use siproxd_rs::dns::{parse_hosts, parse_resolv_conf, Resolver, ResolverConfig};
use siproxd_rs::proxy::{Addresses, Origin, Proxy, TableMedia};
use siproxd_rs::rtp::Table;
use siproxd_rs::sansio::{ConnId, Output, Transport};
use siproxd_rs::sip::{Framing, Message};

pub const I: &str = "192.168.1.1";
pub const O: &str = "203.0.113.5";
pub const A: &str = "192.168.1.10:5060";
pub const PROVIDER: &str = "198.51.100.20:5060";
pub const B: &str = "198.51.100.30:5060";

pub const HOSTS: &str = "198.51.100.20 example.com\n198.51.100.21 proxy.example.net\n198.51.100.22 edge.example.com\n198.51.100.23 other.net\n";

pub fn sa(s: &str) -> SocketAddr {
    s.parse().expect("socket address")
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

/// One message the core sent.
#[derive(Debug, Clone)]
pub struct Sent {
    pub from: IpAddr,
    pub to: SocketAddr,
    pub text: String,
    pub transport: Transport,
    pub connection: Option<ConnId>,
}

impl Sent {
    pub fn msg(&self) -> Message<'_> {
        Message::parse(self.text.as_bytes(), Framing::Datagram)
            .expect("the proxy sent a parseable message")
    }
    pub fn first_line(&self) -> &str {
        self.text.lines().next().unwrap_or("")
    }
    /// Values of every header line named `name` (case-insensitive, full names).
    pub fn headers(&self, name: &str) -> Vec<String> {
        self.text
            .split("\r\n")
            .skip(1)
            .take_while(|l| !l.is_empty())
            .filter_map(|l| l.split_once(':'))
            .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
            .collect()
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers(name).into_iter().next()
    }
    pub fn body(&self) -> &str {
        self.text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b)
            .unwrap_or("")
    }
    pub fn status(&self) -> Option<u16> {
        self.first_line()
            .strip_prefix("SIP/2.0 ")?
            .get(..3)?
            .parse()
            .ok()
    }
}

pub struct Lab {
    pub proxy: Proxy,
    pub media: TableMedia,
    pub now: u64,
    /// The proxy's next deadline, as its last drain said.
    pub deadline: Option<u64>,
    /// DNS queries the proxy asked to send (nameserver, bytes), oldest first.
    pub dns: Vec<(SocketAddr, Vec<u8>)>,
}

impl Lab {
    pub fn config() -> Config {
        Config {
            if_inbound: Some(I.into()),
            if_outbound: Some(O.into()),
            sip_listen_port: 5060,
            rtp_port_low: 7070,
            rtp_port_high: 7088,
            rtp_timeout: 300,
            default_expires: 3600,
            ..Config::default()
        }
    }

    pub fn with(cfg: Config) -> Lab {
        let resolver = Resolver::new(
            ResolverConfig {
                resolv: parse_resolv_conf("nameserver 127.0.0.53\n"),
                hosts: parse_hosts(HOSTS),
                ipv6: false,
            },
            7,
        );
        let table = Table::from_config(&cfg);
        let addrs = Addresses::new(ip(I), Some(ip(O)));
        let auth = None;
        Lab::from_parts(
            Proxy::new(cfg, addrs, resolver, auth),
            TableMedia::new(table),
        )
    }

    /// A lab around a proxy and relay built by the caller.
    pub fn from_parts(proxy: Proxy, media: TableMedia) -> Lab {
        Lab {
            proxy,
            media,
            now: 1_000_000,
            deadline: None,
            dns: Vec::new(),
        }
    }

    pub fn new() -> Lab {
        Lab::with(Lab::config())
    }

    /// Delivers `text` (LF or CRLF line ends) from `src` to the proxy's `local` address and
    /// returns what it sent.
    pub fn deliver(&mut self, src: &str, local: &str, text: &str) -> Vec<Sent> {
        self.deliver_on(Transport::Udp, None, src, local, text)
    }

    /// Like [`Lab::deliver`], over `transport` (and on `connection`, for a stream).
    pub fn deliver_on(
        &mut self,
        transport: Transport,
        connection: Option<ConnId>,
        src: &str,
        local: &str,
        text: &str,
    ) -> Vec<Sent> {
        let bytes = crlf(text);
        let origin = Origin {
            transport,
            src: sa(src),
            local: SocketAddr::new(ip(local), 5060),
            connection,
        };
        self.proxy
            .handle_message(self.now, origin, &bytes, &mut self.media);
        self.take()
    }

    /// From the LAN (to I).
    pub fn on_lan(&mut self, src: &str, text: &str) -> Vec<Sent> {
        self.deliver(src, I, text)
    }

    /// From the Internet (to O).
    pub fn on_wan(&mut self, src: &str, text: &str) -> Vec<Sent> {
        self.deliver(src, O, text)
    }

    /// Drains the proxy's output: SIP messages are returned byte for byte, DNS queries go to
    /// `self.dns`, the deadline to `self.deadline`.
    pub fn take_raw(&mut self) -> Vec<RawSent> {
        let mut buf = vec![0u8; siproxd_rs::limits::SIP_SEND_BUFFER];
        let mut out = Vec::new();
        loop {
            match self.proxy.poll_output(&mut buf) {
                Output::Transmit(t) if t.source.port() == 0 => {
                    self.dns.push((t.destination, buf[..t.len].to_vec()));
                }
                Output::Transmit(t) => out.push(RawSent {
                    from: t.source.ip(),
                    to: t.destination,
                    bytes: buf[..t.len].to_vec(),
                    transport: t.transport,
                    connection: t.connection,
                }),
                Output::Event(e) => match e {},
                Output::Timeout(t) => {
                    self.deadline = t;
                    return out;
                }
            }
        }
    }

    pub fn take(&mut self) -> Vec<Sent> {
        self.take_raw().iter().map(RawSent::sent).collect()
    }

    /// The DNS queries sent since the last call.
    pub fn take_dns(&mut self) -> Vec<(SocketAddr, Vec<u8>)> {
        self.take_raw();
        std::mem::take(&mut self.dns)
    }

    /// Moves the virtual clock and runs due timers.
    pub fn advance(&mut self, ms: u64) -> Vec<Sent> {
        self.now += ms;
        let mut out = self.take();
        if self.deadline.is_some_and(|d| d <= self.now) {
            self.proxy.handle_timeout(self.now);
            out.extend(self.take());
        }
        out
    }

    /// Behaviour §11 tests 1 and 4: A registers through the proxy (outbound-proxy mode) and
    /// the provider grants `expires` seconds.
    pub fn register_alice(&mut self, expires: u32) {
        let out = self.on_lan(
            A,
            &register(
                "sip:example.com",
                "<sip:alice@192.168.1.10:5060>;expires=3600",
                "",
            ),
        );
        assert_eq!(out.len(), 1, "REGISTER forwarded: {out:?}");
        let fwd = &out[0];
        let branch = fwd.msg().top_via().unwrap().branch().unwrap().to_vec();
        let resp = format!(
            "SIP/2.0 200 OK\nVia: SIP/2.0/UDP 203.0.113.5:5060;branch={}\nVia: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKreg1\nFrom: <sip:alice@example.com>;tag=r1\nTo: <sip:alice@example.com>;tag=p1\nCall-ID: reg1@192.168.1.10\nCSeq: 1 REGISTER\nContact: <sip:alice@203.0.113.5>;expires={expires}\nContent-Length: 0\n\n",
            String::from_utf8_lossy(&branch)
        );
        let back = self.on_wan(PROVIDER, &resp);
        assert_eq!(back.len(), 1, "200 forwarded to A: {back:?}");
    }
}

/// Converts LF line ends to CRLF (bodies included), so fixtures can be written plainly.
pub fn crlf(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 64);
    for line in text.split_inclusive('\n') {
        let l = line
            .strip_suffix('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l));
        match l {
            Some(l) => {
                out.extend_from_slice(l.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            None => out.extend_from_slice(line.as_bytes()),
        }
    }
    out
}

/// `name: value` and a line end, or nothing for an empty `value` (an optional header).
pub fn header_line(name: &str, value: &str) -> String {
    if value.is_empty() {
        String::new()
    } else {
        format!("{name}: {value}\n")
    }
}

/// A's REGISTER with the given Request-URI, Contact value and extra header lines.
pub fn register(ruri: &str, contact: &str, extra: &str) -> String {
    let contact_line = header_line("Contact", contact);
    format!(
        "REGISTER {ruri} SIP/2.0\nVia: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKreg1\nMax-Forwards: 70\nFrom: <sip:alice@example.com>;tag=r1\nTo: <sip:alice@example.com>\nCall-ID: reg1@192.168.1.10\nCSeq: 1 REGISTER\n{contact_line}{extra}Content-Length: 0\n\n"
    )
}

/// An SDP body (LF line ends; `crlf` converts it with the message).
pub fn sdp(addr: &str, port: u16) -> String {
    format!("v=0\no=- 1 1 IN IP4 {addr}\ns=-\nc=IN IP4 {addr}\nt=0 0\nm=audio {port} RTP/AVP 0\na=rtpmap:0 PCMU/8000\n")
}

/// A request with an optional SDP body; Content-Length is computed for CRLF line ends.
pub fn request(first: &str, headers: &str, body: &str) -> String {
    let len = crlf(body).len();
    let ct = if body.is_empty() {
        String::new()
    } else {
        "Content-Type: application/sdp\n".to_string()
    };
    format!("{first}\n{headers}{ct}Content-Length: {len}\n\n{body}")
}

/// One message the core sent, byte for byte.
#[derive(Clone)]
pub struct RawSent {
    pub from: IpAddr,
    pub to: SocketAddr,
    pub bytes: Vec<u8>,
    pub transport: Transport,
    pub connection: Option<ConnId>,
}

impl std::fmt::Debug for RawSent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} -> {}:\n{}",
            self.from,
            self.to,
            String::from_utf8_lossy(&self.bytes)
        )
    }
}

impl RawSent {
    /// The same message as text (lossy), for header helpers.
    pub fn sent(&self) -> Sent {
        Sent {
            from: self.from,
            to: self.to,
            text: String::from_utf8_lossy(&self.bytes).into_owned(),
            transport: self.transport,
            connection: self.connection,
        }
    }
}

impl Lab {
    /// Delivers raw bytes (no line-end conversion) from `src` to the proxy's `local` address
    /// and returns what it sent, byte for byte.
    pub fn deliver_bytes(&mut self, src: &str, local: &str, bytes: &[u8]) -> Vec<RawSent> {
        let origin = Origin {
            transport: Transport::Udp,
            src: sa(src),
            local: SocketAddr::new(ip(local), 5060),
            connection: None,
        };
        self.proxy
            .handle_message(self.now, origin, bytes, &mut self.media);
        self.take_raw()
    }
}

impl Lab {
    /// Like [`Lab::with`], with extra /etc/hosts lines for the resolver.
    pub fn with_hosts(cfg: Config, extra_hosts: &str) -> Lab {
        let mut lab = Lab::with(cfg.clone());
        let resolver = Resolver::new(
            ResolverConfig {
                resolv: parse_resolv_conf("nameserver 127.0.0.53\n"),
                hosts: parse_hosts(&format!("{HOSTS}{extra_hosts}")),
                ipv6: false,
            },
            7,
        );
        let addrs = lab.proxy.addresses();
        lab.proxy = Proxy::new(cfg, addrs, resolver, None);
        lab
    }
}
