//! Asynchronous DNS resolution, sans-IO (decisions §3, behaviour §4.4).
//!
//! * `wire`: query building and reply parsing (A, AAAA, SRV, CNAME chains).
//! * `conf`: `/etc/hosts` and `/etc/resolv.conf` text parsers.
//! * `resolver`: the `Resolver` with its cache, failure blacklist and retransmissions; the shell
//!   owns the socket and the clock.

pub mod conf;
pub mod resolver;
pub mod wire;

pub use conf::{parse_hosts, parse_resolv_conf, Hosts, ResolvConf};
pub use resolver::{Addrs, Failure, Lookup, Resolved, Resolver, ResolverConfig, SIP_DEFAULT_PORT};
