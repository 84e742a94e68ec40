//! Every call into the proxy core is here, so that a change of the core's API touches this
//! file only. The set-up is the one of `tests/lab`: LAN 192.168.1.0/24 with the inbound
//! address 192.168.1.1, WAN address 203.0.113.5, port 5060, names from an /etc/hosts text.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use siproxd_rs::auth::Authenticator;
use siproxd_rs::config::Config;
use siproxd_rs::dns::{parse_hosts, parse_resolv_conf, Resolver, ResolverConfig};
use siproxd_rs::limits;
use siproxd_rs::proxy::{Addresses, Origin, Proxy, TableMedia};
use siproxd_rs::rtp::Table;
use siproxd_rs::sansio::{Output, Transport};

pub const INBOUND: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);
pub const OUTBOUND: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 5);
/// The address the WAN interface gets after a reconnect.
pub const OUTBOUND_2: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 6);
pub const PORT: u16 = 5060;
pub const RTP_LOW: u16 = 7070;
pub const RTP_HIGH: u16 = 7088;
/// `host_outbound` when the settings ask for a public address other than the interface's.
pub const HOST_OUTBOUND: &str = "198.51.100.99";
pub const NAMESERVER: &str = "127.0.0.53:53";
pub const HOSTS: &str = "198.51.100.20 example.com\n198.51.100.21 proxy.example.net\n\
                         198.51.100.22 edge.example.com\n198.51.100.23 other.net\n";

/// The configuration variants a run is made with (decoded from its first byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub relay: bool,
    /// `outbound_proxy_host` set: requests from the LAN go to proxy.example.net.
    pub outbound_proxy: bool,
    pub obscure_loops: bool,
    pub ua_string: bool,
    pub use_rport: u8,
    /// `host_outbound` = [`HOST_OUTBOUND`].
    pub host_outbound: bool,
    /// Two registrations and two RTP streams at most, and an outbound route for other.net.
    pub small_tables: bool,
    /// Proxy authentication (realm `siproxd`, password `secret`); only by a reload.
    pub auth: bool,
}

impl Settings {
    pub fn from_byte(b: u8) -> Settings {
        Settings {
            relay: b & 1 == 0,
            outbound_proxy: b & 2 != 0,
            obscure_loops: b & 4 != 0,
            ua_string: b & 8 != 0,
            use_rport: (b >> 4) & 3,
            host_outbound: b & 0x40 != 0,
            small_tables: b & 0x80 != 0,
            auth: false,
        }
    }

    /// The settings a reload (SIGHUP) changes to: those of `b`, with the restart-only ones
    /// (table sizes, ports) kept.
    pub fn reloaded(&self, b: u8, auth: bool) -> Settings {
        Settings {
            small_tables: self.small_tables,
            auth,
            ..Settings::from_byte(b)
        }
    }

    fn authenticator(&self) -> Option<Authenticator> {
        self.auth
            .then(|| Authenticator::new("siproxd", [7; 32], Some("secret"), None, false))
    }

    fn config(&self) -> Config {
        let mut c = Config {
            if_inbound: Some(INBOUND.to_string()),
            if_outbound: Some(OUTBOUND.to_string()),
            sip_listen_port: PORT,
            rtp_port_low: RTP_LOW,
            rtp_port_high: RTP_HIGH,
            rtp_timeout: 300,
            default_expires: 3600,
            rtp_proxy_enable: u8::from(self.relay),
            obscure_loops: self.obscure_loops,
            use_rport: self.use_rport,
            ..Config::default()
        };
        if self.outbound_proxy {
            c.outbound_proxy_host = Some("proxy.example.net".into());
            c.outbound_proxy_port = 5060;
        }
        if self.ua_string {
            c.ua_string = Some("siproxd-rs-fuzz/1".into());
        }
        if self.host_outbound {
            c.host_outbound = Some(HOST_OUTBOUND.into());
        }
        if self.small_tables {
            c.max_registrations = 2;
            c.max_rtp_streams = 2;
            c.outbound_domain_name = vec!["other.net".into()];
            c.outbound_domain_host = vec!["edge.example.com".into()];
            c.outbound_domain_port = vec![5070];
        }
        c
    }
}

/// One datagram the core asked to send; a `source` port 0 is a DNS query.
#[derive(Clone, PartialEq, Eq)]
pub struct Sent {
    pub source: SocketAddr,
    pub destination: SocketAddr,
    pub bytes: Vec<u8>,
}

impl Sent {
    pub fn is_dns(&self) -> bool {
        self.source.port() == 0
    }
}

impl std::fmt::Debug for Sent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} -> {}:\n{}",
            self.source,
            self.destination,
            String::from_utf8_lossy(&self.bytes)
        )
    }
}

/// The core, its relay table and the drain buffer.
pub struct Core {
    proxy: Proxy,
    media: TableMedia,
    /// Twice the shell's send buffer, so that a message the shell could not send shows up
    /// (and fails the length check) instead of being dropped by the core.
    buf: Vec<u8>,
}

impl Core {
    pub fn new(settings: &Settings) -> Core {
        let cfg = settings.config();
        let resolver = Resolver::new(
            ResolverConfig {
                resolv: parse_resolv_conf("nameserver 127.0.0.53\n"),
                hosts: parse_hosts(HOSTS),
                ipv6: false,
            },
            7,
        );
        let media = TableMedia::new(Table::from_config(&cfg));
        let addrs = Addresses::new(IpAddr::V4(INBOUND), Some(IpAddr::V4(OUTBOUND)));
        Core {
            proxy: Proxy::new(cfg, addrs, resolver, settings.authenticator()),
            media,
            buf: vec![0; 2 * limits::SIP_SEND_BUFFER],
        }
    }

    /// A UDP datagram from `src` to the proxy's address `local`.
    pub fn message(&mut self, now: u64, src: SocketAddr, local: IpAddr, bytes: &[u8]) {
        let origin = Origin {
            transport: Transport::Udp,
            src,
            local: SocketAddr::new(local, PORT),
            connection: None,
        };
        self.proxy
            .handle_message(now, origin, bytes, &mut self.media);
    }

    pub fn timeout(&mut self, now: u64) {
        self.proxy.handle_timeout(now);
    }

    pub fn dns(&mut self, now: u64, from: SocketAddr, bytes: &[u8]) {
        self.proxy.handle_dns(now, from, bytes);
    }

    /// A reload (SIGHUP) with new settings.
    pub fn reconfigure(&mut self, settings: &Settings) {
        self.proxy
            .reconfigure(settings.config(), settings.authenticator());
    }

    /// The WAN interface went down (`None`) or came back with an address.
    pub fn set_outbound(&mut self, outbound: Option<IpAddr>) {
        self.proxy
            .set_addresses(Addresses::new(IpAddr::V4(INBOUND), outbound));
    }

    /// Everything the core wants sent, then its next deadline. Fails when an output breaks
    /// the bounds: more than `max` messages, a message longer than `SIP_SEND_BUFFER`, or a
    /// transport or connection a UDP-only set-up never uses.
    pub fn drain(&mut self, max: usize) -> Result<(Vec<Sent>, Option<u64>), String> {
        let mut out: Vec<Sent> = Vec::new();
        loop {
            match self.proxy.poll_output(&mut self.buf) {
                Output::Transmit(t) => {
                    if t.len > limits::SIP_SEND_BUFFER {
                        return Err(format!(
                            "{} bytes to {}: longer than SIP_SEND_BUFFER ({})",
                            t.len,
                            t.destination,
                            limits::SIP_SEND_BUFFER
                        ));
                    }
                    if t.transport != Transport::Udp || t.connection.is_some() {
                        return Err(format!("UDP set-up sent over {t:?}"));
                    }
                    let bytes = self
                        .buf
                        .get(..t.len)
                        .ok_or_else(|| format!("length {} beyond the buffer", t.len))?
                        .to_vec();
                    out.push(Sent {
                        source: t.source,
                        destination: t.destination,
                        bytes,
                    });
                    if out.len() > max {
                        return Err(format!("more than {max} outputs for one step: {out:?}"));
                    }
                }
                Output::Event(e) => match e {},
                Output::Timeout(t) => return Ok((out, t)),
            }
        }
    }

    /// Open relay half-streams (for the tests' depth checks).
    pub fn relay_streams(&self) -> usize {
        self.media.table.len()
    }

    pub fn registrations(&self) -> usize {
        self.proxy.registry().iter().count()
    }
}
