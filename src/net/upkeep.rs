//! What a long-running daemon does besides proxying: the registration file
//! (`registration_file`, `autosave_registrations`, decisions §7), the status snapshot
//! (`status_file`, `status_interval`, SIGUSR1) and configuration reload (SIGHUP).
//!
//! These touch the filesystem, so they live in the shell; the data comes from the core.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::relay::Relay;
use crate::config::{self, Config, LoadError, Source};
use crate::fsutil::{self, SaveSchedule};
use crate::plugins::stats::{self, Due, Stats};
use crate::proxy::Proxy;
use crate::rtp::Kind;
use crate::status::{self, Snapshot};

/// Seconds since the Unix epoch (wall clock: only for files other processes read).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Where the configuration came from, so SIGHUP can read it again.
#[derive(Debug, Clone, Default)]
pub struct ConfigSource {
    pub uci: Option<PathBuf>,
    pub config: Option<PathBuf>,
    pub sets: Vec<String>,
}

impl ConfigSource {
    pub fn load(&self) -> Result<config::Loaded, LoadError> {
        let source = match self.uci.as_deref() {
            Some(u) => Source::Uci(u),
            None => Source::File(self.config.as_deref()),
        };
        config::load(source, &self.sets, false)
    }
}

/// Persistence and status state of the running daemon.
pub struct Upkeep {
    pub source: ConfigSource,
    pub config_file: String,
    started_unix: u64,
    reg_file: Option<PathBuf>,
    reg_schedule: SaveSchedule,
    reg_generation: u64,
    status_file: PathBuf,
    status_schedule: Option<SaveSchedule>,
    /// The earliest deadline of the two schedules, recomputed whenever one changes, so the
    /// loop can ask on every wake-up for free.
    deadline: Option<u64>,
    /// SIP over TCP as the shell last reported it: counters and open connections.
    tcp: (crate::stream::StreamCounters, Vec<status::TcpConn>),
    /// plugin_stats, when loaded and on.
    stats: Option<Stats>,
    /// plugin_blacklist's files, when it is loaded.
    blacklist: Option<BlacklistFiles>,
}

/// Where plugin_blacklist keeps its state and reads the manual entries (decisions §5).
struct BlacklistFiles {
    /// `plugin_blacklist_dbpath` as configured (perhaps siproxd's SQLite file: never read).
    db: String,
    state: PathBuf,
    manual: PathBuf,
    schedule: SaveSchedule,
    generation: u64,
}

impl BlacklistFiles {
    fn of(cfg: &Config, now_ms: u64) -> Option<BlacklistFiles> {
        if !cfg.loads("blacklist") {
            return None;
        }
        let db = cfg.plugins.plugin_blacklist_dbpath.as_deref();
        let (state, manual) = crate::plugins::blacklist::file_paths(db);
        Some(BlacklistFiles {
            db: db
                .unwrap_or(crate::plugins::blacklist::DEFAULT_DBPATH)
                .to_owned(),
            state: state.into(),
            manual: manual.into(),
            schedule: SaveSchedule::new(now_ms, 0),
            generation: 0,
        })
    }
}

impl Upkeep {
    pub fn new(cfg: &Config, source: ConfigSource, config_file: String, now_ms: u64) -> Upkeep {
        let status_schedule = (cfg.status_interval > 0).then(|| {
            let mut s = SaveSchedule::new(now_ms, cfg.status_interval);
            s.mark_dirty(now_ms);
            s
        });
        let mut u = Upkeep {
            source,
            config_file,
            started_unix: unix_now(),
            reg_file: cfg.registration_file.as_deref().map(PathBuf::from),
            reg_schedule: SaveSchedule::new(now_ms, cfg.autosave_registrations),
            reg_generation: 0,
            status_file: PathBuf::from(
                cfg.status_file
                    .as_deref()
                    .unwrap_or(status::DEFAULT_STATUS_FILE),
            ),
            status_schedule,
            deadline: None,
            tcp: Default::default(),
            stats: None,
            blacklist: BlacklistFiles::of(cfg, now_ms),
        };
        u.set_stats(cfg, now_ms);
        u.schedules_changed();
        u
    }

    /// Reads the registration file into the table (missing file: empty table).
    pub fn load_registrations(&mut self, proxy: &mut Proxy, now_ms: u64) {
        let Some(path) = self.reg_file.clone() else {
            return;
        };
        let text = match fsutil::read_limited(&path, 16 * 1024 * 1024) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                log::info!(
                    "registration_file {}: not there yet, starting empty",
                    path.display()
                );
                return;
            }
            Err(e) => {
                log::warn!("registration_file {}: {e}; starting empty", path.display());
                return;
            }
        };
        let loaded = crate::registry::parse_saved(&text);
        for w in &loaded.warnings {
            log::warn!(
                "{}:{}: skipped record: {}",
                path.display(),
                w.line,
                w.problem
            );
        }
        let report = proxy
            .registry_mut()
            .restore(now_ms / 1000, unix_now(), &loaded.records);
        log::info!(
            "registration_file {}: {} binding(s) restored, {} expired, {} dropped",
            path.display(),
            report.restored,
            report.expired,
            report.dropped
        );
        self.reg_generation = proxy.registry().generation();
    }

    /// Writes the live bindings atomically; returns whether it worked.
    pub fn save_registrations(&mut self, proxy: &Proxy, now_ms: u64) -> bool {
        let Some(path) = self.reg_file.clone() else {
            return true;
        };
        let mut text = String::new();
        let _ = proxy.registry().save(now_ms / 1000, unix_now(), &mut text);
        match fsutil::atomic_write_mode(&path, text.as_bytes(), 0o600) {
            Ok(()) => {
                log::debug!(target: crate::logging::REG, "registrations saved to {}", path.display());
                self.reg_schedule.saved(now_ms);
                self.schedules_changed();
                self.reg_generation = proxy.registry().generation();
                true
            }
            Err(e) => {
                log::error!("cannot write registration_file {}: {e}", path.display());
                self.reg_schedule.failed(now_ms);
                self.schedules_changed();
                false
            }
        }
    }

    /// Reads plugin_blacklist's state file and manual file into the proxy's table (start, and
    /// SIGHUP when the plugin was enabled or its path changed). Says at start where they are.
    pub fn load_blacklist(&mut self, proxy: &mut Proxy, now_ms: u64) {
        let (Some(f), Some(bl)) = (self.blacklist.as_mut(), proxy.blacklist_mut()) else {
            return;
        };
        let text = read_text(&f.state);
        for (line, why) in bl.restore(now_ms, unix_now(), &text) {
            log::warn!("{}:{line}: {why}", f.state.display());
        }
        // Whatever is at dbpath (siproxd's SQLite database) is left alone.
        log::info!(
            "plugin_blacklist: state in {} ({} entries restored, {} blocked; \
             plugin_blacklist_dbpath {} is never read or written), manual entries from {} \
             (re-read on SIGHUP){}",
            f.state.display(),
            bl.entries().count(),
            bl.entries().filter(|e| e.blocked).count(),
            f.db,
            f.manual.display(),
            if bl.simulate() {
                "; simulate: nothing is dropped"
            } else {
                ""
            }
        );
        f.generation = bl.generation();
        self.read_blacklist_manual(proxy);
    }

    /// (Re)reads the manual file; a bad line is logged with file:line and skipped.
    pub fn read_blacklist_manual(&mut self, proxy: &mut Proxy) {
        let (Some(f), Some(bl)) = (self.blacklist.as_ref(), proxy.blacklist_mut()) else {
            return;
        };
        let text = read_text(&f.manual);
        let (entries, bad) = crate::plugins::blacklist::parse_manual(&text);
        for (line, why) in bad {
            log::warn!("{}:{line}: {why}", f.manual.display());
        }
        log::info!(
            "plugin_blacklist: {} manual entries from {}",
            entries.len(),
            f.manual.display()
        );
        bl.set_manual(entries);
    }

    /// SIGHUP, after the proxy took the new configuration: the files may have moved or the
    /// plugin been switched on or off; the manual file is read again.
    pub fn reload_blacklist(&mut self, proxy: &mut Proxy, now_ms: u64) {
        let new = BlacklistFiles::of(proxy.config(), now_ms);
        let moved = match (&self.blacklist, &new) {
            (Some(old), Some(new)) => old.state != new.state || old.manual != new.manual,
            (a, b) => a.is_some() != b.is_some(),
        };
        if moved {
            self.blacklist = new;
            self.load_blacklist(proxy, now_ms);
        } else {
            self.read_blacklist_manual(proxy);
        }
        self.schedules_changed();
    }

    /// Writes plugin_blacklist's state atomically; returns whether it worked.
    pub fn save_blacklist(&mut self, proxy: &Proxy, now_ms: u64) -> bool {
        let (Some(f), Some(bl)) = (self.blacklist.as_mut(), proxy.blacklist()) else {
            return true;
        };
        let mut text = String::new();
        bl.save(now_ms, unix_now(), &mut text);
        let ok = match fsutil::atomic_write_mode(&f.state, text.as_bytes(), 0o600) {
            Ok(()) => {
                f.schedule.saved(now_ms);
                f.generation = bl.generation();
                true
            }
            Err(e) => {
                log::error!("plugin_blacklist: cannot write {}: {e}", f.state.display());
                f.schedule.failed(now_ms);
                false
            }
        };
        self.schedules_changed();
        ok
    }

    /// Input: the blacklist is at `generation`; a change starts the save delay.
    pub fn handle_blacklist_change(&mut self, now_ms: u64, generation: u64) {
        if let Some(f) = self.blacklist.as_mut() {
            if generation != f.generation && !f.schedule.is_dirty() {
                f.schedule.mark_dirty(now_ms);
                self.schedules_changed();
            }
        }
    }

    /// Input: the proxy handled something, and its registration table is now at
    /// `generation`. A change starts the save delay (joining a save already pending).
    pub fn handle_registry_change(&mut self, now_ms: u64, generation: u64) {
        if self.reg_file.is_some()
            && generation != self.reg_generation
            && !self.reg_schedule.is_dirty()
        {
            self.reg_schedule.mark_dirty(now_ms);
            self.schedules_changed();
        }
    }

    /// Input: [`poll_timeout`](Self::poll_timeout) has come; writes what is due.
    pub fn handle_timeout(&mut self, now_ms: u64, proxy: &Proxy, relay: &Relay) {
        if self.reg_file.is_some() && self.reg_schedule.due(now_ms) {
            self.save_registrations(proxy, now_ms);
        }
        if self.status_schedule.as_ref().is_some_and(|s| s.due(now_ms)) {
            self.write_status(proxy, relay, now_ms);
        }
        if self
            .stats
            .as_ref()
            .and_then(Stats::next_due)
            .is_some_and(|t| t <= now_ms)
        {
            let due = self.stats.as_mut().map(|s| s.handle_timeout(now_ms));
            if let Some(due) = due {
                let snap = self.full_snapshot(proxy, relay, now_ms);
                self.write_stats(&snap, due);
            }
        }
        if self
            .blacklist
            .as_ref()
            .is_some_and(|f| f.schedule.due(now_ms))
        {
            self.save_blacklist(proxy, now_ms);
        }
        self.schedules_changed();
    }

    /// plugin_stats from the configuration (start, SIGHUP); its directives were checked
    /// with the other plugins'.
    pub fn set_stats(&mut self, cfg: &Config, now_ms: u64) {
        self.stats = if cfg.loads("stats") {
            Stats::from_config(cfg, now_ms).ok().flatten()
        } else {
            None
        };
        self.schedules_changed();
    }

    /// The statistics of `snap`, to the log and/or the file as `due` says.
    fn write_stats(&self, snap: &Snapshot, due: Due) {
        let Some(st) = self.stats.as_ref() else {
            return;
        };
        let sum = stats::summary(snap);
        if due.syslog {
            log::info!("{}", stats::log_line(&sum));
        }
        if due.file {
            let path = Path::new(&st.filename);
            if let Err(e) = fsutil::replace_unsynced(path, stats::file_text(snap, &sum).as_bytes())
            {
                log::warn!("plugin_stats_filename {}: {e}", path.display());
            }
        }
    }

    /// The next instant (ms) [`handle_timeout`](Self::handle_timeout) has something to do.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.deadline
    }

    fn schedules_changed(&mut self) {
        let d = self
            .reg_file
            .as_ref()
            .and_then(|_| self.reg_schedule.next_deadline());
        let s = self
            .status_schedule
            .as_ref()
            .and_then(SaveSchedule::next_deadline);
        let t = self.stats.as_ref().and_then(Stats::next_due);
        let b = self
            .blacklist
            .as_ref()
            .and_then(|f| f.schedule.next_deadline());
        self.deadline = [d, s, t, b].into_iter().flatten().min();
    }

    /// Input: the TCP table's counters and open connections, for the next snapshot.
    pub fn handle_tcp(&mut self, streams: &crate::stream::Streams, now_ms: u64) {
        self.tcp = (*streams.counters(), tcp_conns(streams, now_ms));
    }

    /// SIGUSR1: the status snapshot and the statistics, from one snapshot.
    pub fn on_sigusr1(&mut self, proxy: &Proxy, relay: &Relay, now_ms: u64) {
        let snap = self.write_status(proxy, relay, now_ms);
        if let Some(due) = self.stats.as_ref().map(Stats::on_signal) {
            self.write_stats(&snap, due);
        }
    }

    // Not inlined: the status and the statistics share one copy of it.
    #[inline(never)]
    fn full_snapshot(&self, proxy: &Proxy, relay: &Relay, now_ms: u64) -> Snapshot {
        let mut snap = snapshot(proxy, &self.config_file, self.started_unix, now_ms);
        add_media(&mut snap, relay, now_ms);
        add_tcp(&mut snap, &self.tcp.0, self.tcp.1.len());
        snap.tcp.clone_from(&self.tcp.1);
        snap
    }

    /// The status snapshot (SIGUSR1 and every `status_interval` seconds); returns it.
    pub fn write_status(&mut self, proxy: &Proxy, relay: &Relay, now_ms: u64) -> Snapshot {
        let snap = self.full_snapshot(proxy, relay, now_ms);
        let path = self.status_file.clone();
        if let Err(e) = fsutil::create_parent_dir(&path, 0o755) {
            log::warn!("status_file {}: {e}", path.display());
        }
        match snap.write_file(&path) {
            Ok(()) => log::debug!("status written to {}", path.display()),
            Err(e) => log::warn!("cannot write status_file {}: {e}", path.display()),
        }
        if let Some(s) = self.status_schedule.as_mut() {
            s.saved(now_ms);
            s.mark_dirty(now_ms);
        }
        self.schedules_changed();
        snap
    }

    pub fn status_file(&self) -> &Path {
        &self.status_file
    }
}

/// A snapshot of the core's state for `status.json`.
pub fn snapshot(proxy: &Proxy, config_file: &str, started_unix: u64, now_ms: u64) -> Snapshot {
    let mut snap = Snapshot::new(config_file, started_unix, unix_now());
    let now_s = now_ms / 1000;
    for (_, e) in proxy.registry().iter() {
        for b in e.bindings() {
            snap.registrations.push(status::Registration {
                aor: e.reg_url().to_string(),
                contact: b.true_url.to_string(),
                source: b.source.to_string(),
                expires_in_s: b.expires.saturating_sub(now_s),
                state: if b.is_live(now_s) {
                    "live"
                } else {
                    "provisional"
                }
                .to_string(),
            });
        }
    }
    if let Some((address, source, answered)) = proxy.public_address() {
        let ago = |t: u64| now_ms.saturating_sub(t) / 1000;
        snap.public = Some(status::Public {
            address,
            source: source.to_string(),
            last_answer_unix: answered.map_or(0, |t| snap.taken_unix().saturating_sub(ago(t))),
        });
    }
    let c = proxy.counters();
    snap.count("sip.received", c.received);
    snap.count("sip.forwarded", c.forwarded);
    snap.count("sip.generated", c.generated);
    for (why, n) in &c.drops {
        snap.count(&format!("dropped.{}", why.name()), *n);
    }
    if let Some(b) = proxy.blacklist() {
        add_blacklist(&mut snap, b, now_ms);
    }
    snap
}

/// The connection table's live connections as the snapshot lists them.
pub fn tcp_conns(streams: &crate::stream::Streams, now_ms: u64) -> Vec<status::TcpConn> {
    streams
        .iter(now_ms)
        .map(|c| status::TcpConn {
            peer: c.peer.to_string(),
            local: c.local.to_string(),
            role: match c.role {
                crate::stream::Role::Accepted => "accepted",
                crate::stream::Role::Opened => "opened",
            }
            .to_string(),
            connecting: c.connecting,
            idle_s: c.idle_ms / 1000,
            queued: u64::try_from(c.queued).unwrap_or(u64::MAX),
        })
        .collect()
}

/// A text file of plugin_blacklist (at most 1 MiB): empty when missing; another error is
/// logged and also reads as empty.
fn read_text(path: &Path) -> String {
    match fsutil::read_limited(path, 1024 * 1024) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => {
            if e.kind() != std::io::ErrorKind::NotFound {
                log::warn!("plugin_blacklist: {}: {e}", path.display());
            }
            String::new()
        }
    }
}

/// plugin_blacklist's entries: the table's, then the manual ones.
fn add_blacklist(snap: &mut Snapshot, b: &crate::plugins::blacklist::Blacklist, now_ms: u64) {
    for e in b.entries() {
        snap.blacklist.push(status::Blocked {
            address: format!("{}{}", e.ip, crate::plugins::blacklist::net_suffix(e.ip)),
            kind: "auto".into(),
            failures: u64::from(e.failures),
            blocked: e.blocked,
            expires_in_s: (e.until != u64::MAX).then(|| e.until.saturating_sub(now_ms) / 1000),
            dropped: e.dropped,
        });
    }
    for m in b.manual() {
        let full = if m.ip.is_ipv4() { 32 } else { 128 };
        snap.blacklist.push(status::Blocked {
            address: if m.prefix == full {
                m.ip.to_string()
            } else {
                format!("{}/{}", m.ip, m.prefix)
            },
            kind: "manual".into(),
            blocked: true,
            dropped: m.dropped,
            ..Default::default()
        });
    }
}

/// SIP over TCP: open connections and what the table refused or closed, and why.
pub fn add_tcp(snap: &mut Snapshot, c: &crate::stream::StreamCounters, open: usize) {
    snap.count("tcp.open", u64::try_from(open).unwrap_or(u64::MAX));
    for (name, n) in [
        ("tcp.accepted", c.accepted),
        ("tcp.opened", c.opened),
        ("tcp.messages", c.messages),
        ("tcp.refused_per_source", c.refused_per_source),
        ("tcp.refused_table_full", c.refused_full),
        ("tcp.evicted", c.evicted),
        ("tcp.closed_idle", c.closed_idle),
        ("tcp.closed_slow_sender", c.closed_slow),
        ("tcp.closed_bad_framing", c.closed_bad_framing),
        ("tcp.closed_oversized", c.closed_oversized),
        ("tcp.closed_not_reading", c.closed_write_queue),
        ("tcp.connect_failed", c.connect_failed),
    ] {
        snap.count(name, n);
    }
}

/// Active calls and their relay streams (one row per half-stream), and the relay counters.
pub fn add_media(snap: &mut Snapshot, relay: &Relay, now_ms: u64) {
    let table = relay.table();
    for (_, half) in table.halves() {
        // A row is one relay socket (`local`, this half's). Media arriving on it came from the
        // endpoint the *peer* half sends to, and leaves from the peer's socket; so the far
        // side of this socket, and its latched source, are the peer's destination and latch.
        let peer = half.peer().and_then(|p| table.half(p));
        let (pkts_out, bytes_out) = peer
            .map(|p| (p.counters().packets, p.counters().bytes))
            .unwrap_or((0, 0));
        let remote = peer
            .and_then(|p| p.destination(Kind::Rtp).or(Some(p.remote())))
            .map(|a| a.to_string())
            .unwrap_or_else(|| "-".to_string());
        let c = half.counters();
        let info = half.media_info();
        let stream = status::Stream {
            media: info.kind.to_string(),
            media_index: u64::from(half.media_index()),
            direction: half.stream_dir().name().to_string(),
            payload_type: info.payload_type,
            codec: Some(info.codec.to_string()).filter(|c| !c.is_empty()),
            local: half.local().to_string(),
            remote,
            latched: peer
                .and_then(|p| p.latched(Kind::Rtp))
                .map(|a| a.to_string()),
            pkts_in: c.packets,
            bytes_in: c.bytes,
            pkts_out,
            bytes_out,
            idle_s: now_ms.saturating_sub(half.last_activity()) / 1000,
            idle_in_s: half.last_rtp_in().map(|t| now_ms.saturating_sub(t) / 1000),
            drops: c
                .dropped_empty
                .saturating_add(c.dropped_no_peer)
                .saturating_add(c.dropped_foreign_source)
                .saturating_add(c.dropped_no_destination),
            established: Some(half.established()),
        };
        // Wall-clock time of the open: the snapshot's time minus the stream's age.
        let started = snap
            .taken_unix()
            .saturating_sub(now_ms.saturating_sub(half.opened_at()) / 1000);
        match snap.calls.iter_mut().find(|k| k.call_id == half.call_id()) {
            Some(call) => {
                call.started_unix = call.started_unix.min(started);
                call.streams.push(stream);
            }
            None => snap.calls.push(status::Call {
                call_id: half.call_id().to_string(),
                started_unix: started,
                direction: half.call_dir().name().to_string(),
                party: half.client_id().text().to_string(),
                streams: vec![stream],
            }),
        }
    }
    let r = relay.stats();
    snap.count("rtp.received", r.received);
    snap.count("rtp.sent", r.sent);
    snap.count("rtp.dropped", r.dropped);
    snap.count("rtp.truncated", r.truncated);
    let t = table.stats();
    snap.count("table_full.rtp", t.table_full);
    snap.count("rtp.ports_exhausted", t.ports_exhausted);
    let foreign: u64 = table
        .halves()
        .map(|(_, h)| h.counters().dropped_foreign_source)
        .sum();
    snap.count("rtp.dropped.foreign_source.open_streams", foreign);
}

/// Settings that cannot change without a restart (sockets, tables, process) are marked
/// `restart` where the directive is declared (`config::schema`).
pub use crate::config::{keep_restart_only, restart_only_changes};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registry_change_is_saved_after_its_delay_which_is_the_reported_deadline() {
        let dir = std::env::temp_dir().join(format!("siproxd-rs-upkeep-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("registrations");
        let _ = std::fs::remove_file(&file);
        let cfg = Config {
            if_inbound: Some("127.0.0.1".into()),
            registration_file: Some(file.display().to_string()),
            autosave_registrations: 0,
            ..Config::default()
        };
        let cores = crate::net::setup::build(&cfg).unwrap();
        let poll = mio::Poll::new().unwrap();
        let relay = Relay::new(cores.table, 0, poll.registry().try_clone().unwrap());
        let mut u = Upkeep::new(&cfg, ConfigSource::default(), "test".into(), 1_000);
        // No period, no change: nothing will ever be due.
        assert_eq!(u.poll_timeout(), None);
        u.handle_registry_change(2_000, 0);
        assert_eq!(u.poll_timeout(), None, "the generation did not move");
        u.handle_registry_change(2_000, 7);
        let due = u.poll_timeout().unwrap();
        assert!(due > 2_000);
        // A later change joins the pending save instead of postponing it.
        u.handle_registry_change(3_000, 8);
        assert_eq!(u.poll_timeout(), Some(due));
        u.handle_timeout(due - 1, &cores.proxy, &relay);
        assert!(!file.exists(), "written before its time");
        u.handle_timeout(due, &cores.proxy, &relay);
        assert!(file.exists());
        assert_eq!(u.poll_timeout(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reload_keeps_restart_only_settings_and_names_them() {
        let old = Config {
            sip_listen_port: 5060,
            ua_string: None,
            ..Config::default()
        };
        let new = Config {
            sip_listen_port: 5070,
            ua_string: Some("x".into()),
            hosts_deny_sip: crate::acl::AclList::parse("10.0.0.1").ok(),
            ..Config::default()
        };
        assert_eq!(restart_only_changes(&old, &new), vec!["sip_listen_port"]);
        let applied = keep_restart_only(&old, new);
        assert_eq!(applied.sip_listen_port, 5060);
        assert_eq!(applied.ua_string.as_deref(), Some("x"));
        assert!(applied.hosts_deny_sip.is_some());
        assert!(restart_only_changes(&old, &applied).is_empty());
    }
}
