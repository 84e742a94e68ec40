//! `wan_request_rate_limit` (decisions §3): requests from one Internet-side source beyond
//! N per second are dropped before they are parsed, so a scanner cannot make the proxy spend
//! CPU or fill its tables. A token bucket per source (burst: one second's worth) in a fixed
//! table of [`limits::RATE_LIMIT_SOURCES`]; the source unused longest makes room for a new
//! one. Sans-IO and allocation-free.

use std::net::{IpAddr, Ipv6Addr};

use crate::limits;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    ip: IpAddr,
    /// Thousandths of a request.
    tokens: u64,
    last_ms: u64,
    /// Dropped since the source went over the limit (0: it is within it).
    over: u64,
}

/// The per-source buckets.
#[derive(Debug)]
pub struct RateLimit {
    per_s: u64,
    buckets: Box<[Option<Bucket>]>,
}

impl RateLimit {
    /// `per_s` requests per second and source; 0 = off.
    pub fn new(per_s: u32) -> RateLimit {
        RateLimit {
            per_s: u64::from(per_s),
            buckets: vec![
                None;
                if per_s == 0 {
                    0
                } else {
                    limits::RATE_LIMIT_SOURCES
                }
            ]
            .into_boxed_slice(),
        }
    }

    /// A new limit (SIGHUP); the buckets are kept when it stays on.
    pub fn set(&mut self, per_s: u32) {
        if (per_s == 0) != (self.per_s == 0) {
            *self = RateLimit::new(per_s);
        }
        self.per_s = u64::from(per_s);
    }

    /// Whether a request from `ip` at `now_ms` is within the limit. The first drop and the
    /// end of an episode are logged, not every drop.
    pub fn allow(&mut self, now_ms: u64, ip: IpAddr) -> bool {
        if self.per_s == 0 {
            return true;
        }
        let ip = source_key(ip);
        let prefix = if ip.is_ipv6() { "/64" } else { "" };
        let full = self.per_s.saturating_mul(1000);
        let mut victim = 0;
        let (mut found, mut free) = (None, None);
        let mut oldest = u64::MAX;
        for (i, b) in self.buckets.iter().enumerate() {
            match b {
                Some(b) if b.ip == ip => {
                    found = Some(i);
                    break;
                }
                Some(b) if b.last_ms < oldest => {
                    oldest = b.last_ms;
                    victim = i;
                }
                Some(_) => {}
                None => free = free.or(Some(i)),
            }
        }
        let i = found.or(free).unwrap_or(victim);
        let Some(slot) = self.buckets.get_mut(i) else {
            return true;
        };
        let b = match slot {
            Some(b) if found.is_some() => b,
            _ => slot.insert(Bucket {
                ip,
                tokens: full,
                last_ms: now_ms,
                over: 0,
            }),
        };
        let earned = now_ms.saturating_sub(b.last_ms).saturating_mul(self.per_s);
        b.tokens = b.tokens.saturating_add(earned).min(full);
        b.last_ms = now_ms;
        if b.tokens >= 1000 {
            b.tokens -= 1000;
            if b.over > 0 {
                log::info!(
                    "wan_request_rate_limit: {ip}{prefix} back within {} requests/s ({} dropped)",
                    self.per_s,
                    b.over
                );
                b.over = 0;
            }
            return true;
        }
        if b.over == 0 {
            log::warn!(
                "wan_request_rate_limit: {ip}{prefix} sends more than {} requests/s: dropping them",
                self.per_s
            );
        }
        b.over = b.over.saturating_add(1);
        false
    }
}

/// The source a request counts for: an IPv4 address, or an IPv6 address's /64 — one
/// subscriber's network, whose hosts pick addresses in it at will (RFC 8981): a flood rotating
/// through them would otherwise get a fresh allowance per address and push every other source
/// out of the fixed table.
pub(crate) fn source_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a) & !u128::from(u64::MAX))),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_one_second_then_the_rate() {
        let mut r = RateLimit::new(10);
        let a: IpAddr = "203.0.113.7".parse().unwrap();
        let b: IpAddr = "2001:db8::7".parse().unwrap();
        let allowed = (0..100).filter(|_| r.allow(1000, a)).count();
        assert_eq!(allowed, 10);
        assert!(r.allow(1000, b), "another source has its own bucket");
        // 5000 requests/s for 5 s: one second's burst plus 10 per second.
        let mut ok = 0;
        for ms in 0..5000u64 {
            for _ in 0..5 {
                ok += usize::from(r.allow(2000 + ms, a));
            }
        }
        assert!((50..=61).contains(&ok), "{ok}");
    }

    #[test]
    fn off_allows_everything_and_the_table_is_bounded() {
        let mut r = RateLimit::new(0);
        assert!((0..10_000).all(|_| r.allow(0, "192.0.2.1".parse().unwrap())));
        let mut r = RateLimit::new(1);
        for i in 0..10_000u32 {
            assert!(r.allow(u64::from(i), IpAddr::from(i.to_be_bytes())));
        }
        assert_eq!(r.buckets.len(), limits::RATE_LIMIT_SOURCES);
        // The last source is still tracked: its second request within the second is over.
        assert!(!r.allow(9_999, IpAddr::from(9_999u32.to_be_bytes())));
    }
}
