//! Access control lists (`hosts_allow_reg`, `hosts_allow_sip`, `hosts_deny_sip`, behaviour §4.2).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One ACL entry: a network in CIDR form. An entry without `/prefix` is a single host
/// (decisions §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    /// Whether `ip` lies in this network. Host bits set in `addr` are ignored, as siproxd masks
    /// both sides.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let p = self.prefix;
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => v4_match(net, ip, p),
            (IpAddr::V6(net), IpAddr::V6(ip)) => v6_match(net, ip, p),
            // Dual-stack sockets report IPv4 peers as ::ffff:a.b.c.d.
            (IpAddr::V4(net), IpAddr::V6(ip)) => {
                ip.to_ipv4_mapped().is_some_and(|v4| v4_match(net, v4, p))
            }
            (IpAddr::V6(net), IpAddr::V4(ip)) => v6_match(net, ip.to_ipv6_mapped(), p),
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

fn active(l: Option<&AclList>) -> Option<&AclList> {
    l.filter(|l| !l.is_empty())
}

fn v4_match(net: Ipv4Addr, ip: Ipv4Addr, prefix: u8) -> bool {
    let mask = u32::MAX
        .checked_shl(32u32.saturating_sub(u32::from(prefix)))
        .unwrap_or(0);
    (u32::from(net) & mask) == (u32::from(ip) & mask)
}

fn v6_match(net: Ipv6Addr, ip: Ipv6Addr, prefix: u8) -> bool {
    let mask = u128::MAX
        .checked_shl(128u32.saturating_sub(u32::from(prefix)))
        .unwrap_or(0);
    (u128::from(net) & mask) == (u128::from(ip) & mask)
}

/// Why an ACL value was rejected; always names the offending entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclError {
    /// The entry as written (trimmed).
    pub entry: String,
    pub reason: AclErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclErrorKind {
    /// Nothing between two commas (or before/after one).
    Empty,
    /// Looks like a host name: siproxd resolves those, siproxd-rs does no DNS at config time.
    Hostname,
    /// Neither an IPv4 nor an IPv6 address.
    BadAddress,
    /// The part after `/` is not a decimal number.
    BadPrefix,
    /// Prefix longer than 32 (IPv4) or 128 (IPv6).
    PrefixTooLong,
}

impl fmt::Display for AclError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.reason {
            AclErrorKind::Empty => "empty entry (two commas in a row or a trailing comma)",
            AclErrorKind::Hostname => {
                "host names are not resolved in ACLs; use an IP address or a network (addr/prefix)"
            }
            AclErrorKind::BadAddress => "not an IPv4 or IPv6 address",
            AclErrorKind::BadPrefix => "prefix length after '/' must be a decimal number",
            AclErrorKind::PrefixTooLong => "prefix length longer than the address (32 or 128)",
        };
        write!(f, "ACL entry '{}': {}", self.entry, what)
    }
}

/// A parsed ACL directive value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AclList {
    pub entries: Vec<Cidr>,
}

impl AclList {
    /// Parses `addr[/prefix][, addr[/prefix]...]`. Spaces around entries are tolerated (siproxd
    /// forbids them); an entry without prefix is a single host. The first bad entry is returned.
    pub fn parse(value: &str) -> Result<AclList, AclError> {
        let mut entries = Vec::new();
        for raw in value.split(',') {
            entries.push(parse_entry(raw.trim())?);
        }
        Ok(AclList { entries })
    }

    /// Whether any entry contains `ip`. IPv4-mapped IPv6 sources match IPv4 entries.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.entries.iter().any(|c| c.contains(ip))
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn parse_entry(entry: &str) -> Result<Cidr, AclError> {
    let err = |reason| AclError {
        entry: entry.to_string(),
        reason,
    };
    if entry.is_empty() {
        return Err(err(AclErrorKind::Empty));
    }
    let (addr_text, prefix_text) = match entry.split_once('/') {
        Some((a, p)) => (a.trim(), Some(p.trim())),
        None => (entry, None),
    };
    let addr: IpAddr = match addr_text.parse() {
        Ok(a) => a,
        Err(_) => {
            let hostname_like = !addr_text.is_empty()
                && addr_text.chars().any(|c| c.is_ascii_alphabetic())
                && addr_text
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
                && !addr_text.contains(':');
            return Err(err(if hostname_like {
                AclErrorKind::Hostname
            } else {
                AclErrorKind::BadAddress
            }));
        }
    };
    let max: u8 = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix_text {
        None => max,
        Some(p) => {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err(AclErrorKind::BadPrefix));
            }
            match p.parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => return Err(err(AclErrorKind::PrefixTooLong)),
            }
        }
    };
    Ok(Cidr { addr, prefix })
}

/// Permissions of one packet source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Access {
    /// May send SIP other than REGISTER (requests and responses).
    pub sip: bool,
    /// May REGISTER.
    pub reg: bool,
}

/// The evaluation of behaviour §4.2. An absent (`None`) or empty list restricts nothing;
/// a deny match wins over everything; an `hosts_allow_reg` match also grants SIP.
pub fn check(
    deny: Option<&AclList>,
    allow_sip: Option<&AclList>,
    allow_reg: Option<&AclList>,
    src: IpAddr,
) -> Access {
    if let Some(d) = active(deny) {
        if d.contains(src) {
            return Access::default();
        }
    }
    let mut access = Access::default();
    match active(allow_sip) {
        Some(l) => access.sip = l.contains(src),
        None => access.sip = true,
    }
    match active(allow_reg) {
        Some(l) => {
            if l.contains(src) {
                access.reg = true;
                access.sip = true;
            }
        }
        None => access.reg = true,
    }
    access
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn acl(s: &str) -> AclList {
        AclList::parse(s).unwrap()
    }

    #[test]
    fn entry_without_prefix_is_a_single_host() {
        let l = acl("10.0.0.5");
        assert_eq!(
            l.entries,
            vec![Cidr {
                addr: ip("10.0.0.5"),
                prefix: 32
            }]
        );
        assert!(l.contains(ip("10.0.0.5")));
        assert!(!l.contains(ip("10.0.0.6")));
        let l6 = acl("2001:db8::1");
        assert_eq!(l6.entries[0].prefix, 128);
        assert!(l6.contains(ip("2001:db8::1")));
        assert!(!l6.contains(ip("2001:db8::2")));
    }

    #[test]
    fn networks_match_by_prefix() {
        let l = acl("192.168.0.0/16, 10.0.0.0/8 ,2001:db8::/32");
        assert_eq!(l.entries.len(), 3);
        assert!(l.contains(ip("192.168.77.1")));
        assert!(l.contains(ip("10.255.0.1")));
        assert!(!l.contains(ip("172.16.0.1")));
        assert!(l.contains(ip("2001:db8:ffff::1")));
        assert!(!l.contains(ip("2001:db9::1")));
    }

    #[test]
    fn host_bits_in_network_are_ignored_and_prefix_zero_matches_all() {
        assert!(acl("10.1.2.3/8").contains(ip("10.200.0.1")));
        let all = acl("0.0.0.0/0");
        assert!(all.contains(ip("203.0.113.9")));
        assert!(acl("::/0").contains(ip("2001:db8::9")));
    }

    #[test]
    fn ipv4_mapped_sources_match_ipv4_entries() {
        let l = acl("192.168.1.0/24");
        assert!(l.contains(ip("::ffff:192.168.1.20")));
        assert!(!l.contains(ip("::ffff:192.168.2.20")));
        // And an IPv6-written mapped network matches a plain IPv4 source.
        assert!(acl("::ffff:10.0.0.0/104").contains(ip("10.9.9.9")));
    }

    #[test]
    fn bad_entries_are_errors_naming_the_entry() {
        let e = AclList::parse("10.0.0.0/8,foo.example.com").unwrap_err();
        assert_eq!(e.entry, "foo.example.com");
        assert_eq!(e.reason, AclErrorKind::Hostname);
        assert!(e.to_string().contains("use an IP address"));
        assert_eq!(
            AclList::parse("10.0.0.0/33").unwrap_err().reason,
            AclErrorKind::PrefixTooLong
        );
        assert_eq!(
            AclList::parse("10.0.0.0/abc").unwrap_err().reason,
            AclErrorKind::BadPrefix
        );
        assert_eq!(
            AclList::parse("10.0.0.0/").unwrap_err().reason,
            AclErrorKind::BadPrefix
        );
        assert_eq!(
            AclList::parse("10.0.0.256").unwrap_err().reason,
            AclErrorKind::BadAddress
        );
        assert_eq!(
            AclList::parse("10.0.0.1,").unwrap_err().reason,
            AclErrorKind::Empty
        );
        assert_eq!(
            AclList::parse("::1/129").unwrap_err().reason,
            AclErrorKind::PrefixTooLong
        );
        let e = AclList::parse("1.2.3.4, 5.6.7/24").unwrap_err();
        assert_eq!(e.entry, "5.6.7/24");
    }

    #[test]
    fn check_without_lists_allows_everything() {
        let a = check(None, None, None, ip("203.0.113.1"));
        assert_eq!(
            a,
            Access {
                sip: true,
                reg: true
            }
        );
        let empty = AclList::default();
        let a = check(Some(&empty), Some(&empty), Some(&empty), ip("203.0.113.1"));
        assert_eq!(
            a,
            Access {
                sip: true,
                reg: true
            }
        );
    }

    #[test]
    fn deny_wins() {
        let deny = acl("203.0.113.0/24");
        let allow = acl("0.0.0.0/0");
        let a = check(Some(&deny), Some(&allow), Some(&allow), ip("203.0.113.7"));
        assert_eq!(
            a,
            Access {
                sip: false,
                reg: false
            }
        );
        let a = check(Some(&deny), Some(&allow), Some(&allow), ip("198.51.100.7"));
        assert_eq!(
            a,
            Access {
                sip: true,
                reg: true
            }
        );
    }

    #[test]
    fn allow_sip_restricts_sip_only() {
        let sip = acl("10.0.0.5");
        let a = check(None, Some(&sip), None, ip("10.0.0.5"));
        assert_eq!(
            a,
            Access {
                sip: true,
                reg: true
            }
        );
        let a = check(None, Some(&sip), None, ip("10.0.0.6"));
        assert_eq!(
            a,
            Access {
                sip: false,
                reg: true
            }
        );
    }

    #[test]
    fn allow_reg_match_grants_sip_too() {
        let sip = acl("10.0.0.5");
        let reg = acl("192.168.1.0/24");
        let a = check(None, Some(&sip), Some(&reg), ip("192.168.1.9"));
        assert_eq!(
            a,
            Access {
                sip: true,
                reg: true
            }
        );
        let a = check(None, Some(&sip), Some(&reg), ip("10.0.0.5"));
        assert_eq!(
            a,
            Access {
                sip: true,
                reg: false
            }
        );
        let a = check(None, Some(&sip), Some(&reg), ip("8.8.8.8"));
        assert_eq!(
            a,
            Access {
                sip: false,
                reg: false
            }
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn parse_never_panics(text in "[ -~]{0,80}") {
                let _ = AclList::parse(&text);
            }

            #[test]
            fn v4_network_contains_exactly_its_prefix(a in any::<u32>(), b in any::<u32>(), prefix in 0u8..=32) {
                let net = Ipv4Addr::from(a);
                let l = AclList::parse(&format!("{net}/{prefix}")).unwrap();
                let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) };
                let expect = (a & mask) == (b & mask);
                prop_assert_eq!(l.contains(IpAddr::V4(Ipv4Addr::from(b))), expect);
                prop_assert_eq!(l.contains(IpAddr::V6(Ipv4Addr::from(b).to_ipv6_mapped())), expect);
            }
        }
    }
}
