//! plugin_stats (behaviour §8.2, decisions §7): active streams, calls, clients and
//! registrations, logged (`STATS: ...`, syslog when daemonized) and/or written to
//! `plugin_stats_filename`, every `plugin_stats_to_syslog` / `_to_file` seconds (each on its own
//! schedule) and on SIGUSR1 (`-1`: only then). The numbers are counted from the status
//! snapshot, so both always agree; siproxd's miscounts (calls and clients 0 with one stream,
//! the wrong slot's expiry) cannot happen. Sans-IO: the shell asks what is due and writes.

use std::fmt::Write as _;

use super::BuildError;
use crate::config::Config;
use crate::status::{utc_datetime, Snapshot};

/// When one output happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Every {
    Off,
    Signal,
    Ms(u64),
}

impl Every {
    fn from(v: i64) -> Every {
        match u64::try_from(v) {
            Ok(0) => Every::Off,
            Ok(s) => Every::Ms(s.saturating_mul(1000)),
            Err(_) => Every::Signal,
        }
    }

    fn first(self, now: u64) -> Option<u64> {
        match self {
            Every::Ms(p) => Some(now.saturating_add(p)),
            _ => None,
        }
    }
}

/// Which outputs to produce now.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub syslog: bool,
    pub file: bool,
}

#[derive(Debug, Clone)]
pub struct Stats {
    syslog: Every,
    file: Every,
    pub filename: String,
    next_syslog: Option<u64>,
    next_file: Option<u64>,
}

impl Stats {
    /// The plugin from its directives; `None` when both outputs are off (siproxd disabled
    /// itself then). A file output needs `plugin_stats_filename`.
    pub fn from_config(cfg: &Config, now: u64) -> Result<Option<Stats>, BuildError> {
        let p = &cfg.plugins;
        let (syslog, file) = (
            Every::from(p.plugin_stats_to_syslog),
            Every::from(p.plugin_stats_to_file),
        );
        let filename = p.plugin_stats_filename.clone().unwrap_or_default();
        if file != Every::Off && filename.is_empty() {
            return Err(BuildError::new(
                "plugin_stats_to_file",
                "is not 0 but plugin_stats_filename is not set".into(),
            ));
        }
        // Both off: the configuration check warns (`config::validate`).
        if (syslog, file) == (Every::Off, Every::Off) {
            return Ok(None);
        }
        Ok(Some(Stats {
            syslog,
            file,
            filename,
            next_syslog: syslog.first(now),
            next_file: file.first(now),
        }))
    }

    /// When [`Stats::handle_timeout`] next has something to do (ms).
    pub fn next_due(&self) -> Option<u64> {
        [self.next_syslog, self.next_file]
            .into_iter()
            .flatten()
            .min()
    }

    /// The periodic outputs due at `now`, each rescheduled one period on.
    pub fn handle_timeout(&mut self, now: u64) -> Due {
        let step = |next: &mut Option<u64>, every: Every| match (*next, every) {
            (Some(t), Every::Ms(p)) if t <= now => {
                *next = Some(now.saturating_add(p));
                true
            }
            _ => false,
        };
        Due {
            syslog: step(&mut self.next_syslog, self.syslog),
            file: step(&mut self.next_file, self.file),
        }
    }

    /// SIGUSR1: every output that is on.
    pub fn on_signal(&self) -> Due {
        Due {
            syslog: self.syslog != Every::Off,
            file: self.file != Every::Off,
        }
    }
}

/// The counts of one snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Relay halves open.
    pub streams: usize,
    /// Distinct Call-IDs with streams.
    pub calls: usize,
    /// Distinct phones (`user@host`) in those calls.
    pub clients: usize,
    /// Live registration bindings.
    pub registered: usize,
}

pub fn summary(snap: &Snapshot) -> Summary {
    let calls = &snap.calls;
    // Counted by first occurrence: a few calls at most, and no set type to carry in flash.
    let clients = calls
        .iter()
        .enumerate()
        .filter(|(i, c)| !c.party.is_empty() && !calls.iter().take(*i).any(|o| o.party == c.party))
        .count();
    Summary {
        streams: calls.iter().map(|c| c.streams.len()).sum(),
        calls: calls.len(),
        clients,
        registered: snap
            .registrations
            .iter()
            .filter(|r| r.state == "live")
            .count(),
    }
}

/// The log line.
pub fn log_line(s: &Summary) -> String {
    format!(
        "STATS: {} active RTP streams, {} calls, {} active clients, {} registered clients",
        s.streams, s.calls, s.clients, s.registered
    )
}

/// The file: date, PID, the summary, then one `Data;` line per stream (siproxd's layout:
/// client, Call-ID, call and stream direction, local and remote address).
pub fn file_text(snap: &Snapshot, s: &Summary) -> String {
    let mut out = format!(
        "siproxd-rs statistics\nDate: {}\nPID: {}\n{}\n\n",
        utc_datetime(snap.taken_unix()),
        snap.pid,
        log_line(s)
    );
    let dir = |d: &str| {
        if d == "incoming" {
            "Incoming"
        } else {
            "Outgoing"
        }
    };
    let ip = |a: &str| a.rsplit_once(':').map_or(a, |(h, _)| h).to_string();
    for c in &snap.calls {
        for st in &c.streams {
            let _ = writeln!(
                out,
                "Data;{};{};{} call;{} stream;{};{}",
                c.party,
                c.call_id,
                dir(&c.direction),
                dir(&st.direction),
                ip(&st.local),
                ip(&st.remote)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::status::{Call, Registration, Stream};

    fn cfg(syslog: i64, file: i64, name: Option<&str>) -> Config {
        let mut c = Config::default();
        c.plugins.plugin_stats_to_syslog = syslog;
        c.plugins.plugin_stats_to_file = file;
        c.plugins.plugin_stats_filename = name.map(Into::into);
        c
    }

    #[test]
    fn periods_are_separate_and_signal_only_waits_for_sigusr1() {
        assert!(Stats::from_config(&cfg(0, 0, None), 0).unwrap().is_none());
        let e = Stats::from_config(&cfg(0, 5, None), 0).unwrap_err();
        assert_eq!(e.directive, "plugin_stats_to_file");
        assert!(e.message.contains("plugin_stats_filename"), "{e}");

        let mut s = Stats::from_config(&cfg(60, 5, Some("/tmp/x")), 1000)
            .unwrap()
            .unwrap();
        assert_eq!(s.next_due(), Some(6000));
        assert_eq!(s.handle_timeout(5999), Due::default());
        assert_eq!(
            s.handle_timeout(6000),
            Due {
                syslog: false,
                file: true
            }
        );
        assert_eq!(s.next_due(), Some(11_000));
        let d = s.handle_timeout(61_000);
        assert_eq!(
            d,
            Due {
                syslog: true,
                file: true
            }
        );
        assert_eq!(s.next_due(), Some(66_000));

        let s = Stats::from_config(&cfg(-1, 0, None), 0).unwrap().unwrap();
        assert_eq!(s.next_due(), None, "-1: no timer");
        assert_eq!(
            s.on_signal(),
            Due {
                syslog: true,
                file: false
            }
        );
    }

    fn stream(dir: &str, local: &str, remote: &str) -> Stream {
        Stream {
            direction: dir.into(),
            local: local.into(),
            remote: remote.into(),
            ..Stream::default()
        }
    }

    #[test]
    fn one_stream_counts_its_call_and_client_and_each_binding_its_own_state() {
        let mut snap = Snapshot::new("/etc/siproxd.conf", 1_800_000_000, 1_800_000_060);
        snap.calls.push(Call {
            call_id: "c1@h".into(),
            direction: "outgoing".into(),
            party: "alice@example.com".into(),
            streams: vec![stream("outgoing", "192.0.2.1:7070", "198.51.100.9:4000")],
            ..Call::default()
        });
        for state in ["live", "provisional", "live"] {
            snap.registrations.push(Registration {
                state: state.into(),
                ..Registration::default()
            });
        }
        let s = summary(&snap);
        assert_eq!(
            s,
            Summary {
                streams: 1,
                calls: 1,
                clients: 1,
                registered: 2
            }
        );
        snap.calls.push(Call {
            call_id: "c2@h".into(),
            direction: "incoming".into(),
            party: "alice@example.com".into(),
            streams: vec![
                stream("incoming", "192.0.2.1:7072", "[2001:db8::1]:5004"),
                stream("outgoing", "192.168.1.1:7074", "192.168.1.10:4000"),
            ],
            ..Call::default()
        });
        let s = summary(&snap);
        assert_eq!((s.streams, s.calls, s.clients), (3, 2, 1));
        let text = file_text(&snap, &s);
        assert_eq!(
            text,
            format!(
                "siproxd-rs statistics\nDate: 2027-01-15 08:01:00 UTC\nPID: {}\n\
                 STATS: 3 active RTP streams, 2 calls, 1 active clients, 2 registered clients\n\n\
                 Data;alice@example.com;c1@h;Outgoing call;Outgoing stream;192.0.2.1;198.51.100.9\n\
                 Data;alice@example.com;c2@h;Incoming call;Incoming stream;192.0.2.1;[2001:db8::1]\n\
                 Data;alice@example.com;c2@h;Incoming call;Outgoing stream;192.168.1.1;192.168.1.10\n",
                std::process::id()
            )
        );
    }
}
