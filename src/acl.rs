//! Access control lists (`hosts_allow_reg`, `hosts_allow_sip`, `hosts_deny_sip`, behaviour §4.2).

use std::net::IpAddr;

/// One ACL entry: a network in CIDR form. An entry without `/prefix` is a single host
/// (decisions §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

/// A parsed ACL directive value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AclList {
    pub entries: Vec<Cidr>,
}
