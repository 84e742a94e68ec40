//! plugin_blacklist (behaviour §8.2, decisions §5): sources that keep failing to register
//! are blocked; the user may block addresses by hand. Unlike the other plugins it sits in
//! front of the pipeline (`Proxy::screen`): a blocked source's datagram is dropped before
//! anything but its source address is looked at.
//!
//! Sans-IO: a fixed table of [`limits::BLACKLIST_ENTRIES`] sources, fed failures and packets
//! with a `now`; the shell reads and writes the state file ([`Blacklist::save`],
//! [`Blacklist::restore`]) and the manual file ([`parse_manual`]).
//!
//! Keyed by source address alone (siproxd: address and From URI), so the check needs no
//! parsing and one address trying many user names is caught too. Every time in the table is
//! a deadline (when the entry lapses), so the state file carries it as Unix time.

use std::fmt::Write as _;
use std::net::IpAddr;

use crate::config::Config;
use crate::limits;
// An IPv6 source is its /64, as for the rate limit: a guesser rotating through the addresses
// of its network would otherwise get `hitcount` tries on each.
use crate::ratelimit::source_key;

/// A failure record is forgotten after a day without failures (siproxd: a day idle), ms.
const FORGET_MS: u64 = 86_400_000;
/// A blocked source's refreshed deadline is written out at most this often (ms).
const RESAVE_MS: u64 = 60_000;
/// First line of the state file.
const STATE_HEADER: &str = "siproxd-rs blacklist 1";
/// siproxd's default `plugin_blacklist_dbpath`.
pub const DEFAULT_DBPATH: &str = "/var/lib/siproxd/blacklist.sqlite";

/// One source with failed registrations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub ip: IpAddr,
    pub failures: u32,
    pub blocked: bool,
    /// When the entry lapses (monotonic ms): a blocked source is unblocked, an unblocked one
    /// forgotten. `u64::MAX`: never (`duration = 0`).
    pub until: u64,
    /// Datagrams dropped since it was blocked.
    pub dropped: u64,
    /// `until` as last saved (a refresh is saved only when it moved enough).
    saved_until: u64,
}

/// One address or network of the manual file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Manual {
    pub ip: IpAddr,
    pub prefix: u8,
    pub dropped: u64,
}

impl Manual {
    fn contains(&self, ip: IpAddr) -> bool {
        let net = crate::acl::Cidr {
            addr: self.ip,
            prefix: self.prefix,
        };
        net.contains(ip.to_canonical())
    }
}

/// A REGISTER with credentials waiting for its answer (outbound-proxy mode).
#[derive(Debug, Clone, Copy)]
struct Watch {
    ip: IpAddr,
    call_id: u64,
    until: u64,
}

/// The blacklist: settings, the table and the manual entries.
#[derive(Debug)]
pub struct Blacklist {
    simulate: bool,
    /// Silence (ms) before a blocked source is unblocked; 0 = never.
    duration: u64,
    hitcount: u32,
    /// How long a REGISTER's answer is awaited (ms).
    window: u64,
    slots: Box<[Option<Entry>]>,
    watch: Box<[Option<Watch>]>,
    manual: Vec<Manual>,
    /// Blocked entries in `slots`: the per-datagram check scans only when there are any.
    blocked: usize,
    /// Moves on every change the state file should get.
    generation: u64,
    /// Earliest `until` of the table (ms), or earlier: a timer that finds nothing recomputes it.
    next_check: Option<u64>,
}

impl Blacklist {
    /// The blacklist when `load_plugin` enables it.
    pub fn from_config(cfg: &Config) -> Option<Blacklist> {
        if !cfg.loads("blacklist") {
            return None;
        }
        let mut b = Blacklist {
            simulate: false,
            duration: 0,
            hitcount: 0,
            window: 0,
            slots: vec![None; limits::BLACKLIST_ENTRIES].into_boxed_slice(),
            watch: vec![None; limits::BLACKLIST_WATCH].into_boxed_slice(),
            manual: Vec::new(),
            blocked: 0,
            generation: 0,
            next_check: None,
        };
        b.configure(cfg);
        Some(b)
    }

    /// The directives (start and SIGHUP); the table is kept.
    pub fn configure(&mut self, cfg: &Config) {
        let secs = |v: i64| u64::try_from(v).unwrap_or(0).saturating_mul(1000);
        self.simulate = cfg.plugins.plugin_blacklist_simulate != 0;
        self.duration = secs(cfg.plugins.plugin_blacklist_duration);
        self.hitcount = u32::try_from(cfg.plugins.plugin_blacklist_hitcount).unwrap_or(u32::MAX);
        self.window = secs(cfg.plugins.plugin_blacklist_register_window);
    }

    pub fn simulate(&self) -> bool {
        self.simulate
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// `true`: drop the datagram from `ip`. Allocation-free; scans only while something is
    /// blocked.
    pub fn screen(&mut self, now_ms: u64, ip: IpAddr) -> bool {
        if self.blocked == 0 && self.manual.is_empty() {
            return false;
        }
        let now = now_ms;
        let ip = ip.to_canonical();
        let key = source_key(ip);
        // simulate: nothing is dropped (what would be was logged when it was blocked).
        if let Some(m) = self.manual.iter_mut().find(|m| m.contains(ip)) {
            m.dropped = m.dropped.saturating_add(u64::from(!self.simulate));
            return !self.simulate;
        }
        if self.blocked == 0 {
            return false;
        }
        let duration = self.duration;
        let Some(slot) = self
            .slots
            .iter_mut()
            .find(|s| s.is_some_and(|e| e.blocked && e.ip == key))
        else {
            return false;
        };
        let Some(e) = slot.as_mut() else {
            return false;
        };
        if now >= e.until {
            unblocked(key, duration);
            *slot = None;
            self.blocked = self.blocked.saturating_sub(1);
            self.generation = self.generation.wrapping_add(1);
            return false;
        }
        if duration > 0 {
            // Every datagram restarts the silence it must keep (as siproxd's lastseen).
            e.until = now.saturating_add(duration);
            if e.until.saturating_sub(e.saved_until) >= RESAVE_MS {
                e.saved_until = e.until;
                self.generation = self.generation.wrapping_add(1);
            }
        }
        e.dropped = e.dropped.saturating_add(u64::from(!self.simulate));
        !self.simulate
    }

    /// A REGISTER from `ip` is forwarded to a registrar: with credentials its answer is
    /// watched; without, an earlier watch of `ip` ends (siproxd: the unauthenticated first
    /// attempt does not count).
    pub fn note_register(&mut self, now_ms: u64, ip: IpAddr, call_id: &[u8], credentials: bool) {
        let ip = ip.to_canonical();
        let now = now_ms;
        let mut free = None;
        let mut oldest: Option<(usize, u64)> = None;
        for (i, w) in self.watch.iter_mut().enumerate() {
            match w {
                Some(x) if x.ip == ip => {
                    *w = None;
                    free = Some(i);
                    break;
                }
                Some(x) if x.until <= now => *w = None,
                Some(x) => {
                    if oldest.is_none_or(|(_, u)| x.until < u) {
                        oldest = Some((i, x.until));
                    }
                    continue;
                }
                None => {}
            }
            free = free.or(Some(i));
        }
        if !credentials {
            return;
        }
        if let Some(w) = free
            .or(oldest.map(|(i, _)| i))
            .and_then(|i| self.watch.get_mut(i))
        {
            *w = Some(Watch {
                ip,
                call_id: hash(call_id),
                until: now.saturating_add(self.window),
            });
        }
    }

    /// The registrar's answer to a REGISTER (outbound-proxy mode): a 4xx to a watched one is
    /// a failure of its sender, a 2xx clears its failures.
    pub fn note_response(&mut self, now_ms: u64, call_id: &[u8], code: u16) {
        if code < 200 {
            return;
        }
        let h = hash(call_id);
        let now = now_ms;
        let Some(w) = self
            .watch
            .iter_mut()
            .find(|w| w.is_some_and(|x| x.call_id == h))
        else {
            return;
        };
        let Some(x) = w.take() else { return };
        if now > x.until {
            return;
        }
        match code {
            200..=299 => self.success(x.ip),
            400..=499 => self.fail(now_ms, x.ip),
            _ => {}
        }
    }

    /// A failed registration from `ip` (a 4xx to its REGISTER with credentials, or our own
    /// 403). More than `hitcount` failures block it.
    pub fn fail(&mut self, now_ms: u64, ip: IpAddr) {
        let ip = source_key(ip);
        let now = now_ms;
        let i = match self.position(ip) {
            Some(i) => i,
            None => {
                let i = self.free_slot(now);
                if let Some(s) = self.slots.get_mut(i) {
                    if s.is_some_and(|e| e.blocked) {
                        self.blocked = self.blocked.saturating_sub(1);
                    }
                    *s = Some(Entry {
                        ip,
                        failures: 0,
                        blocked: false,
                        until: 0,
                        dropped: 0,
                        saved_until: 0,
                    });
                }
                i
            }
        };
        let (hitcount, simulate) = (self.hitcount, self.simulate);
        let until_blocked = match self.duration {
            0 => u64::MAX,
            d => now.saturating_add(d),
        };
        let Some(Some(e)) = self.slots.get_mut(i) else {
            return;
        };
        e.failures = e.failures.saturating_add(1);
        let newly = !e.blocked && e.failures > hitcount;
        if newly {
            e.blocked = true;
            self.blocked = self.blocked.saturating_add(1);
            let what = if simulate {
                "would block (simulate)"
            } else {
                "blocking"
            };
            log::warn!(
                "plugin_blacklist: {what} {ip}{} after {} failed registrations",
                net_suffix(ip),
                e.failures
            );
        }
        e.until = if e.blocked {
            until_blocked
        } else {
            now.saturating_add(FORGET_MS)
        };
        e.saved_until = e.until;
        self.generation = self.generation.wrapping_add(1);
        let until = e.until;
        self.next_check = Some(self.next_check.map_or(until, |t| t.min(until)));
    }

    /// A successful registration from `ip`: its failures are cleared (siproxd: failcount 0).
    pub fn success(&mut self, ip: IpAddr) {
        let Some(i) = self.position(source_key(ip)) else {
            return;
        };
        if let Some(s) = self.slots.get_mut(i) {
            if s.is_some_and(|e| e.blocked) {
                self.blocked = self.blocked.saturating_sub(1);
            }
            *s = None;
            self.generation = self.generation.wrapping_add(1);
        }
    }

    fn position(&self, ip: IpAddr) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| s.is_some_and(|e| e.ip == ip))
    }

    /// A free slot, else the unblocked entry that lapses first, else the blocked one.
    fn free_slot(&self, now: u64) -> usize {
        if let Some(i) = self.slots.iter().position(Option::is_none) {
            return i;
        }
        log::warn!(
            "plugin_blacklist: table full ({} entries), the oldest entry is dropped",
            self.slots.len()
        );
        let key = |e: &Entry| (e.blocked, e.until.max(now));
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.map(|e| (i, key(&e))))
            .min_by_key(|(_, k)| *k)
            .map_or(0, |(i, _)| i)
    }

    /// When [`handle_timeout`](Self::handle_timeout) has work (ms).
    pub fn next_deadline(&self) -> Option<u64> {
        self.next_check
    }

    /// Lapsed entries go: blocked sources silent for `duration` are unblocked, failure
    /// records idle for a day forgotten.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        let now = now_ms;
        if self.next_check.is_none_or(|t| t > now) {
            return;
        }
        let mut next: Option<u64> = None;
        for s in self.slots.iter_mut() {
            let Some(e) = s else { continue };
            if e.until <= now {
                if e.blocked {
                    unblocked(e.ip, self.duration);
                    self.blocked = self.blocked.saturating_sub(1);
                }
                *s = None;
                self.generation = self.generation.wrapping_add(1);
            } else if e.until != u64::MAX {
                next = Some(next.map_or(e.until, |t| t.min(e.until)));
            }
        }
        self.next_check = next;
    }

    /// The table's entries.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.slots.iter().flatten()
    }

    /// The manual entries with their drop counters.
    pub fn manual(&self) -> &[Manual] {
        &self.manual
    }

    /// Replaces the manual entries (start, SIGHUP); counters of addresses still listed stay.
    pub fn set_manual(&mut self, mut entries: Vec<Manual>) {
        for e in entries.iter_mut() {
            if let Some(old) = self
                .manual
                .iter()
                .find(|m| m.ip == e.ip && m.prefix == e.prefix)
            {
                e.dropped = old.dropped;
            }
        }
        self.manual = entries;
    }

    /// The state file: a header line, then one line per entry with its deadline as Unix time
    /// (`0`: never), rounded up. `now_ms` (monotonic) and `unix_now` (s) are the same instant.
    pub fn save(&self, now_ms: u64, unix_now: u64, out: &mut String) {
        out.push_str(STATE_HEADER);
        out.push_str("\n# address failures blocked until_unix(0=never) dropped\n");
        for e in self.entries() {
            let until = match e.until {
                u64::MAX => 0,
                t => unix_now.saturating_add(t.saturating_sub(now_ms).div_ceil(1000)),
            };
            let _ = writeln!(
                out,
                "{} {} {} {until} {}",
                e.ip,
                e.failures,
                u8::from(e.blocked),
                e.dropped
            );
        }
    }

    /// Reads a state file written by [`save`](Self::save): lapsed entries are skipped, a bad
    /// line is returned as (line number, problem) and skipped.
    pub fn restore(
        &mut self,
        now_ms: u64,
        unix_now: u64,
        text: &str,
    ) -> Vec<(usize, &'static str)> {
        let mut problems = Vec::new();
        let mut lines = text.lines().enumerate();
        if lines.next().map(|(_, l)| l.trim()) != Some(STATE_HEADER) {
            problems.push((1, "not a siproxd-rs blacklist state file"));
            return problems;
        }
        for (n, line) in lines {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match parse_state_line(line) {
                Ok((ip, failures, blocked, until_unix, dropped)) => {
                    let until = match until_unix {
                        0 => u64::MAX,
                        t if t <= unix_now => continue,
                        t => now_ms.saturating_add((t - unix_now).saturating_mul(1000)),
                    };
                    if self.position(ip).is_some() {
                        continue;
                    }
                    let Some(s) = self.slots.iter_mut().find(|s| s.is_none()) else {
                        problems.push((n + 1, "table full"));
                        break;
                    };
                    *s = Some(Entry {
                        ip,
                        failures,
                        blocked,
                        until,
                        dropped,
                        saved_until: until,
                    });
                    self.blocked += usize::from(blocked);
                    if until != u64::MAX {
                        self.next_check = Some(self.next_check.map_or(until, |t| t.min(until)));
                    }
                }
                Err(why) => problems.push((n + 1, why)),
            }
        }
        problems
    }
}

#[cold]
/// How an entry's address is shown: an IPv6 entry stands for its /64.
pub fn net_suffix(ip: IpAddr) -> &'static str {
    if ip.is_ipv6() {
        "/64"
    } else {
        ""
    }
}

fn unblocked(ip: IpAddr, duration_ms: u64) {
    log::info!(
        "plugin_blacklist: {ip}{} unblocked after {} s of silence",
        net_suffix(ip),
        duration_ms / 1000
    );
}

type StateLine = (IpAddr, u32, bool, u64, u64);

fn parse_state_line(line: &str) -> Result<StateLine, &'static str> {
    let mut f = line.split_whitespace();
    let mut next = || f.next().ok_or("too few fields");
    let ip = next()?
        .parse::<IpAddr>()
        .map_err(|_| "bad address")?
        .to_canonical();
    let failures = next()?.parse().map_err(|_| "bad failure count")?;
    let blocked = match next()? {
        "0" => false,
        "1" => true,
        _ => return Err("blocked must be 0 or 1"),
    };
    let until = next()?.parse().map_err(|_| "bad time")?;
    let dropped = next()?.parse().map_err(|_| "bad drop count")?;
    if f.next().is_some() {
        return Err("too many fields");
    }
    Ok((ip, failures, blocked, until, dropped))
}

/// The manual file: one address or network (`ADDR[/PREFIX]`) per line, `#` comments. Bad
/// lines come back as (line number, problem) and are skipped; at most
/// [`limits::BLACKLIST_MANUAL`] entries are kept.
pub fn parse_manual(text: &str) -> (Vec<Manual>, Vec<(usize, &'static str)>) {
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if out.len() >= limits::BLACKLIST_MANUAL {
            bad.push((n + 1, "more than 256 entries: the rest is ignored"));
            break;
        }
        match parse_net(line) {
            Some((ip, prefix)) => out.push(Manual {
                ip,
                prefix,
                dropped: 0,
            }),
            None => bad.push((n + 1, "expected an address or ADDRESS/PREFIX")),
        }
    }
    (out, bad)
}

fn parse_net(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let ip = addr.parse::<IpAddr>().ok()?.to_canonical();
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max)?,
    };
    Some((ip, prefix))
}

/// Where the state and the manual entries live for `plugin_blacklist_dbpath`: its name
/// without a `.sqlite`, `.sqlite3` or `.db` ending, plus `.state` and `.manual` (never the
/// SQLite file of siproxd itself).
pub fn file_paths(dbpath: Option<&str>) -> (String, String) {
    let db = dbpath.unwrap_or(DEFAULT_DBPATH);
    let base = [".sqlite", ".sqlite3", ".db"]
        .iter()
        .find_map(|ext| db.strip_suffix(ext))
        .unwrap_or(db);
    (format!("{base}.state"), format!("{base}.manual"))
}

/// FNV-1a: Call-IDs are compared by a 64-bit hash so the watch table holds no strings.
fn hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bl(extra: impl FnOnce(&mut Config)) -> Blacklist {
        let mut cfg = Config {
            load_plugin: vec!["blacklist".into()],
            ..Config::default()
        };
        extra(&mut cfg);
        Blacklist::from_config(&cfg).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn eleven_failures_block_and_silence_for_duration_unblocks() {
        let mut b = bl(|_| {});
        let a = ip("203.0.113.7");
        for i in 0..10 {
            b.fail(1000 + i * 100, a);
        }
        assert!(!b.screen(3000, a), "10 failures are allowed (hitcount 10)");
        b.fail(3000, a);
        assert!(b.screen(3500, a));
        assert!(!b.screen(3500, ip("203.0.113.8")), "other sources pass");
        // Each datagram restarts the silence: still blocked 3599 s after the last one.
        assert!(b.screen(3_000_000, a));
        assert!(b.screen(6_599_000, a));
        assert_eq!(b.entries().next().unwrap().dropped, 3);
        // The timer unblocks after 3600 s of silence; a wake-up at the deadline the first
        // block set finds the refreshed one.
        assert_eq!(b.next_deadline(), Some(3_603_000));
        b.handle_timeout(3_603_000);
        assert_eq!(b.next_deadline(), Some(10_199_000));
        b.handle_timeout(10_198_000);
        assert!(b.screen(10_198_000, a), "not yet");
        b.handle_timeout(10_198_000 + 3_600_000);
        assert_eq!(b.entries().count(), 0);
        assert!(!b.screen(10_198_000 + 3_600_000, a));
    }

    #[test]
    fn duration_zero_blocks_for_ever_and_success_clears_failures() {
        let mut b = bl(|c| {
            c.plugins.plugin_blacklist_duration = 0;
            c.plugins.plugin_blacklist_hitcount = 1;
        });
        let a = ip("2001:db8::7");
        b.fail(0, a);
        b.success(a);
        b.fail(0, a);
        assert!(!b.screen(0, a), "success cleared the first failure");
        b.fail(0, a);
        assert!(b.screen(u64::MAX / 2, a));
        b.handle_timeout(86_400_000);
        assert_eq!(b.next_deadline(), None, "nothing lapses");
        assert!(b.screen(u64::MAX / 2, a));
    }

    #[test]
    fn simulate_only_logs() {
        let mut b = bl(|c| c.plugins.plugin_blacklist_simulate = 1);
        let a = ip("203.0.113.7");
        for _ in 0..11 {
            b.fail(0, a);
        }
        assert!(b.entries().next().unwrap().blocked);
        assert!(!b.screen(0, a));
        b.set_manual(vec![Manual {
            ip: a,
            prefix: 32,
            dropped: 0,
        }]);
        assert!(!b.screen(0, a));
    }

    #[test]
    fn watched_register_answers_count_only_with_credentials_and_within_the_window() {
        let mut b = bl(|c| c.plugins.plugin_blacklist_hitcount = 0);
        let a = ip("192.168.1.10");
        b.note_register(0, a, b"c1", false);
        b.note_response(0, b"c1", 401);
        assert_eq!(b.entries().count(), 0, "the unauthenticated attempt");
        b.note_register(0, a, b"c1", true);
        b.note_response(31_000, b"c1", 403);
        assert_eq!(b.entries().count(), 0, "answer after the 30 s window");
        b.note_register(40_000, a, b"c1", true);
        b.note_response(40_100, b"other", 403);
        assert_eq!(b.entries().count(), 0);
        b.note_response(40_100, b"c1", 403);
        assert!(b.screen(40_200, a));
        // The watch table is bounded: many sources evict the oldest, never grow it.
        for i in 0..1000u32 {
            b.note_register(50_000, IpAddr::from(i.to_be_bytes()), b"x", true);
        }
        assert_eq!(b.watch.len(), limits::BLACKLIST_WATCH);
    }

    #[test]
    fn a_full_table_evicts_unblocked_entries_first() {
        let mut b = bl(|c| c.plugins.plugin_blacklist_hitcount = 0);
        let blocked = ip("198.51.100.1");
        b.fail(0, blocked);
        for i in 0..(limits::BLACKLIST_ENTRIES as u32 + 5) {
            b.fail(0, IpAddr::from((0x0a00_0000 + i).to_be_bytes()));
        }
        assert_eq!(b.entries().count(), limits::BLACKLIST_ENTRIES);
        assert_eq!(b.blocked, b.entries().filter(|e| e.blocked).count());
    }

    #[test]
    fn state_survives_save_and_restore_with_deadlines_in_unix_time() {
        let mut b = bl(|_| {});
        let (a, c) = (ip("203.0.113.7"), ip("2001:db8::1"));
        for _ in 0..11 {
            b.fail(5_000, a);
        }
        b.fail(5_000, c);
        assert!(b.screen(10_000, a));
        let mut text = String::new();
        // Half a second later: deadlines are rounded up to whole seconds.
        b.save(10_500, 1_000_000, &mut text);
        assert!(text.starts_with("siproxd-rs blacklist 1\n"), "{text}");
        assert!(text.contains("203.0.113.7 11 1 1003600 1\n"), "{text}");
        // Another process, whose monotonic clock started later.
        let mut r = bl(|_| {});
        let bad = r.restore(
            2_000,
            1_000_100,
            &format!("{text}junk line\n10.0.0.1 1 1 1\n"),
        );
        assert_eq!(bad, [(5, "bad address"), (6, "too few fields")]);
        let e = *r.entries().find(|e| e.ip == a).unwrap();
        assert_eq!((e.failures, e.until, e.dropped), (11, 3_502_000, 1));
        assert!(r.screen(2_000, a));
        // An IPv6 source is kept as its /64.
        assert!(
            !r.entries()
                .find(|e| e.ip == ip("2001:db8::"))
                .unwrap()
                .blocked
        );
        assert!(r.entries().all(|e| e.ip != c));
        // A lapsed entry is not restored; another file is not read.
        let mut late = bl(|_| {});
        late.restore(0, 2_000_000, &text);
        assert_eq!(late.entries().count(), 0);
        assert_eq!(
            late.restore(0, 0, "SQLite format 3\0"),
            [(1, "not a siproxd-rs blacklist state file")]
        );
    }

    #[test]
    fn manual_file_lines_and_networks() {
        let (m, bad) = parse_manual(
            "# blocked by hand\n203.0.113.9\n198.51.100.0/24  # a scanner network\n\n\
             2001:db8::/32\nnot-an-ip\n10.0.0.0/33\n::ffff:192.0.2.1\n",
        );
        assert_eq!(m.len(), 4);
        assert_eq!(bad.iter().map(|b| b.0).collect::<Vec<_>>(), [6, 7]);
        assert_eq!(bad[0].1, "expected an address or ADDRESS/PREFIX");
        let mut b = bl(|_| {});
        b.set_manual(m);
        for (addr, drop) in [
            ("203.0.113.9", true),
            ("203.0.113.10", false),
            ("198.51.100.200", true),
            ("2001:db8:1::5", true),
            ("2001:db9::5", false),
            ("::ffff:198.51.100.3", true),
            ("192.0.2.1", true),
        ] {
            assert_eq!(b.screen(0, ip(addr)), drop, "{addr}");
        }
        let many = "10.1.1.1\n".repeat(limits::BLACKLIST_MANUAL + 3);
        let (m, bad) = parse_manual(&many);
        assert_eq!((m.len(), bad.len()), (limits::BLACKLIST_MANUAL, 1));
        assert!(bad[0].1.contains(&limits::BLACKLIST_MANUAL.to_string()));
    }

    #[test]
    fn file_names_next_to_the_sqlite_path() {
        assert_eq!(
            file_paths(None),
            (
                "/var/lib/siproxd/blacklist.state".into(),
                "/var/lib/siproxd/blacklist.manual".into()
            )
        );
        assert_eq!(file_paths(Some("/etc/bl")).0, "/etc/bl.state");
    }
}
