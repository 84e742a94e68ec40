//! Asynchronous DNS resolution, sans-IO (decisions §3, behaviour §4.4, RFC 3263 §4.2).
//!
//! * `wire`: query building and reply parsing (A, AAAA, SRV, CNAME chains, SOA negative TTL).
//! * `conf`: `/etc/hosts` and `/etc/resolv.conf` text parsers.
//! * `resolver`: the `Resolver` with its cache, failure blacklist and retransmissions.
//!
//! The shell owns one UDP socket (ephemeral port, same family as the nameservers) and the clock:
//! 1. `Resolver::new(ResolverConfig { resolv: parse_resolv_conf(text), hosts: parse_hosts(text),
//!    ipv6 }, seed_from_getrandom)`.
//! 2. `resolve(now_ms, host, port, token)`: `Ready` / `Failed` at once, or `Pending`.
//! 3. After any call: send every `poll_transmit(&mut buf)` datagram to the address it names.
//! 4. Datagrams read from the socket go to `handle_response(now_ms, from, bytes)`; at the
//!    deadline of `poll_timeout()` call `handle_timeout(now_ms)`.
//! 5. Drain `poll_event()`: one `Resolved { user_token, result }` per `Pending` lookup.
//!
//! Differences from siproxd's cache: positive entries live for the record TTL clamped to
//! `DNS_TTL_MIN_SECS..=DNS_TTL_MAX_SECS` (not a flat 60 s); a failure is cached for
//! `DNS_NEGATIVE_SECS` instead of being re-queried on every use. The blacklist rule is siproxd's:
//! `DNS_ATTEMPTS` failures in a row, each within `DNS_FAILURE_WINDOW_SECS` of the previous one,
//! make lookups fail at once for `DNS_BAD_AGE_SECS`.

pub mod conf;
pub mod resolver;
pub mod wire;

pub use conf::{parse_hosts, parse_resolv_conf, Hosts, ResolvConf};
pub use resolver::{Addrs, Failure, Lookup, Resolved, Resolver, ResolverConfig, SIP_DEFAULT_PORT};
