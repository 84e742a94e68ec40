//! Logging: the log classes of siproxd's `debug_level` bitmask (behaviour §7.1) mapped onto
//! `log` targets, the filter that decides what each sink emits, and the process-wide logger.
//!
//! Code logs debug records with the class as target, e.g.
//! `log::debug!(target: logging::SIP, "...")`, so `-d 0x204` (SIP+RTP) still selects the same
//! records as in siproxd.
//!
//! Sinks (decisions §8):
//! - stderr, `HH:MM:SS.mmm LEVEL target: text` (local time), while in the foreground;
//! - syslog (`/dev/log`, facility daemon, ident `siproxd-rs[PID]`) once daemonized, filtered by
//!   `silence_log` as in siproxd;
//! - a [`LogHook`] registered once at start with [`set_hook`] (for the later `debug_port`
//!   module): it receives every record that passes the class filter, whatever `silence_log`.
//!
//! What a sink emits is decided by the pure function [`emits`].

use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, Ordering};
use std::sync::{Mutex, OnceLock};

use log::{Level, LevelFilter, Log, Metadata, Record};

pub const BABBLE: &str = "babble";
pub const NET: &str = "net";
pub const SIP: &str = "sip";
pub const REG: &str = "reg";
pub const NOSPEC: &str = "nospec";
pub const PROXY: &str = "proxy";
pub const DNS: &str = "dns";
pub const NETTRAF: &str = "nettraf";
pub const CONFIG: &str = "config";
pub const RTP: &str = "rtp";
pub const ACCESS: &str = "access";
pub const AUTH: &str = "auth";
pub const PLUGIN: &str = "plugin";
pub const RTPBABL: &str = "rtpbabl";

/// (target, bit) in siproxd's order.
pub const CLASSES: [(&str, u32); 14] = [
    (BABBLE, 0x0001),
    (NET, 0x0002),
    (SIP, 0x0004),
    (REG, 0x0008),
    (NOSPEC, 0x0010),
    (PROXY, 0x0020),
    (DNS, 0x0040),
    (NETTRAF, 0x0080),
    (CONFIG, 0x0100),
    (RTP, 0x0200),
    (ACCESS, 0x0400),
    (AUTH, 0x0800),
    (PLUGIN, 0x1000),
    (RTPBABL, 0x2000),
];

/// The bit of a target, or `None` for targets that are not a siproxd class.
pub fn class_bit(target: &str) -> Option<u32> {
    CLASSES.iter().find(|(t, _)| *t == target).map(|(_, b)| *b)
}

/// Syslog ident (decisions §8).
pub const IDENT: &str = "siproxd-rs";
/// Where the local syslog daemon listens.
pub const SYSLOG_PATH: &str = "/dev/log";
/// One log line is formatted into a stack buffer of this size and truncated beyond it.
pub const LINE_MAX: usize = 1024;

/// An output of the logger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    Stderr,
    Syslog,
    Hook,
}

/// Whether `sink` emits a record of `level` and `target`, given the `debug_level` class mask and
/// `silence_log` (behaviour §7.1).
///
/// Debug (and trace) records are emitted only when their class bit is set; debug records of
/// this crate without a class count as BABBLE, those of other crates are never emitted.
/// Info, warning and error always reach stderr and the hook; syslog drops debug unless
/// `silence_log < 1`, info unless `< 2`, warnings unless `< 3`, errors unless `< 4`.
pub fn emits(sink: Sink, level: Level, target: &str, debug_mask: u32, silence_log: u8) -> bool {
    let is_debug = matches!(level, Level::Debug | Level::Trace);
    if is_debug {
        // The common case on the hot paths: no debug class at all, decided without looking
        // the target up.
        if debug_mask == 0 {
            return false;
        }
        let bit = match class_bit(target) {
            Some(bit) => bit,
            None if target.starts_with("siproxd_rs") => 0x0001,
            None => return false,
        };
        if debug_mask & bit == 0 {
            return false;
        }
    }
    match sink {
        Sink::Stderr | Sink::Hook => true,
        Sink::Syslog => {
            let threshold = match level {
                Level::Debug | Level::Trace => 1,
                Level::Info => 2,
                Level::Warn => 3,
                Level::Error => 4,
            };
            silence_log < threshold
        }
    }
}

/// Receives every record that passes the class filter (see [`emits`] with [`Sink::Hook`]).
/// `line` is the record's text, already formatted (and truncated to [`LINE_MAX`]).
/// Called on the thread that logs; it must not block and must not log itself.
pub trait LogHook: Send + Sync {
    fn record(&self, level: Level, target: &str, line: &str);
}

struct Logger {
    debug_mask: AtomicU32,
    silence_log: AtomicU8,
    to_syslog: AtomicBool,
    syslog: Mutex<Option<UnixDatagram>>,
}

static LOGGER: Logger = Logger {
    debug_mask: AtomicU32::new(0),
    silence_log: AtomicU8::new(1),
    to_syslog: AtomicBool::new(false),
    syslog: Mutex::new(None),
};

static HOOK: OnceLock<Box<dyn LogHook>> = OnceLock::new();

/// Installs the logger (stderr sink) with the class mask and `silence_log`.
/// Fails only if a logger is already installed.
pub fn init(debug_mask: u32, silence_log: u8) -> Result<(), log::SetLoggerError> {
    set_levels(debug_mask, silence_log);
    log::set_logger(&LOGGER)?;
    log::set_max_level(LevelFilter::Trace);
    Ok(())
}

/// Changes the class mask and `silence_log` (e.g. on reload).
pub fn set_levels(debug_mask: u32, silence_log: u8) {
    LOGGER.debug_mask.store(debug_mask, Ordering::Relaxed);
    LOGGER.silence_log.store(silence_log, Ordering::Relaxed);
}

/// The current class mask.
pub fn debug_mask() -> u32 {
    LOGGER.debug_mask.load(Ordering::Relaxed)
}

/// Switches from stderr to syslog (after daemonizing). The socket is connected now, so it keeps
/// working after a chroot.
pub fn use_syslog() -> std::io::Result<()> {
    use_syslog_at(std::path::Path::new(SYSLOG_PATH))
}

fn use_syslog_at(path: &std::path::Path) -> std::io::Result<()> {
    let sock = UnixDatagram::unbound()?;
    sock.connect(path)?;
    sock.set_nonblocking(true)?;
    if let Ok(mut slot) = LOGGER.syslog.lock() {
        *slot = Some(sock);
    }
    LOGGER.to_syslog.store(true, Ordering::Relaxed);
    Ok(())
}

/// Registers the hook that receives every record (once per process; a second call returns
/// the hook back).
pub fn set_hook(hook: Box<dyn LogHook>) -> Result<(), Box<dyn LogHook>> {
    HOOK.set(hook)
}

impl Log for Logger {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        let mask = self.debug_mask.load(Ordering::Relaxed);
        let silence = self.silence_log.load(Ordering::Relaxed);
        let main = if self.to_syslog.load(Ordering::Relaxed) {
            Sink::Syslog
        } else {
            Sink::Stderr
        };
        emits(main, m.level(), m.target(), mask, silence)
            || (HOOK.get().is_some() && emits(Sink::Hook, m.level(), m.target(), mask, silence))
    }

    fn log(&self, record: &Record<'_>) {
        let mask = self.debug_mask.load(Ordering::Relaxed);
        let silence = self.silence_log.load(Ordering::Relaxed);
        let (level, target) = (record.level(), record.target());
        let syslog = self.to_syslog.load(Ordering::Relaxed);
        let main = if syslog { Sink::Syslog } else { Sink::Stderr };
        let to_main = emits(main, level, target, mask, silence);
        let hook = HOOK
            .get()
            .filter(|_| emits(Sink::Hook, level, target, mask, silence));
        if !to_main && hook.is_none() {
            return;
        }
        let mut text_buf = [0u8; LINE_MAX];
        let mut text = LineBuf::new(&mut text_buf);
        let _ = write!(text, "{}", record.args());
        let text = text.as_str();
        if to_main {
            if syslog {
                self.to_syslog_socket(level, target, text);
            } else {
                let ts = LocalTime::now();
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "{:02}:{:02}:{:02}.{:03} {}",
                    ts.hour,
                    ts.min,
                    ts.sec,
                    ts.millis,
                    Labelled {
                        level,
                        target,
                        text
                    }
                );
            }
        }
        if let Some(hook) = hook {
            hook.record(level, target, text);
        }
    }

    fn flush(&self) {
        let _ = std::io::stderr().flush();
    }
}

impl Logger {
    fn to_syslog_socket(&self, level: Level, target: &str, text: &str) {
        let mut buf = [0u8; LINE_MAX];
        let mut line = LineBuf::new(&mut buf);
        let ts = LocalTime::now();
        let _ = write!(
            line,
            "<{}>{} {:2} {:02}:{:02}:{:02} {}[{}]: {}",
            syslog_priority(level),
            ts.month_name(),
            ts.mday,
            ts.hour,
            ts.min,
            ts.sec,
            IDENT,
            std::process::id(),
            Labelled {
                level,
                target,
                text
            }
        );
        if let Ok(sock) = self.syslog.lock() {
            if let Some(sock) = sock.as_ref() {
                // A full or restarting syslog daemon loses the line rather than blocking the loop.
                let _ = sock.send(line.as_str().as_bytes());
            }
        }
    }
}

/// Logs `bytes` as a hex dump at debug level under `target` (behaviour §7.1: NETTRAF shows
/// every SIP packet sent or received), one record per 16 bytes between siproxd's header and
/// trailer lines. Costs nothing unless the class is enabled.
pub fn dump(target: &str, bytes: &[u8]) {
    if !log::log_enabled!(target: target, Level::Debug) {
        return;
    }
    log::debug!(target: target, "---BUFFER DUMP follows---");
    for chunk in bytes.chunks(16) {
        log::debug!(target: target, "{}", DumpLine(chunk));
    }
    log::debug!(target: target, "---end of BUFFER DUMP---");
}

/// Up to 16 bytes as `hh hh ... hh  text`, unprintable bytes shown as `.` (the hex column is
/// padded, so the text column lines up on a short last line).
struct DumpLine<'a>(&'a [u8]);

impl fmt::Display for DumpLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for i in 0..16 {
            match self.0.get(i) {
                Some(b) => write!(f, "{b:02x} ")?,
                None => f.write_str("   ")?,
            }
        }
        f.write_str(" ")?;
        for &b in self.0.iter().take(16) {
            let c = if b.is_ascii_graphic() || b == b' ' {
                char::from(b)
            } else {
                '.'
            };
            f.write_char(c)?;
        }
        Ok(())
    }
}

/// `"text"` with the escapes of `{:?}` on a `str` (quotes, backslashes, control and
/// non-printable characters), as a `Display`: the router build is compiled with
/// `-Z fmt-debug=none` (scripts/cross-build.sh), where `{:?}` prints nothing, so every text
/// that shows a string quoted uses this instead.
pub struct Quoted<'a>(pub &'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        for c in self.0.chars() {
            // `str`'s Debug leaves single quotes alone; `char::escape_debug` escapes them
            if c == '\'' {
                f.write_char(c)?;
            } else {
                for e in c.escape_debug() {
                    f.write_char(e)?;
                }
            }
        }
        f.write_char('"')
    }
}

/// Bytes as text, invalid UTF-8 shown as U+FFFD: what `String::from_utf8_lossy` gives,
/// written straight into the log line (no copy of bytes from the network).
pub struct Lossy<'a>(pub &'a [u8]);

impl fmt::Display for Lossy<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.utf8_chunks() {
            f.write_str(c.valid())?;
            if !c.invalid().is_empty() {
                f.write_char(char::REPLACEMENT_CHARACTER)?;
            }
        }
        Ok(())
    }
}

/// `[a, b, c]`: a slice of `Display` items, as `{:?}` shows a slice (the router build has no
/// `{:?}`, see [`Quoted`]).
pub struct List<'a, T>(pub &'a [T]);

impl<T: fmt::Display> fmt::Display for List<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('[')?;
        for (i, item) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{item}")?;
        }
        f.write_char(']')
    }
}

/// Syslog PRI: facility daemon (3), severities as siproxd (info is logged as notice).
pub fn syslog_priority(level: Level) -> u8 {
    const DAEMON: u8 = 3 << 3;
    DAEMON
        + match level {
            Level::Error => 3,
            Level::Warn => 4,
            Level::Info => 5,
            Level::Debug | Level::Trace => 7,
        }
}

struct Labelled<'a> {
    level: Level,
    target: &'a str,
    text: &'a str,
}

impl fmt::Display for Labelled<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.level {
            Level::Error => write!(f, "ERROR: {}", self.text),
            Level::Warn => write!(f, "WARNING: {}", self.text),
            Level::Info => write!(f, "INFO: {}", self.text),
            Level::Debug | Level::Trace => write!(f, "{}: {}", self.target, self.text),
        }
    }
}

/// A `fmt::Write` into a fixed buffer that silently truncates (at a char boundary).
struct LineBuf<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> LineBuf<'a> {
    fn new(buf: &'a mut [u8]) -> Self {
        LineBuf { buf, len: 0 }
    }

    fn as_str(&self) -> &str {
        let bytes = self.buf.get(..self.len).unwrap_or_default();
        std::str::from_utf8(bytes).unwrap_or_default()
    }
}

impl fmt::Write for LineBuf<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.buf.len().saturating_sub(self.len);
        let mut n = s.len().min(room);
        while !s.is_char_boundary(n) {
            n = n.saturating_sub(1);
        }
        let src = s.as_bytes().get(..n).unwrap_or_default();
        if let Some(dst) = self.buf.get_mut(self.len..self.len.saturating_add(n)) {
            dst.copy_from_slice(src);
            self.len = self.len.saturating_add(n);
        }
        Ok(())
    }
}

/// Local wall-clock time of a log line (also used by the debug port's lines).
pub(crate) struct LocalTime {
    month: i32,
    mday: i32,
    pub(crate) hour: i32,
    pub(crate) min: i32,
    pub(crate) sec: i32,
    pub(crate) millis: u32,
}

impl LocalTime {
    // libc marks time_t deprecated on musl (it becomes 64-bit there); the value is only passed
    // straight to localtime_r, so its width does not matter here.
    #[allow(deprecated)]
    pub(crate) fn now() -> Self {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let secs = libc::time_t::try_from(since.as_secs()).unwrap_or(libc::time_t::MAX);
        // SAFETY: localtime_r only writes into the tm we own; a zeroed tm is a valid value.
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        // SAFETY: both pointers are valid for the duration of the call.
        unsafe { libc::localtime_r(&secs, &mut tm) };
        LocalTime {
            month: tm.tm_mon,
            mday: tm.tm_mday,
            hour: tm.tm_hour,
            min: tm.tm_min,
            sec: tm.tm_sec,
            millis: since.subsec_millis(),
        }
    }

    fn month_name(&self) -> &'static str {
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        usize::try_from(self.month)
            .ok()
            .and_then(|m| MONTHS.get(m))
            .copied()
            .unwrap_or("Jan")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn lossy_is_from_utf8_lossy() {
        for b in [
            &b"plain"[..],
            b"a\xffb",
            b"\xe2\x82",
            b"x\xe2\x82y\xf0",
            "é".as_bytes(),
        ] {
            assert_eq!(Lossy(b).to_string(), String::from_utf8_lossy(b));
        }
    }

    #[test]
    fn quoted_is_str_debug() {
        let addrs: [std::net::SocketAddr; 2] = [
            "192.0.2.1:5060".parse().unwrap(),
            "[2001:db8::1]:5061".parse().unwrap(),
        ];
        assert_eq!(List(&addrs).to_string(), format!("{addrs:?}"));
        assert_eq!(List::<u8>(&[]).to_string(), "[]");
        for s in [
            "",
            "plain",
            "a\"b\\c'd",
            "tab\tnl\ncr\rnul\0bel\u{7}del\u{7f}",
            "é€😀",
            "\u{301}combining first, and a\u{301} later",
            "\u{200b}zero width, \u{feff}bom, \u{85}nel, \u{a0}nbsp",
            "\u{10ffff}\u{e000}",
        ] {
            assert_eq!(Quoted(s).to_string(), format!("{s:?}"));
            assert_eq!(Lossy(s.as_bytes()).to_string(), s);
        }
    }

    use super::*;

    #[test]
    fn sip_and_rtp_bits_match_siproxd() {
        assert_eq!(class_bit(SIP), Some(0x4));
        assert_eq!(class_bit(RTP), Some(0x200));
        assert_eq!(class_bit("other"), None);
    }

    #[test]
    fn mask_0x204_selects_sip_and_rtp_debug_only() {
        let on = |t| emits(Sink::Stderr, Level::Debug, t, 0x204, 1);
        assert!(on(SIP));
        assert!(on(RTP));
        assert!(!on(NET));
        assert!(!on(REG));
        assert!(!on(RTPBABL));
    }

    #[test]
    fn info_warn_error_always_reach_stderr_and_hook() {
        for level in [Level::Info, Level::Warn, Level::Error] {
            for sink in [Sink::Stderr, Sink::Hook] {
                assert!(emits(sink, level, NET, 0, 4), "{sink:?} {level}");
                assert!(
                    emits(sink, level, "siproxd_rs::net", 0, 4),
                    "{sink:?} {level}"
                );
            }
        }
    }

    #[test]
    fn silence_log_thresholds_apply_to_syslog_only() {
        let sys = |level, silence| emits(Sink::Syslog, level, SIP, 0x4, silence);
        assert!(sys(Level::Debug, 0));
        assert!(!sys(Level::Debug, 1));
        assert!(sys(Level::Info, 1));
        assert!(!sys(Level::Info, 2));
        assert!(sys(Level::Warn, 2));
        assert!(!sys(Level::Warn, 3));
        assert!(sys(Level::Error, 3));
        assert!(!sys(Level::Error, 4));
        // The hook (debug port) ignores silence_log.
        assert!(emits(Sink::Hook, Level::Debug, SIP, 0x4, 4));
        // ...but not the class mask.
        assert!(!emits(Sink::Hook, Level::Debug, SIP, 0x200, 0));
    }

    #[test]
    fn unclassed_debug_is_babble_for_us_and_silent_for_dependencies() {
        assert!(emits(Sink::Stderr, Level::Debug, "siproxd_rs::net", 0x1, 1));
        assert!(!emits(
            Sink::Stderr,
            Level::Debug,
            "siproxd_rs::net",
            0x2,
            1
        ));
        assert!(!emits(Sink::Stderr, Level::Trace, "mio::poll", u32::MAX, 0));
        assert!(emits(Sink::Stderr, Level::Warn, "mio::poll", 0, 1));
    }

    #[test]
    fn syslog_priority_is_daemon_facility() {
        assert_eq!(syslog_priority(Level::Error), 27);
        assert_eq!(syslog_priority(Level::Warn), 28);
        assert_eq!(syslog_priority(Level::Info), 29);
        assert_eq!(syslog_priority(Level::Debug), 31);
    }

    #[test]
    fn line_buffer_truncates_on_char_boundary() {
        let mut buf = [0u8; 5];
        let mut line = LineBuf::new(&mut buf);
        let _ = write!(line, "ab\u{e9}\u{e9}x");
        // "ab" + "é" = 4 bytes; the second "é" (2 bytes) does not fit.
        assert_eq!(line.as_str(), "ab\u{e9}");
        let _ = write!(line, "z");
        assert_eq!(line.as_str(), "ab\u{e9}z");
    }

    #[test]
    fn dump_lines_show_hex_and_printable_text() {
        assert_eq!(
            DumpLine(b"INVITE sip:a@b S").to_string(),
            "49 4e 56 49 54 45 20 73 69 70 3a 61 40 62 20 53  INVITE sip:a@b S"
        );
        let short = DumpLine(b"\r\n\x00\xff").to_string();
        assert_eq!(short, format!("0d 0a 00 ff {} ....", "   ".repeat(12)));
    }

    #[test]
    fn labels_follow_siproxd() {
        let l = |level| {
            Labelled {
                level,
                target: NET,
                text: "t",
            }
            .to_string()
        };
        assert_eq!(l(Level::Error), "ERROR: t");
        assert_eq!(l(Level::Warn), "WARNING: t");
        assert_eq!(l(Level::Info), "INFO: t");
        assert_eq!(l(Level::Debug), "net: t");
    }

    /// The only test that installs the process-wide logger (it can be installed once).
    #[test]
    fn installed_logger_feeds_the_hook_and_syslog() {
        static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());
        struct Recorder;
        impl LogHook for Recorder {
            fn record(&self, level: Level, target: &str, line: &str) {
                SEEN.lock()
                    .unwrap()
                    .push(format!("{level} {target} {line}"));
            }
        }
        init(0x2, 1).unwrap();
        assert!(set_hook(Box::new(Recorder)).is_ok());
        assert!(set_hook(Box::new(Recorder)).is_err());
        log::debug!(target: NET, "net line {}", 1);
        log::debug!(target: SIP, "sip line");
        log::info!(target: "siproxd_rs::x", "info line");
        {
            let seen = SEEN.lock().unwrap();
            assert!(seen.iter().any(|l| l == "DEBUG net net line 1"), "{seen:?}");
            assert!(
                seen.iter().any(|l| l == "INFO siproxd_rs::x info line"),
                "{seen:?}"
            );
            assert!(!seen.iter().any(|l| l.contains("sip line")), "{seen:?}");
        }

        let dir = std::env::temp_dir().join(format!("siproxd-rs-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log.sock");
        let _ = std::fs::remove_file(&path);
        let server = UnixDatagram::bind(&path).unwrap();
        server
            .set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .unwrap();
        use_syslog_at(&path).unwrap();
        // Other tests of this binary may log meanwhile: look for our lines.
        let expect = |needle: &str| {
            let mut buf = [0u8; 2048];
            loop {
                let n = server.recv(&mut buf).expect("syslog line not received");
                let line = String::from_utf8_lossy(&buf[..n]).into_owned();
                if line.contains(needle) {
                    return line;
                }
            }
        };
        log::debug!(target: NET, "hidden by silence_log");
        log::info!("to syslog");
        let line = expect("to syslog");
        let ident = format!(" siproxd-rs[{}]: INFO: to syslog", std::process::id());
        assert!(line.starts_with("<29>"), "{line}");
        assert!(line.ends_with(&ident), "{line}");
        set_levels(0x2, 0);
        log::debug!(target: NET, "shown at silence_log 0");
        let line = expect("silence_log 0");
        assert!(line.starts_with("<31>"), "{line}");
        assert!(line.ends_with("net: shown at silence_log 0"), "{line}");
        assert!(SEEN
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("hidden by silence_log")));

        dump(NETTRAF, b"not dumped");
        set_levels(0x82, 0);
        dump(NETTRAF, b"dumped");
        {
            let seen = SEEN.lock().unwrap();
            assert!(seen
                .iter()
                .any(|l| l == "DEBUG nettraf ---BUFFER DUMP follows---"));
            assert!(seen
                .iter()
                .any(|l| l.starts_with("DEBUG nettraf 64 75 6d 70 65 64 ")));
            assert!(seen
                .iter()
                .any(|l| l == "DEBUG nettraf ---end of BUFFER DUMP---"));
            assert!(!seen.iter().any(|l| l.contains("6e 6f 74")), "{seen:?}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
