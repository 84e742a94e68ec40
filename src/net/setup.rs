//! Builds the sans-IO cores from the configuration, at start and on SIGHUP: reads
//! /etc/resolv.conf, /etc/hosts and `proxy_auth_pwfile`, looks up the interface addresses and
//! draws the random keys. The event loop only gets the result ([`Cores`]) and binds sockets.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use super::event_loop::StartError;
use super::iface;
use super::upkeep::{self, ConfigSource};
use crate::auth::{Authenticator, PasswordFile};
use crate::config::{Config, LoadError};
use crate::dns::{parse_hosts, parse_resolv_conf, Resolver, ResolverConfig};
use crate::proxy::{Addresses, Proxy};
use crate::rtp;

/// Where the event loop binds its sockets, as the configuration and the interfaces say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketPlan {
    /// `sip_listen_port` (0: any free port, for tests).
    pub sip_port: u16,
    pub sip_dscp: u8,
    pub rtp_dscp: u8,
    /// The address of `if_inbound`.
    pub inbound: IpAddr,
    /// The address of `if_outbound`, if it has one now.
    pub outbound: Option<IpAddr>,
    /// The global IPv6 addresses beside the IPv4 ones of dual-stack interfaces.
    pub inbound_alt: Option<IpAddr>,
    pub outbound_alt: Option<IpAddr>,
    /// The interface name of a dynamic `if_outbound`, followed while the loop runs.
    pub outbound_if: Option<String>,
    /// The interface name of `if_inbound` (not an IP literal): its IPv6 address is followed
    /// (a new delegated prefix renumbers the LAN).
    pub inbound_if: Option<String>,
    /// `host_outbound` when it is an IP literal (names are resolved by the proxy core).
    pub host_outbound: Option<IpAddr>,
    /// Where the debug log listens, when `debug_port` is set and `debug_bind` is usable.
    pub debug: Option<SocketAddr>,
    /// SIP over TCP: table size and timers (`max_tcp_connections`, `tcp_*`).
    pub tcp: crate::stream::StreamLimits,
}

/// Everything the event loop runs, built from one configuration.
pub struct Cores {
    pub proxy: Proxy,
    /// The RTP relay table; the loop gives it sockets (`net::relay::Relay`).
    pub table: rtp::Table,
    pub sockets: SocketPlan,
}

/// Looks up the interfaces and builds the proxy core (with its resolver and authenticator)
/// and the relay table. Errors name the directive that is wrong.
pub fn build(config: &Config) -> Result<Cores, StartError> {
    let in_spec = config.if_inbound.as_deref().ok_or(StartError::NoInbound)?;
    let in_addrs = iface::lookup(in_spec)
        .map_err(|e| StartError::Interface("if_inbound", in_spec.to_owned(), e))?;
    let inbound = in_addrs.primary().ok_or(StartError::NoInbound)?;
    let inbound_alt = in_addrs.alt();
    let inbound_if = iface::literal(in_spec)
        .is_none()
        .then(|| in_spec.trim().to_owned());

    let mut outbound_if = None;
    let mut outbound = None;
    let mut outbound_alt = None;
    match config.if_outbound.as_deref() {
        None => log::warn!("if_outbound is not set: only the inbound address is served"),
        Some(spec) => {
            if iface::literal(spec).is_none() {
                outbound_if = Some(spec.trim().to_owned());
            }
            match iface::lookup(spec) {
                Ok(a) => (outbound, outbound_alt) = (a.primary(), a.alt()),
                // A WAN link that is not up yet (PPP) is followed once the loop runs.
                Err(e) if outbound_if.is_some() => log::warn!("if_outbound = {spec}: {e}"),
                Err(e) => return Err(StartError::Interface("if_outbound", spec.to_owned(), e)),
            }
        }
    }
    let host_outbound = config.host_outbound.as_deref().and_then(|h| {
        let lit = iface::literal(h);
        if lit.is_none() {
            log::info!("host_outbound = {h}: resolved by the proxy core (DNS)");
        }
        lit
    });

    let auth = authenticator(config).map_err(StartError::Auth)?;
    let plugins = crate::plugins::build(config).map_err(|e| StartError::Plugin(e.to_string()))?;
    let addrs = Addresses {
        inbound,
        outbound,
        inbound_alt,
        outbound_alt,
    };
    // AAAA records are asked for only when the router has IPv6 (decisions §3).
    let ipv6 = [Some(inbound), outbound, inbound_alt, outbound_alt]
        .iter()
        .flatten()
        .any(IpAddr::is_ipv6);
    let mut proxy = Proxy::new(config.clone(), addrs, resolver(ipv6), auth);
    proxy.set_plugins(plugins);
    proxy.set_stun(stun_client(config).map_err(StartError::Plugin)?);
    if let Some(w) = rtp::dejitter_warning(config.rtp_input_dejitter, config.rtp_output_dejitter) {
        log::warn!("{w}");
    }
    Ok(Cores {
        proxy,
        table: rtp::Table::from_config(config),
        sockets: SocketPlan {
            sip_port: config.sip_listen_port,
            sip_dscp: config.sip_dscp,
            rtp_dscp: config.rtp_dscp,
            inbound,
            outbound,
            inbound_alt,
            outbound_alt,
            outbound_if,
            inbound_if,
            host_outbound,
            debug: debug_listen_addr(config, inbound),
            tcp: crate::stream::StreamLimits::from_config(config),
        },
    })
}

/// The debug log's listen address: `debug_bind`, else the inbound address (not reachable
/// from the WAN side by default). `None` when `debug_port` is 0 or `debug_bind` is invalid.
fn debug_listen_addr(config: &Config, inbound: IpAddr) -> Option<SocketAddr> {
    if config.debug_port == 0 {
        return None;
    }
    let bind = match config
        .debug_bind
        .as_deref()
        .map(|b| (b, b.parse::<IpAddr>()))
    {
        None => None,
        Some((_, Ok(ip))) => Some(ip),
        Some((text, Err(_))) => {
            log::error!(
                "debug_bind = {} is not an IP address; debug port disabled",
                crate::logging::Quoted(text)
            );
            return None;
        }
    };
    Some(crate::debug_log::listen_addr(
        config.debug_port,
        inbound,
        bind,
    ))
}

/// What SIGHUP rebuilds: the settings that apply at once and the authenticator.
pub struct Reloaded {
    pub config: Config,
    pub auth: Option<Authenticator>,
    pub plugins: Vec<Box<dyn crate::plugins::Plugin>>,
    pub stun: Option<crate::plugins::stun::Client>,
    /// The file the configuration was read from.
    pub path: PathBuf,
}

/// SIGHUP (decisions §7): reads the configuration again; names the settings that need a
/// restart and keeps their running values. `None` (and the reason logged) when the new file
/// is invalid: the running configuration stays.
pub fn reload(source: &ConfigSource, running: &Config) -> Option<Reloaded> {
    let loaded = match source.load() {
        Ok(l) => l,
        Err(LoadError::Invalid(diags)) => {
            for d in &diags {
                log::error!("{d}");
            }
            log::error!("SIGHUP: configuration rejected, the running one stays");
            return None;
        }
        Err(e) => {
            log::error!("SIGHUP: {e}; the running configuration stays");
            return None;
        }
    };
    for d in &loaded.diagnostics {
        log::warn!("{d}");
    }
    for name in upkeep::restart_only_changes(running, &loaded.config) {
        log::warn!("SIGHUP: {name} changed; it takes effect after a restart");
    }
    let config = upkeep::keep_restart_only(running, loaded.config);
    let built = authenticator(&config).and_then(|auth| {
        let plugins = crate::plugins::build(&config).map_err(|e| e.to_string())?;
        Ok((auth, plugins, stun_client(&config)?))
    });
    match built {
        Ok((auth, plugins, stun)) => Some(Reloaded {
            config,
            auth,
            plugins,
            stun,
            path: loaded.path,
        }),
        Err(e) => {
            log::error!("SIGHUP: {e}; the running configuration stays");
            None
        }
    }
}

/// plugin_stun's client when it is loaded, with a random seed for its transaction ids.
fn stun_client(config: &Config) -> Result<Option<crate::plugins::stun::Client>, String> {
    if !config.loads("stun") {
        return Ok(None);
    }
    let mut seed = [0u8; 8];
    if !os_random(&mut seed) {
        log::warn!("getrandom failed: STUN transaction ids are predictable");
    }
    crate::plugins::stun::Client::from_config(config, u64::from_le_bytes(seed))
        .map(Some)
        .map_err(|e| e.to_string())
}

/// Random bytes from the kernel (getrandom), for nonce keys and DNS query ids.
pub fn os_random(buf: &mut [u8]) -> bool {
    let mut filled = 0usize;
    while filled < buf.len() {
        let Some(rest) = buf.get_mut(filled..) else {
            return false;
        };
        // SAFETY: the pointer and length describe the writable slice `rest`.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n > 0 {
            filled = filled.saturating_add(n.unsigned_abs());
            continue;
        }
        if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        // Old kernels (before 3.17) have no getrandom: the device gives the same bytes.
        use std::io::Read;
        return std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(rest))
            .is_ok();
    }
    true
}

/// The resolver, configured from /etc/resolv.conf and /etc/hosts (read once at start).
fn resolver(ipv6: bool) -> Resolver {
    let resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let mut seed = [0u8; 8];
    if !os_random(&mut seed) {
        log::warn!("getrandom failed: DNS query ids are predictable");
    }
    Resolver::new(
        ResolverConfig {
            resolv: parse_resolv_conf(&resolv),
            hosts: parse_hosts(&hosts),
            ipv6,
        },
        u64::from_le_bytes(seed),
    )
}

/// Digest authentication of registrar-mode REGISTERs when `proxy_auth_realm` is set.
/// `Err` when authentication is configured but no random key can be had: the caller must not
/// run without it (failing open would let anyone register).
pub fn authenticator(config: &Config) -> Result<Option<Authenticator>, String> {
    let Some(realm) = config.proxy_auth_realm.as_deref() else {
        return Ok(None);
    };
    let mut key = [0u8; 32];
    if !os_random(&mut key) {
        return Err(
            "no random source (getrandom, /dev/urandom) for the proxy_auth nonce key".into(),
        );
    }
    let pwfile = config
        .proxy_auth_pwfile
        .as_deref()
        .map(|p| match std::fs::read_to_string(p) {
            Ok(text) => {
                let (f, skipped) = PasswordFile::parse(&text);
                for line in skipped {
                    log::warn!("{p}:{line}: proxy_auth_pwfile: expected '<user> <password>'");
                }
                f
            }
            Err(e) => {
                log::error!("proxy_auth_pwfile = {p}: {e}; every user will be refused");
                PasswordFile::default()
            }
        });
    Ok(Some(Authenticator::new(
        realm,
        key,
        config.proxy_auth_passwd.as_deref(),
        pwfile,
        config.proxy_auth_sha256,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loopback() -> Config {
        Config {
            if_inbound: Some("127.0.0.1".into()),
            if_outbound: Some("127.0.0.2".into()),
            ..Config::default()
        }
    }

    #[test]
    fn proxy_auth_directives_reach_the_authenticator() {
        let mut cfg = loopback();
        assert!(authenticator(&cfg).unwrap().is_none());
        cfg.proxy_auth_realm = Some("home".into());
        cfg.proxy_auth_passwd = Some("pw".into());
        let a = authenticator(&cfg).unwrap().unwrap();
        let ip = IpAddr::from([192, 168, 1, 10]);
        let md5_only = a.challenges(1, false, ip);
        assert_eq!(md5_only.len(), 1);
        assert!(md5_only[0].contains("realm=\"home\"") && md5_only[0].contains("MD5"));
        cfg.proxy_auth_sha256 = true;
        let both = authenticator(&cfg)
            .unwrap()
            .unwrap()
            .challenges(1, false, ip);
        assert!(both[0].contains("algorithm=SHA-256"), "{both:?}");
    }

    #[test]
    fn the_plan_says_where_to_bind() {
        let mut cfg = loopback();
        cfg.sip_listen_port = 5070;
        cfg.host_outbound = Some("203.0.113.9".into());
        cfg.debug_port = 9999;
        let plan = build(&cfg).unwrap().sockets;
        assert_eq!(plan.sip_port, 5070);
        assert_eq!(plan.inbound, IpAddr::from([127, 0, 0, 1]));
        assert_eq!(plan.outbound, Some(IpAddr::from([127, 0, 0, 2])));
        assert_eq!(plan.outbound_if, None, "a literal is never followed");
        assert_eq!(plan.host_outbound, Some(IpAddr::from([203, 0, 113, 9])));
        assert_eq!(plan.debug, Some("127.0.0.1:9999".parse().unwrap()));
        cfg.debug_bind = Some("not an address".into());
        assert_eq!(build(&cfg).unwrap().sockets.debug, None);
        cfg.debug_port = 0;
        cfg.debug_bind = Some("127.0.0.3".into());
        assert_eq!(build(&cfg).unwrap().sockets.debug, None);
    }

    #[test]
    fn a_missing_wan_interface_is_followed_not_fatal() {
        let mut cfg = loopback();
        cfg.if_outbound = Some("ppp-missing0".into());
        let plan = build(&cfg).unwrap().sockets;
        assert_eq!(plan.outbound, None);
        assert_eq!(plan.outbound_if.as_deref(), Some("ppp-missing0"));
    }
}
