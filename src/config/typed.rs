//! Decoded views of directives whose raw form only makes sense once interpreted: the parallel
//! `outbound_domain_*` lists, the `use_rport` bitmask and `rtp_proxy_enable`. The core builds
//! its settings from these at start and on SIGHUP instead of decoding directive values itself.

use super::Config;

/// siproxd's port when an outbound proxy port is not given (behaviour §4.11).
const DEFAULT_SIP_PORT: u16 = 5060;

/// One per-domain outbound proxy (behaviour §4.11): requests whose From host equals `domain`
/// (ASCII case-insensitively, whole string) go to `host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainRoute {
    /// `outbound_domain_name`.
    pub domain: String,
    /// `outbound_domain_host` at the same position.
    pub host: String,
    /// `outbound_domain_port` at the same position.
    pub port: u16,
    /// `outbound_domain_transport` at the same position, if given.
    pub transport: Option<ProxyTransport>,
}

/// How an outbound proxy is reached (`outbound_proxy_transport`, `outbound_domain_transport`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyTransport {
    Udp,
    Tcp,
    /// The proxy takes both: the transport is chosen as if unset, and a UDP request larger
    /// than 1300 bytes goes over TCP (RFC 3261 §18.1.1; decisions §4).
    Auto,
}

impl ProxyTransport {
    pub fn parse(s: &str) -> Option<ProxyTransport> {
        match crate::sansio::Transport::from_token(s.as_bytes()) {
            Some(t) => Some(ProxyTransport::from(t)),
            None => s
                .eq_ignore_ascii_case("auto")
                .then_some(ProxyTransport::Auto),
        }
    }

    /// The transport it imposes (`auto` imposes none).
    pub fn forced(self) -> Option<crate::sansio::Transport> {
        match self {
            ProxyTransport::Udp => Some(crate::sansio::Transport::Udp),
            ProxyTransport::Tcp => Some(crate::sansio::Transport::Tcp),
            ProxyTransport::Auto => None,
        }
    }
}

impl From<crate::sansio::Transport> for ProxyTransport {
    fn from(t: crate::sansio::Transport) -> ProxyTransport {
        match t {
            crate::sansio::Transport::Udp => ProxyTransport::Udp,
            crate::sansio::Transport::Tcp => ProxyTransport::Tcp,
        }
    }
}

impl DomainRoute {
    /// The route of a From host: the first whose domain matches (no sub-domain matching).
    pub fn lookup<'r>(routes: &'r [DomainRoute], from_host: &str) -> Option<&'r DomainRoute> {
        routes
            .iter()
            .find(|r| r.domain.eq_ignore_ascii_case(from_host))
    }
}

/// Where the proxy adds `;rport` to its own Via (`use_rport`, behaviour §4.10.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RportPolicy {
    /// Bit 1: on messages going toward the LAN (incoming direction).
    pub incoming: bool,
    /// Bit 2: on messages going toward the WAN (outgoing direction).
    pub outgoing: bool,
}

impl Config {
    /// The per-domain outbound proxies, in file order: `outbound_domain_name[i]` with
    /// `outbound_domain_host[i]`, `outbound_domain_port[i]` and `outbound_domain_transport[i]`
    /// (that list may be left out).
    ///
    /// Loading rejects lists of different lengths, naming the line of the entry without a
    /// partner, so for a loaded configuration every name has its host and port. A hand-built
    /// `Config` may be short: a missing port means 5060 (as siproxd), a name without a host is
    /// left out and logged.
    pub fn domain_routes(&self) -> Vec<DomainRoute> {
        let hosts = self.outbound_domain_host.len();
        if self.outbound_domain_name.len() > hosts {
            log::error!(target: crate::logging::CONFIG,
                "{} outbound_domain_name but {hosts} outbound_domain_host: names without a host ignored",
                self.outbound_domain_name.len());
        }
        self.outbound_domain_name
            .iter()
            .zip(&self.outbound_domain_host)
            .enumerate()
            .map(|(i, (domain, host))| DomainRoute {
                domain: domain.clone(),
                host: host.clone(),
                port: self
                    .outbound_domain_port
                    .get(i)
                    .copied()
                    .unwrap_or(DEFAULT_SIP_PORT),
                transport: self.outbound_domain_transport.get(i).copied(),
            })
            .collect()
    }

    /// `use_rport` decoded: bit 1 = incoming, bit 2 = outgoing.
    pub fn rport(&self) -> RportPolicy {
        RportPolicy {
            incoming: self.use_rport & 1 != 0,
            outgoing: self.use_rport & 2 != 0,
        }
    }

    /// Whether the built-in RTP relay runs (`rtp_proxy_enable = 1`); with 0 SDP is not
    /// rewritten and no media port is opened. Loading accepts only 0 and 1.
    pub fn relay_enabled(&self) -> bool {
        self.rtp_proxy_enable == 1
    }
}
