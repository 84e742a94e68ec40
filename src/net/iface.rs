//! Addresses of `if_inbound` / `if_outbound` (behaviour §4.4, decisions §1).
//!
//! A directive names an interface (looked up with getifaddrs; it must be up) or is an IP literal
//! (used as is: handy on loopback and in tests). An interface yields its first IPv4 address and
//! its first IPv6 address that is not link-local (link-local needs a scope and is useless to a
//! proxy), a global one before a unique local one. The choice is the pure function [`select`]; [`lookup`] feeds it the system's list.

use std::ffi::CStr;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One row of the system's interface list (an interface appears once per address family).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfEntry<'a> {
    pub name: &'a str,
    /// `None` for rows without an IP address (e.g. the link-layer row).
    pub addr: Option<IpAddr>,
    pub up: bool,
}

/// The usable addresses of an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IfAddrs {
    pub v4: Option<Ipv4Addr>,
    pub v6: Option<Ipv6Addr>,
}

impl IfAddrs {
    /// The address the SIP socket binds to: IPv4 when there is one (siproxd is IPv4-only),
    /// else IPv6. A second socket binds to [`IfAddrs::alt`].
    pub fn primary(&self) -> Option<IpAddr> {
        self.v4.map(IpAddr::V4).or(self.v6.map(IpAddr::V6))
    }

    /// The global IPv6 address beside the IPv4 one of a dual-stack interface.
    pub fn alt(&self) -> Option<IpAddr> {
        self.v4.and(self.v6).map(IpAddr::V6)
    }
}

/// Why an interface gave no address.
#[derive(Debug)]
pub enum IfError {
    NoSuchInterface(String),
    Down(String),
    NoAddress(String),
    Os(io::Error),
}

impl fmt::Display for IfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IfError::NoSuchInterface(n) => write!(f, "no interface named '{n}'"),
            IfError::Down(n) => write!(f, "interface '{n}' is down"),
            IfError::NoAddress(n) => {
                write!(f, "interface '{n}' has no IPv4 or global IPv6 address")
            }
            IfError::Os(e) => write!(f, "cannot list interfaces: {e}"),
        }
    }
}

impl std::error::Error for IfError {}

/// The IP literal a directive holds, if it is one (then the address never changes).
pub fn literal(spec: &str) -> Option<IpAddr> {
    spec.trim().parse().ok()
}

fn is_link_local(a: &Ipv6Addr) -> bool {
    (a.segments()[0] & 0xffc0) == 0xfe80
}

/// A unique local address (fc00::/7): usable on the LAN, not towards the Internet.
fn is_ula(a: &Ipv6Addr) -> bool {
    (a.segments()[0] & 0xfe00) == 0xfc00
}

/// Picks the addresses of interface `name` from the system's list.
pub fn select<'a>(
    name: &str,
    entries: impl IntoIterator<Item = IfEntry<'a>>,
) -> Result<IfAddrs, IfError> {
    let mut seen = false;
    let mut up = false;
    let mut out = IfAddrs::default();
    for e in entries.into_iter().filter(|e| e.name == name) {
        seen = true;
        if !e.up {
            continue;
        }
        up = true;
        match e.addr {
            Some(IpAddr::V4(a)) if out.v4.is_none() => out.v4 = Some(a),
            // A global address wins over a unique local one (OpenWrt gives the LAN both).
            Some(IpAddr::V6(a))
                if !is_link_local(&a) && out.v6.is_none_or(|cur| is_ula(&cur) && !is_ula(&a)) =>
            {
                out.v6 = Some(a)
            }
            _ => {}
        }
    }
    match (seen, up, out.primary()) {
        (false, _, _) => Err(IfError::NoSuchInterface(name.to_owned())),
        (true, false, _) => Err(IfError::Down(name.to_owned())),
        (true, true, None) => Err(IfError::NoAddress(name.to_owned())),
        (true, true, Some(_)) => Ok(out),
    }
}

/// The addresses of a directive value: an IP literal as is, else the named interface's.
pub fn lookup(spec: &str) -> Result<IfAddrs, IfError> {
    match literal(spec) {
        Some(IpAddr::V4(a)) => Ok(IfAddrs {
            v4: Some(a),
            v6: None,
        }),
        Some(IpAddr::V6(a)) => Ok(IfAddrs {
            v4: None,
            v6: Some(a),
        }),
        None => with_system_interfaces(|entries| select(spec.trim(), entries)),
    }
}

/// Runs `f` over the system's interface list (getifaddrs), freeing it afterwards.
fn with_system_interfaces<R>(
    f: impl FnOnce(&mut dyn Iterator<Item = IfEntry<'_>>) -> Result<R, IfError>,
) -> Result<R, IfError> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs writes a list head we free below with freeifaddrs.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(IfError::Os(io::Error::last_os_error()));
    }
    let mut iter = IfIter {
        cur: head,
        _list: std::marker::PhantomData,
    };
    let result = f(&mut iter);
    // SAFETY: head came from getifaddrs and no entry outlives this call.
    unsafe { libc::freeifaddrs(head) };
    result
}

struct IfIter<'a> {
    cur: *mut libc::ifaddrs,
    _list: std::marker::PhantomData<&'a libc::ifaddrs>,
}

impl<'a> Iterator for IfIter<'a> {
    type Item = IfEntry<'a>;

    fn next(&mut self) -> Option<IfEntry<'a>> {
        loop {
            // SAFETY: cur is null or a node of the live getifaddrs list.
            let node = unsafe { self.cur.as_ref() }?;
            self.cur = node.ifa_next;
            if node.ifa_name.is_null() {
                continue;
            }
            // SAFETY: ifa_name is a NUL-terminated string owned by the list.
            let Ok(name) = unsafe { CStr::from_ptr(node.ifa_name) }.to_str() else {
                continue;
            };
            let up = node.ifa_flags & (libc::IFF_UP as libc::c_uint) != 0;
            // SAFETY: ifa_addr is null or points to a sockaddr of the family it declares.
            let addr = unsafe { sockaddr_ip(node.ifa_addr) };
            return Some(IfEntry { name, addr, up });
        }
    }
}

/// # Safety
/// `sa` must be null or point to a valid sockaddr whose size matches its family.
unsafe fn sockaddr_ip(sa: *const libc::sockaddr) -> Option<IpAddr> {
    // SAFETY: per the contract.
    let family = libc::c_int::from(unsafe { sa.as_ref() }?.sa_family);
    match family {
        libc::AF_INET => {
            // SAFETY: family says this is a sockaddr_in.
            let sin = unsafe { &*sa.cast::<libc::sockaddr_in>() };
            // s_addr holds the address in network order, whatever the host's endianness.
            Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                sin.sin_addr.s_addr,
            ))))
        }
        libc::AF_INET6 => {
            // SAFETY: family says this is a sockaddr_in6.
            let sin6 = unsafe { &*sa.cast::<libc::sockaddr_in6>() };
            Some(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e<'a>(name: &'a str, addr: Option<&str>, up: bool) -> IfEntry<'a> {
        IfEntry {
            name,
            addr: addr.map(|a| a.parse().unwrap()),
            up,
        }
    }

    #[test]
    fn picks_first_v4_and_first_global_v6_of_the_named_interface() {
        let list = [
            e("lan", None, true),
            e("wan", Some("203.0.113.5"), true),
            e("lan", Some("192.168.1.1"), true),
            e("lan", Some("fe80::1"), true),
            e("lan", Some("2001:db8::1"), true),
            e("lan", Some("192.168.2.1"), true),
        ];
        let got = select("lan", list).unwrap();
        assert_eq!(got.v4, Some("192.168.1.1".parse().unwrap()));
        assert_eq!(got.v6, Some("2001:db8::1".parse().unwrap()));
        assert_eq!(got.primary(), Some("192.168.1.1".parse().unwrap()));
    }

    #[test]
    fn a_global_ipv6_address_wins_over_a_unique_local_one() {
        let list = [
            e("br-lan", Some("192.168.1.1"), true),
            e("br-lan", Some("fd12:3456::1"), true),
            e("br-lan", Some("2001:db8:1::1"), true),
            e("br-lan", Some("2001:db8:2::1"), true),
        ];
        let got = select("br-lan", list).unwrap();
        assert_eq!(got.v6, Some("2001:db8:1::1".parse().unwrap()));
        assert_eq!(got.alt(), Some("2001:db8:1::1".parse().unwrap()));
        // Only a unique local one: that one.
        let got = select("br-lan", [list[0], list[1]]).unwrap();
        assert_eq!(got.alt(), Some("fd12:3456::1".parse().unwrap()));
    }

    #[test]
    fn ipv6_only_interface_binds_v6() {
        let got = select("wan", [e("wan", Some("2001:db8::5"), true)]).unwrap();
        assert_eq!(got.primary(), Some("2001:db8::5".parse().unwrap()));
        // Its one address is the primary, not a second one beside it.
        assert_eq!(got.alt(), None);
    }

    #[test]
    fn missing_down_and_addressless_interfaces_are_told_apart() {
        let list = [
            e("ppp0", Some("198.51.100.7"), false),
            e("eth1", None, true),
            e("eth2", Some("fe80::2"), true),
        ];
        assert!(matches!(select("eth9", list), Err(IfError::NoSuchInterface(n)) if n == "eth9"));
        assert!(matches!(select("ppp0", list), Err(IfError::Down(_))));
        assert!(matches!(select("eth1", list), Err(IfError::NoAddress(_))));
        assert!(matches!(select("eth2", list), Err(IfError::NoAddress(_))));
    }

    #[test]
    fn literals_are_used_as_is() {
        assert_eq!(
            lookup("127.0.0.2").unwrap().primary(),
            Some("127.0.0.2".parse().unwrap())
        );
        assert_eq!(
            lookup(" ::1 ").unwrap().primary(),
            Some("::1".parse().unwrap())
        );
        assert_eq!(literal("eth0"), None);
    }

    #[test]
    fn loopback_interface_is_found_on_this_system() {
        let lo = lookup("lo").unwrap();
        assert_eq!(lo.v4, Some(Ipv4Addr::LOCALHOST));
        assert!(matches!(
            lookup("no-such-if0"),
            Err(IfError::NoSuchInterface(_))
        ));
    }
}
