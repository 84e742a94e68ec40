//! What the proxy core needs of the configuration, decoded once from `Config` at start and on
//! SIGHUP: the core reads these typed values and never a directive's raw encoding (bit masks,
//! 0/1 switches, parallel lists).

use crate::acl::{Access, AclList};
use crate::config::Config;

/// A next hop given by name or address, with an optional port (none: RFC 3263 SRV/5060) and
/// the transport its URI asks for (`;transport=tcp`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hop {
    pub host: String,
    pub port: Option<u16>,
    pub transport: Option<crate::sansio::Transport>,
}

pub use crate::config::{DomainRoute, ProxyTransport, RportPolicy};

/// The access lists (`hosts_deny_sip`, `hosts_allow_sip`, `hosts_allow_reg`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AccessLists {
    pub deny_sip: Option<AclList>,
    pub allow_sip: Option<AclList>,
    pub allow_reg: Option<AclList>,
}

impl AccessLists {
    pub fn check(&self, src: std::net::IpAddr) -> Access {
        crate::acl::check(
            self.deny_sip.as_ref(),
            self.allow_sip.as_ref(),
            self.allow_reg.as_ref(),
            src,
        )
    }

    /// Whether `hosts_allow_reg` names `src` explicitly (an empty or absent list names no one).
    pub fn names_registrar_client(&self, src: std::net::IpAddr) -> bool {
        self.allow_reg
            .as_ref()
            .is_some_and(|l| !l.entries.is_empty() && l.contains(src))
    }
}

/// The proxy core's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `sip_listen_port`: written in our Via, Contact and Record-Route, and the port that
    /// makes a URI "ours".
    pub listen_port: u16,
    /// `host_outbound`: the public name or address, when the router is behind another NAT.
    pub host_outbound: Option<String>,
    pub rport: RportPolicy,
    /// `rtp_proxy_enable = 1`: SDP is rewritten and media relayed.
    pub relay: bool,
    /// `outbound_proxy_host`/`_port` (port 0 or absent: 5060).
    pub outbound_proxy: Option<Hop>,
    pub outbound_proxy_transport: Option<ProxyTransport>,
    pub domain_routes: Vec<DomainRoute>,
    pub ua_string: Option<String>,
    pub obscure_loops: bool,
    pub default_expires: u32,
    pub mask_host: Vec<String>,
    pub masked_host: Vec<String>,
    pub access: AccessLists,
    pub max_registrations: usize,
    /// `outbound_family`: `Some(true)` IPv6, `Some(false)` IPv4, `None` follow the next hop.
    pub outbound_family: Option<bool>,
}

impl Settings {
    pub fn from_config(cfg: &Config) -> Settings {
        Settings {
            listen_port: cfg.sip_listen_port,
            host_outbound: cfg.host_outbound.clone(),
            rport: cfg.rport(),
            relay: cfg.relay_enabled(),
            outbound_proxy: cfg.outbound_proxy_host.as_ref().map(|host| Hop {
                host: host.clone(),
                port: Some(match cfg.outbound_proxy_port {
                    0 => 5060,
                    p => p,
                }),
                transport: cfg
                    .outbound_proxy_transport
                    .and_then(ProxyTransport::forced),
            }),
            outbound_proxy_transport: cfg.outbound_proxy_transport,
            domain_routes: cfg.domain_routes(),
            ua_string: cfg.ua_string.clone(),
            obscure_loops: cfg.obscure_loops,
            default_expires: cfg.default_expires,
            mask_host: cfg.mask_host.clone(),
            masked_host: cfg.masked_host.clone(),
            access: AccessLists {
                deny_sip: cfg.hosts_deny_sip.clone(),
                allow_sip: cfg.hosts_allow_sip.clone(),
                allow_reg: cfg.hosts_allow_reg.clone(),
            },
            max_registrations: cfg.max_registrations,
            outbound_family: match cfg.outbound_family {
                4 => Some(false),
                6 => Some(true),
                _ => None,
            },
        }
    }

    /// The outbound proxy for a request from a phone of `from_domain`: the per-domain one,
    /// else the global one.
    pub fn outbound_proxy_for(&self, from_domain: &str) -> Option<Hop> {
        match DomainRoute::lookup(&self.domain_routes, from_domain) {
            Some(r) => Some(Hop {
                host: r.host.clone(),
                port: Some(r.port),
                transport: r.transport.and_then(ProxyTransport::forced),
            }),
            None => self.outbound_proxy.clone(),
        }
    }

    /// Whether any outbound proxy is configured `auto`: only then can `takes_tcp` hold, and
    /// only then is a request's From domain looked at for it.
    pub fn any_takes_tcp(&self) -> bool {
        let auto = Some(ProxyTransport::Auto);
        self.outbound_proxy_transport == auto
            || self.domain_routes.iter().any(|r| r.transport == auto)
    }

    /// Whether `hop` is the outbound proxy of `from_domain` and configured `auto`: known to
    /// take TCP too, so a request too large for UDP may go to it over TCP (decisions §4).
    pub fn takes_tcp(&self, from_domain: &str, hop: &Hop) -> bool {
        let (transport, host, port) = match DomainRoute::lookup(&self.domain_routes, from_domain) {
            Some(r) => (r.transport, r.host.as_str(), Some(r.port)),
            None => match &self.outbound_proxy {
                Some(p) => (self.outbound_proxy_transport, p.host.as_str(), p.port),
                None => return false,
            },
        };
        transport == Some(ProxyTransport::Auto)
            && host.eq_ignore_ascii_case(&hop.host)
            && port.unwrap_or(5060) == hop.port.unwrap_or(5060)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directive_encodings_are_decoded() {
        let cfg = Config {
            use_rport: 2,
            rtp_proxy_enable: 0,
            outbound_proxy_host: Some("proxy.example.net".into()),
            outbound_proxy_port: 0,
            outbound_domain_name: vec!["a.example".into(), "b.example".into()],
            outbound_domain_host: vec!["pa.example".into()],
            outbound_domain_port: vec![5070],
            ..Config::default()
        };
        let s = Settings::from_config(&cfg);
        assert_eq!(
            s.rport,
            RportPolicy {
                incoming: false,
                outgoing: true
            }
        );
        assert!(!s.relay);
        assert_eq!(
            s.outbound_proxy_for("A.EXAMPLE"),
            Some(Hop {
                host: "pa.example".into(),
                port: Some(5070),
                transport: None,
            })
        );
        // b.example has no host: it falls back to the global proxy (siproxd used none at all).
        assert_eq!(
            s.outbound_proxy_for("b.example"),
            Some(Hop {
                host: "proxy.example.net".into(),
                port: Some(5060),
                transport: None,
            })
        );
        assert_eq!(s.domain_routes.len(), 1);
    }
}
