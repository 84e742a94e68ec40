//! Files written by the daemon: the registration file (`registration_file`,
//! `autosave_registrations`, decisions §7) and the status snapshot (`status_file`,
//! `status_interval`).
//!
//! * [`atomic_write`] replaces a file so a reader (or the next start after a power cut) sees
//!   either the old or the new content, never a truncated mix: siproxd truncates the file in
//!   place (behaviour §6), so a crash while saving loses every registration.
//! * [`SaveSchedule`] is sans-IO: it decides *when* to save from a `now` in milliseconds
//!   the shell passes in, so its timing is tested with a virtual clock.
//! * [`read_limited`] reads a file the daemon or `--status` consumes, with a size cap.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::limits::{SAVE_DELAY_MS, SAVE_MIN_INTERVAL_MS};

/// Replaces `path` with `bytes` atomically, mode 0644 (before the umask).
///
/// Writes `<path>.tmp.<pid>` in the same directory (a rename is only atomic within one
/// filesystem), fsyncs it, renames it over `path` and fsyncs the directory so the rename
/// itself survives a power cut. On any error the temporary file is removed and `path` is
/// left as it was.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    atomic_write_mode(path, bytes, 0o644)
}

/// [`atomic_write`] with the permission bits of the new file (e.g. 0600 for a file holding
/// contact addresses that other local users should not read).
pub fn atomic_write_mode(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let tmp = temp_path(path)?;
    if let Err(e) = write_synced(&tmp, bytes, mode).and_then(|()| fs::rename(&tmp, path)) {
        // Best effort: the error that matters is the one already in hand.
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(path)
}

/// Replaces `path` atomically (temp file + rename) without fsync: for the status snapshot, a
/// file that is rewritten often and worthless after a power cut, so the event loop does not
/// wait for flash storage.
pub fn replace_unsynced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = temp_path(path)?;
    let written = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes))
        .and_then(|()| fs::rename(&tmp, path));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// `<dir>/<name>.tmp.<pid>`: unique among processes, so two instances pointed at one file
/// cannot write into each other's temporary file.
fn temp_path(path: &Path) -> io::Result<PathBuf> {
    let Some(name) = path.file_name() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: not a file name", path.display()),
        ));
    };
    let mut tmp_name = name.to_os_string();
    tmp_name.push(format!(".tmp.{}", std::process::id()));
    Ok(path.with_file_name(tmp_name))
}

fn write_synced(tmp: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        // A symlink planted at the temporary name must not redirect the write.
        .custom_flags(libc::O_NOFOLLOW)
        .open(tmp)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn sync_dir(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    match File::open(dir).and_then(|d| d.sync_all()) {
        // Some filesystems cannot fsync a directory; the rename has happened all the same.
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(()),
        other => other,
    }
}

/// Creates the directory that will hold `path` (and its ancestors) if missing, with `mode`
/// for the directories created. `/var/run` is emptied at boot, so the daemon makes
/// `/var/run/siproxd-rs` itself before it drops privileges.
pub fn create_parent_dir(path: &Path, mode: u32) -> io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            fs::DirBuilder::new().recursive(true).mode(mode).create(dir)
        }
        _ => Ok(()),
    }
}

/// Reads a whole file of at most `max` bytes; a larger file is an `InvalidData` error
/// rather than an unbounded allocation.
pub fn read_limited(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    let mut data = Vec::new();
    File::open(path)?
        .take(max.saturating_add(1))
        .read_to_end(&mut data)?;
    if data.len() as u64 > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("file larger than {max} bytes"),
        ));
    }
    Ok(data)
}

/// When to save a file that changes now and then (the registration table) or that is
/// refreshed periodically (the status snapshot).
///
/// * After [`mark_dirty`](Self::mark_dirty), a save is due [`SAVE_DELAY_MS`] after the
///   *first* change of a burst: later changes join that save rather than postponing it, so
///   constant churn cannot starve saving.
/// * Saves (and failed attempts) are at least [`SAVE_MIN_INTERVAL_MS`] apart.
/// * With a period, a save is due `period` after the last one even without changes
///   (siproxd's `autosave_registrations`, `status_interval`); period 0 means never periodic.
///
/// The shell asks [`next_deadline`](Self::next_deadline) for its poll timeout, checks
/// [`due`](Self::due) after waking, writes, then reports [`saved`](Self::saved) or
/// [`failed`](Self::failed). A write forced from outside (SIGUSR1, exit) also reports
/// `saved`, which restarts the period. Times are milliseconds of any monotonic clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveSchedule {
    period_ms: u64,
    delay_ms: u64,
    last_attempt_ms: u64,
    /// When the oldest unsaved change happened.
    dirty_since_ms: Option<u64>,
}

impl SaveSchedule {
    /// A schedule starting at `now_ms` (the first periodic save is one period later, like
    /// siproxd's timer that starts when the file is loaded).
    pub fn new(now_ms: u64, period_s: u32) -> Self {
        Self::with_delay(now_ms, period_s, SAVE_DELAY_MS)
    }

    /// [`new`](Self::new) with another delay after a change.
    pub fn with_delay(now_ms: u64, period_s: u32, delay_ms: u64) -> Self {
        SaveSchedule {
            period_ms: u64::from(period_s).saturating_mul(1000),
            delay_ms,
            last_attempt_ms: now_ms,
            dirty_since_ms: None,
        }
    }

    /// Changes the period (configuration reload); the next periodic save counts from the
    /// last save.
    pub fn set_period(&mut self, period_s: u32) {
        self.period_ms = u64::from(period_s).saturating_mul(1000);
    }

    /// Records a change that must reach the file.
    pub fn mark_dirty(&mut self, now_ms: u64) {
        if self.dirty_since_ms.is_none() {
            self.dirty_since_ms = Some(now_ms);
        }
    }

    pub fn is_dirty(&self) -> bool {
        self.dirty_since_ms.is_some()
    }

    /// The earliest time a save is due, or `None` if nothing will ever be due without a
    /// new change.
    pub fn next_deadline(&self) -> Option<u64> {
        let rate_limit = self.last_attempt_ms.saturating_add(SAVE_MIN_INTERVAL_MS);
        let after_change = self
            .dirty_since_ms
            .map(|t| t.saturating_add(self.delay_ms).max(rate_limit));
        let periodic = (self.period_ms > 0).then(|| {
            self.last_attempt_ms
                .saturating_add(self.period_ms)
                .max(rate_limit)
        });
        match (after_change, periodic) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether a save should happen now.
    pub fn due(&self, now_ms: u64) -> bool {
        self.next_deadline().is_some_and(|d| now_ms >= d)
    }

    /// The file was written with everything changed so far.
    pub fn saved(&mut self, now_ms: u64) {
        self.last_attempt_ms = now_ms;
        self.dirty_since_ms = None;
    }

    /// Writing failed: the changes stay pending and are retried, at the earliest one
    /// minimum interval later (a full disk must not turn into a busy loop).
    pub fn failed(&mut self, now_ms: u64) {
        self.last_attempt_ms = now_ms;
        if self.dirty_since_ms.is_some() {
            self.dirty_since_ms = Some(now_ms);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drives a schedule with a virtual clock in 100 ms steps from `from` to `to`, saving
    /// whenever due, and returns the save times.
    fn run(s: &mut SaveSchedule, from: u64, to: u64, changes: &[u64]) -> Vec<u64> {
        let mut saves = Vec::new();
        let mut t = from;
        while t <= to {
            if changes.contains(&t) {
                s.mark_dirty(t);
            }
            if s.due(t) {
                s.saved(t);
                saves.push(t);
            }
            t += 100;
        }
        saves
    }

    #[test]
    fn nothing_due_without_changes_or_period() {
        let s = SaveSchedule::new(0, 0);
        assert_eq!(s.next_deadline(), None);
        assert!(!s.due(u64::MAX));
    }

    #[test]
    fn a_burst_of_changes_is_saved_once_after_the_delay() {
        let mut s = SaveSchedule::new(0, 0);
        let burst: Vec<u64> = (50..80).map(|i| i * 100).collect(); // 5.0 s .. 7.9 s
        let saves = run(&mut s, 0, 20_000, &burst);
        // Due 2 s after the first change of the burst; the changes made after that save are
        // written 2 s after the first of them.
        assert_eq!(saves, vec![7000, 9100]);
        assert!(!s.is_dirty());
    }

    #[test]
    fn later_changes_do_not_postpone_the_save() {
        let mut s = SaveSchedule::new(0, 0);
        s.mark_dirty(10_000);
        s.mark_dirty(11_500);
        assert_eq!(s.next_deadline(), Some(12_000));
        assert!(!s.due(11_999));
        assert!(s.due(12_000));
    }

    #[test]
    fn never_more_than_one_save_per_second() {
        // Even with no delay and a change every 100 ms.
        let mut s = SaveSchedule::with_delay(0, 0, 0);
        let changes: Vec<u64> = (0..100).map(|i| i * 100).collect();
        let saves = run(&mut s, 0, 10_000, &changes);
        assert!(saves.len() >= 9, "{saves:?}");
        for pair in saves.windows(2) {
            assert!(pair[1] - pair[0] >= 1000, "{saves:?}");
        }
    }

    #[test]
    fn periodic_saves_without_changes() {
        let mut s = SaveSchedule::new(500, 3);
        let saves = run(&mut s, 500, 10_500, &[]);
        assert_eq!(saves, vec![3500, 6500, 9500]);
    }

    #[test]
    fn a_change_save_restarts_the_period() {
        let mut s = SaveSchedule::new(0, 10);
        s.mark_dirty(4000);
        assert_eq!(s.next_deadline(), Some(6000));
        s.saved(6000);
        assert_eq!(s.next_deadline(), Some(16_000));
        // A forced save (SIGUSR1) also restarts it.
        s.saved(7000);
        assert_eq!(s.next_deadline(), Some(17_000));
    }

    #[test]
    fn period_one_second_is_still_rate_limited_and_change_saves_come_first() {
        let mut s = SaveSchedule::new(0, 1);
        let saves = run(&mut s, 0, 3000, &[200]);
        // The change joins the periodic save at 1 s rather than adding another one.
        assert_eq!(saves, vec![1000, 2000, 3000]);
    }

    #[test]
    fn a_failed_save_is_retried_no_sooner_than_a_second_later() {
        let mut s = SaveSchedule::with_delay(0, 0, 0);
        s.mark_dirty(5000);
        assert!(s.due(5000));
        s.failed(5000);
        assert!(s.is_dirty());
        assert!(!s.due(5999));
        assert!(s.due(6000));
        s.saved(6000);
        assert_eq!(s.next_deadline(), None);
    }

    #[test]
    fn reload_changes_the_period() {
        let mut s = SaveSchedule::new(0, 0);
        assert_eq!(s.next_deadline(), None);
        s.set_period(60);
        assert_eq!(s.next_deadline(), Some(60_000));
        s.set_period(0);
        assert_eq!(s.next_deadline(), None);
    }

    #[test]
    fn huge_times_saturate() {
        let mut s = SaveSchedule::new(u64::MAX - 10, u32::MAX);
        s.mark_dirty(u64::MAX - 5);
        assert_eq!(s.next_deadline(), Some(u64::MAX));
        assert!(s.due(u64::MAX));
    }

    proptest::proptest! {
        /// Whatever the changes, saves are a second apart, each change is saved within
        /// max(delay, 1 s) of happening, and nothing is saved without a change when there
        /// is no period.
        #[test]
        fn schedule_invariants(
            mut changes in proptest::collection::vec(0u64..600, 0..40),
            delay_steps in 0u64..40,
        ) {
            let delay = delay_steps * 100;
            for c in &mut changes {
                *c *= 100;
            }
            changes.sort_unstable();
            let mut s = SaveSchedule::with_delay(0, 0, delay);
            let saves = run(&mut s, 0, 70_000, &changes);
            for pair in saves.windows(2) {
                proptest::prop_assert!(pair[1] - pair[0] >= SAVE_MIN_INTERVAL_MS);
            }
            for &c in &changes {
                let limit = c + delay.max(SAVE_MIN_INTERVAL_MS);
                proptest::prop_assert!(
                    saves.iter().any(|&t| t >= c && t <= limit),
                    "change at {} not saved by {}: {:?}", c, limit, saves
                );
            }
            // Each save follows a change that no earlier save covered.
            let mut last = None;
            for &t in &saves {
                proptest::prop_assert!(
                    changes.iter().any(|&c| c <= t && last.is_none_or(|l| c > l)),
                    "save at {} without a change: {:?}", t, saves
                );
                last = Some(t);
            }
            proptest::prop_assert!(!s.is_dirty());
        }
    }

    #[test]
    fn temp_name_is_beside_the_target() {
        let tmp = temp_path(Path::new("/var/run/siproxd-rs/status.json")).unwrap();
        assert_eq!(
            tmp,
            PathBuf::from(format!(
                "/var/run/siproxd-rs/status.json.tmp.{}",
                std::process::id()
            ))
        );
        assert_eq!(
            temp_path(Path::new("/")).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }
}
