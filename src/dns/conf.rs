//! `/etc/hosts` and `/etc/resolv.conf` parsers. The shell reads the files and passes the text.

use core::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV6};

use super::wire::{validate_name, Name};
use crate::limits::{DNS_HOSTS_MAX, DNS_MAX_ADDRS, DNS_MAX_NAMESERVERS};
use crate::logging::{self, Quoted};

/// Nameservers and retry policy of resolv.conf (glibc defaults and bounds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvConf {
    /// Never empty: 127.0.0.1:53 when the file names none.
    pub nameservers: heapless::Vec<SocketAddr, DNS_MAX_NAMESERVERS>,
    /// Seconds to wait for one reply (`options timeout:`), 1..=30, default 5.
    pub timeout_secs: u32,
    /// Rounds over all nameservers (`options attempts:`), 1..=5, default 2.
    pub attempts: u32,
}

const DEFAULT_TIMEOUT_SECS: u32 = 5;
const MAX_TIMEOUT_SECS: u32 = 30;
const DEFAULT_ATTEMPTS: u32 = 2;
const MAX_ATTEMPTS: u32 = 5;
const DNS_PORT: u16 = 53;

impl Default for ResolvConf {
    fn default() -> Self {
        let mut nameservers = heapless::Vec::new();
        let _ = nameservers.push(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), DNS_PORT));
        ResolvConf {
            nameservers,
            timeout_secs: DEFAULT_TIMEOUT_SECS,
            attempts: DEFAULT_ATTEMPTS,
        }
    }
}

/// Parses an address that may carry a numeric IPv6 zone (`fe80::1%2`).
fn parse_addr(text: &str, port: u16) -> Option<SocketAddr> {
    match text.split_once('%') {
        None => text
            .parse::<IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, port)),
        Some((ip, zone)) => {
            let ip = ip.parse().ok()?;
            let scope = zone.parse().ok()?;
            Some(SocketAddr::V6(SocketAddrV6::new(ip, port, 0, scope)))
        }
    }
}

fn strip_comment(line: &str) -> &str {
    let end = line.find(['#', ';']).unwrap_or(line.len());
    line.get(..end).unwrap_or("")
}

/// Parses resolv.conf text: `nameserver` lines (first three kept) and `options timeout:N
/// attempts:N`. Unknown lines are ignored, as the C library does.
pub fn parse_resolv_conf(text: &str) -> ResolvConf {
    let mut conf = ResolvConf::default();
    conf.nameservers.clear();
    for line in text.lines() {
        let mut words = strip_comment(line).split_whitespace();
        match words.next() {
            Some("nameserver") => {
                let Some(addr) = words.next().and_then(|w| parse_addr(w, DNS_PORT)) else {
                    log::warn!("resolv.conf: unusable nameserver line {}", Quoted(line));
                    continue;
                };
                if conf.nameservers.push(addr).is_err() {
                    log::debug!(target: logging::DNS, "resolv.conf: nameserver {addr} beyond the first {DNS_MAX_NAMESERVERS} ignored");
                }
            }
            Some("options") => {
                for opt in words {
                    if let Some(v) = opt
                        .strip_prefix("timeout:")
                        .and_then(|v| v.parse::<u32>().ok())
                    {
                        conf.timeout_secs = v.clamp(1, MAX_TIMEOUT_SECS);
                    } else if let Some(v) = opt
                        .strip_prefix("attempts:")
                        .and_then(|v| v.parse::<u32>().ok())
                    {
                        conf.attempts = v.clamp(1, MAX_ATTEMPTS);
                    }
                }
            }
            _ => {}
        }
    }
    if conf.nameservers.is_empty() {
        let _ = conf
            .nameservers
            .push(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), DNS_PORT));
    }
    conf
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct HostEntry {
    name: Name,
    addr: IpAddr,
}

/// The (name, address) pairs of /etc/hosts, at most `DNS_HOSTS_MAX`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hosts {
    entries: Vec<HostEntry>,
}

impl Hosts {
    /// Addresses of `name` (case-insensitive, trailing dot ignored) in file order.
    pub fn lookup(&self, name: &str) -> heapless::Vec<IpAddr, DNS_MAX_ADDRS> {
        let name = name.strip_suffix('.').unwrap_or(name);
        let mut out = heapless::Vec::new();
        for e in self
            .entries
            .iter()
            .filter(|e| e.name.eq_ignore_ascii_case(name))
        {
            if !out.contains(&e.addr) && out.push(e.addr).is_err() {
                break;
            }
        }
        out
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Parses /etc/hosts text: `address name [aliases...]`, `#` comments. Malformed lines are
/// skipped; entries beyond `DNS_HOSTS_MAX` are dropped with a warning.
pub fn parse_hosts(text: &str) -> Hosts {
    let mut hosts = Hosts::default();
    let mut dropped = 0usize;
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        let Some(addr) = words.next().and_then(|w| parse_addr(w, 0)) else {
            continue;
        };
        for word in words {
            let mut name = Name::new();
            if validate_name(word).is_err() {
                log::debug!(target: logging::DNS, "hosts: invalid name {} skipped", Quoted(word));
                continue;
            }
            for c in word.strip_suffix('.').unwrap_or(word).chars() {
                // validate_name admitted only ASCII within DNS_NAME_MAX
                let _ = name.push(c.to_ascii_lowercase());
            }
            if hosts.entries.len() >= DNS_HOSTS_MAX {
                dropped += 1;
                continue;
            }
            hosts.entries.push(HostEntry {
                name,
                addr: addr.ip(),
            });
        }
    }
    if dropped > 0 {
        log::warn!("hosts: {dropped} entries beyond the first {DNS_HOSTS_MAX} ignored");
    }
    hosts
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_nameservers_and_options() {
        let c = parse_resolv_conf(
            "# generated\nsearch lan\nnameserver 192.168.1.1\nnameserver  2001:db8::53 # v6\n\
             nameserver fe80::1%3\nnameserver 10.0.0.9\noptions rotate timeout:2 attempts:4\n",
        );
        assert_eq!(
            c.nameservers.as_slice(),
            &[
                "192.168.1.1:53".parse::<SocketAddr>().unwrap(),
                "[2001:db8::53]:53".parse().unwrap(),
                "[fe80::1%3]:53".parse().unwrap(),
            ]
        );
        assert_eq!((c.timeout_secs, c.attempts), (2, 4));
    }

    #[test]
    fn resolv_conf_defaults_and_bounds() {
        let c = parse_resolv_conf("nameserver bogus\noptions timeout:0 attempts:99\n");
        assert_eq!(
            c.nameservers.as_slice(),
            &["127.0.0.1:53".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!((c.timeout_secs, c.attempts), (1, 5));
        assert_eq!(parse_resolv_conf(""), ResolvConf::default());
        assert_eq!(ResolvConf::default().timeout_secs, 5);
        assert_eq!(ResolvConf::default().attempts, 2);
    }

    #[test]
    fn hosts_lookup() {
        let h = parse_hosts(
            "127.0.0.1 localhost\n::1 localhost ip6-localhost\n# 1.2.3.4 hidden\n\
             192.168.1.10  PBX.lan pbx  # the phone system\nnot-an-ip name\n10.0.0.1\n192.168.1.11 pbx\n",
        );
        assert_eq!(h.len(), 6);
        let v: Vec<IpAddr> = h.lookup("localhost").to_vec();
        assert_eq!(
            v,
            vec![
                "127.0.0.1".parse::<IpAddr>().unwrap(),
                "::1".parse().unwrap()
            ]
        );
        let v: Vec<IpAddr> = h.lookup("PBX.").to_vec();
        assert_eq!(
            v,
            vec![
                "192.168.1.10".parse::<IpAddr>().unwrap(),
                "192.168.1.11".parse().unwrap()
            ]
        );
        assert!(h
            .lookup("pbx.lan")
            .contains(&"192.168.1.10".parse().unwrap()));
        assert!(h.lookup("hidden").is_empty());
        assert!(h.lookup("name").is_empty());
    }

    #[test]
    fn hosts_capacity_bounded() {
        let text: String = (0..DNS_HOSTS_MAX + 10)
            .map(|i| format!("10.0.{}.{} h{i}\n", i / 256, i % 256))
            .collect();
        let h = parse_hosts(&text);
        assert_eq!(h.len(), DNS_HOSTS_MAX);
        assert!(h.lookup(&format!("h{}", DNS_HOSTS_MAX - 1)).len() == 1);
        assert!(h.lookup(&format!("h{}", DNS_HOSTS_MAX)).is_empty());
    }
}
