//! `siproxd-rs --status`: a snapshot as aligned text tables for a terminal.

use core::fmt::Write as _;

use super::Snapshot;

/// Longer cells (Call-IDs, URIs) are cut so one odd value does not push the other columns
/// off the screen; `--json` has them whole.
const MAX_CELL_CHARS: usize = 48;

#[derive(Clone, Copy)]
enum Align {
    Left,
    Right,
}

/// The whole report. `now_unix` is the wall clock, used for the age of the snapshot (a
/// stale one means the daemon stopped writing it).
pub fn render_tables(snap: &Snapshot, now_unix: u64) -> String {
    let mut out = String::new();
    let taken = snap.taken_unix();
    let age = if now_unix >= taken {
        format!("{} ago", human_duration(now_unix - taken))
    } else {
        "in the future: check the clock".to_owned()
    };
    // Writing into a String cannot fail.
    let _ = write!(
        out,
        "siproxd-rs {}, pid {}, up {}\n  config    {}\n  started   {}\n  snapshot  {} ({age})\n",
        cell(&snap.version),
        snap.pid,
        human_duration(snap.uptime_s),
        cell(&snap.config_file),
        utc_datetime(snap.started_unix),
        utc_datetime(taken),
    );
    if let Some(p) = &snap.public {
        let _ = write!(out, "  public    {} ({}", cell(&p.address), cell(&p.source));
        if p.last_answer_unix > 0 {
            let _ = write!(out, ", answered {}", utc_datetime(p.last_answer_unix));
        }
        out.push_str(")\n");
    }

    let regs: Vec<Vec<String>> = snap
        .registrations
        .iter()
        .map(|r| {
            vec![
                cell(&r.aor),
                cell(&r.contact),
                cell(&r.source),
                human_duration(r.expires_in_s),
                cell(&r.state),
            ]
        })
        .collect();
    section(
        &mut out,
        &format!("Registrations ({})", regs.len()),
        &[
            ("AOR", Align::Left),
            ("CONTACT", Align::Left),
            ("SOURCE", Align::Left),
            ("EXPIRES", Align::Right),
            ("STATE", Align::Left),
        ],
        &regs,
        true,
    );

    let calls: Vec<Vec<String>> = snap
        .calls
        .iter()
        .map(|c| {
            let known = c.started_unix != 0 && c.started_unix <= taken;
            vec![
                cell(&c.call_id),
                cell(&c.direction),
                cell(&c.party),
                if known {
                    utc_datetime(c.started_unix)
                } else {
                    "-".to_owned()
                },
                if known {
                    human_duration(taken - c.started_unix)
                } else {
                    "-".to_owned()
                },
                call_state(c).to_owned(),
                c.streams.len().to_string(),
            ]
        })
        .collect();
    section(
        &mut out,
        &format!("Calls ({})", calls.len()),
        &[
            ("CALL-ID", Align::Left),
            ("DIRECTION", Align::Left),
            ("PARTY", Align::Left),
            ("STARTED", Align::Left),
            ("DURATION", Align::Right),
            ("STATE", Align::Left),
            ("STREAMS", Align::Right),
        ],
        &calls,
        true,
    );

    let mut streams = Vec::new();
    for call in &snap.calls {
        for (i, s) in call.streams.iter().enumerate() {
            streams.push(vec![
                if i == 0 {
                    cell(&call.call_id)
                } else {
                    String::new()
                },
                format!("#{} {}", s.media_index, cell(&s.media)),
                codec(s.payload_type, s.codec.as_deref()),
                match s.direction.as_str() {
                    "incoming" => "internet".to_owned(),
                    "outgoing" => "phone".to_owned(),
                    other => cell(other),
                },
                cell(&s.local),
                cell(&s.remote),
                s.latched.as_deref().map_or_else(|| "-".to_owned(), cell),
                s.pkts_in.to_string(),
                human_bytes(s.bytes_in),
                s.pkts_out.to_string(),
                human_bytes(s.bytes_out),
                flow(s.pkts_in, s.pkts_out).to_owned(),
                s.idle_in_s
                    .map_or_else(|| "never".to_owned(), human_duration),
                s.drops.to_string(),
            ]);
        }
    }
    section(
        &mut out,
        &format!("Streams ({}, one row per relay socket)", streams.len()),
        &[
            ("CALL-ID", Align::Left),
            ("MEDIA", Align::Left),
            ("CODEC", Align::Left),
            ("FACES", Align::Left),
            ("LOCAL", Align::Left),
            ("REMOTE", Align::Left),
            ("LATCHED", Align::Left),
            ("PKTS IN", Align::Right),
            ("BYTES IN", Align::Right),
            ("PKTS OUT", Align::Right),
            ("BYTES OUT", Align::Right),
            ("FLOW", Align::Left),
            ("LAST IN", Align::Right),
            ("DROPS", Align::Right),
        ],
        &streams,
        true,
    );

    // Only where SIP over TCP is in use: a UDP-only router shows no empty section.
    let tcp: Vec<Vec<String>> = snap
        .tcp
        .iter()
        .map(|t| {
            vec![
                cell(&t.peer),
                cell(&t.local),
                match t.role.as_str() {
                    "accepted" => "peer".to_owned(),
                    "opened" => "proxy".to_owned(),
                    other => cell(other),
                },
                if t.connecting { "connecting" } else { "open" }.to_owned(),
                human_duration(t.idle_s),
                human_bytes(t.queued),
            ]
        })
        .collect();
    if !tcp.is_empty() {
        section(
            &mut out,
            &format!("TCP connections ({})", tcp.len()),
            &[
                ("PEER", Align::Left),
                ("LOCAL", Align::Left),
                ("OPENED BY", Align::Left),
                ("STATE", Align::Left),
                ("IDLE", Align::Right),
                ("QUEUED", Align::Right),
            ],
            &tcp,
            true,
        );
    }

    let blacklist: Vec<Vec<String>> = snap
        .blacklist
        .iter()
        .map(|b| {
            vec![
                cell(&b.address),
                cell(&b.kind),
                b.failures.to_string(),
                if b.blocked { "blocked" } else { "counting" }.to_owned(),
                b.expires_in_s
                    .map_or_else(|| "never".to_owned(), human_duration),
                b.dropped.to_string(),
            ]
        })
        .collect();
    if !blacklist.is_empty() {
        section(
            &mut out,
            &format!("Blacklist ({})", blacklist.len()),
            &[
                ("ADDRESS", Align::Left),
                ("KIND", Align::Left),
                ("FAILURES", Align::Right),
                ("STATE", Align::Left),
                ("LAPSES IN", Align::Right),
                ("DROPPED", Align::Right),
            ],
            &blacklist,
            true,
        );
    }

    let counters: Vec<Vec<String>> = snap
        .counters
        .iter()
        .map(|(name, n)| vec![cell(name), n.to_string()])
        .collect();
    section(
        &mut out,
        "Counters",
        &[("", Align::Left), ("", Align::Right)],
        &counters,
        false,
    );
    out
}

/// A blank line, the title, then the table indented by two spaces, or `(none)`.
fn section(
    out: &mut String,
    title: &str,
    columns: &[(&str, Align)],
    rows: &[Vec<String>],
    header: bool,
) {
    out.push('\n');
    out.push_str(title);
    out.push('\n');
    if rows.is_empty() {
        out.push_str("  (none)\n");
        return;
    }
    let mut widths: Vec<usize> = columns
        .iter()
        .map(|(h, _)| if header { h.chars().count() } else { 0 })
        .collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    if header {
        let names: Vec<String> = columns.iter().map(|(h, _)| (*h).to_owned()).collect();
        line(out, columns, &widths, &names);
    }
    for row in rows {
        line(out, columns, &widths, row);
    }
}

fn line(out: &mut String, columns: &[(&str, Align)], widths: &[usize], cells: &[String]) {
    let start = out.len();
    out.push_str("  ");
    for (i, ((c, (_, align)), w)) in cells.iter().zip(columns).zip(widths).enumerate() {
        if i > 0 {
            out.push_str("  ");
        }
        let pad = w.saturating_sub(c.chars().count());
        match align {
            Align::Left => {
                out.push_str(c);
                out.extend(core::iter::repeat_n(' ', pad));
            }
            Align::Right => {
                out.extend(core::iter::repeat_n(' ', pad));
                out.push_str(c);
            }
        }
    }
    let trimmed = out.get(start..).map_or(0, |l| l.trim_end().len());
    out.truncate(start + trimmed);
    out.push('\n');
}

/// A value made safe and short for a terminal: control and bidirectional-override
/// characters (which a Call-ID from the network may carry) become `?`, long values end in
/// `…`, empty ones show as `-`.
fn cell(s: &str) -> String {
    if s.is_empty() {
        return "-".to_owned();
    }
    let mut out = String::with_capacity(s.len().min(MAX_CELL_CHARS * 4));
    for (n, c) in s.chars().enumerate() {
        if n + 1 == MAX_CELL_CHARS && s.chars().nth(MAX_CELL_CHARS).is_some() {
            out.push('…');
            break;
        }
        let unsafe_char = c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        out.push(if unsafe_char { '?' } else { c });
    }
    out
}

/// `answered` once a 2xx agreed on one of its streams, `ringing` before, `-` unknown.
fn call_state(c: &super::Call) -> &'static str {
    if c.streams.iter().any(|s| s.established == Some(true)) {
        "answered"
    } else if !c.streams.is_empty() && c.streams.iter().all(|s| s.established == Some(false)) {
        "ringing"
    } else {
        "-"
    }
}

/// `PCMU (0)`, `pt 96` when the name is unknown, `-` when nothing is.
fn codec(payload_type: Option<u8>, name: Option<&str>) -> String {
    match (payload_type, name.filter(|n| !n.is_empty())) {
        (Some(pt), Some(n)) => format!("{} ({pt})", cell(n)),
        (Some(pt), None) => format!("pt {pt}"),
        (None, Some(n)) => cell(n),
        (None, None) => "-".to_owned(),
    }
}

/// Which way media flows through one relay socket: `both`, `in only` / `out only` (one-way
/// audio), or `none` (silent).
fn flow(pkts_in: u64, pkts_out: u64) -> &'static str {
    match (pkts_in > 0, pkts_out > 0) {
        (true, true) => "both",
        (true, false) => "in only",
        (false, true) => "out only",
        (false, false) => "none",
    }
}

/// `2d 03:04:05`, or `03:04:05` under a day.
pub fn human_duration(secs: u64) -> String {
    let (d, rest) = (secs / 86_400, secs % 86_400);
    let (h, m, s) = (rest / 3600, rest % 3600 / 60, rest % 60);
    if d > 0 {
        format!("{d}d {h:02}:{m:02}:{s:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

/// `512 B`, `1.5 KiB`, `3.2 GiB` (rounded down to a tenth).
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    // u64 only (u128 division and printing would add 3 kB to the router binary): the tenth
    // is 10 * (bytes mod unit) / unit, and that product stays below 10 * 2^60
    let mut unit_size: u64 = 1024;
    for unit in UNITS {
        if bytes / 1024 < unit_size || unit == "EiB" {
            let tenth = bytes % unit_size * 10 / unit_size;
            return format!("{}.{tenth} {unit}", bytes / unit_size);
        }
        unit_size *= 1024;
    }
    format!("{bytes} B")
}

/// `2026-11-24 10:21:10 UTC` from Unix seconds (proleptic Gregorian calendar).
pub fn utc_datetime(unix: u64) -> String {
    let (days, secs) = (unix / 86_400, unix % 86_400);
    // Civil date from a day count, with years starting in March so the leap day is last.
    let z = days + 719_468; // days from 0000-03-01 to 1970-01-01
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(human_duration(0), "00:00:00");
        assert_eq!(human_duration(59), "00:00:59");
        assert_eq!(human_duration(3600 + 62), "01:01:02");
        assert_eq!(human_duration(86_399), "23:59:59");
        assert_eq!(
            human_duration(2 * 86_400 + 3 * 3600 + 4 * 60 + 5),
            "2d 03:04:05"
        );
        assert_eq!(human_duration(u64::MAX), "213503982334601d 07:00:15");
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1024), "1.0 KiB");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(1024 * 1024 - 1), "1023.9 KiB");
        assert_eq!(human_bytes(5 * 1024 * 1024 * 1024 + 1), "5.0 GiB");
        assert_eq!(human_bytes(u64::MAX), "15.9 EiB");
        // the u64 arithmetic agrees with plain 128-bit arithmetic around every unit boundary
        let reference = |b: u64| {
            let (b, mut unit_size) = (u128::from(b), 1024u128);
            for unit in ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"] {
                if b < unit_size * 1024 || unit == "EiB" {
                    let tenths = b * 10 / unit_size;
                    return format!("{}.{} {unit}", tenths / 10, tenths % 10);
                }
                unit_size *= 1024;
            }
            unreachable!()
        };
        for shift in (10..64).step_by(10) {
            for base in [1u64 << shift, (1 << shift) / 10 * 9, (1 << shift) / 20 * 19] {
                for b in [
                    base.saturating_sub(1),
                    base,
                    base + 1,
                    base.saturating_mul(1000),
                ] {
                    if b >= 1024 {
                        assert_eq!(human_bytes(b), reference(b), "{b}");
                    }
                }
            }
        }
        for b in [u64::MAX - 1, u64::MAX / 3, u64::MAX / 10 * 9] {
            assert_eq!(human_bytes(b), reference(b), "{b}");
        }
    }

    #[test]
    fn dates() {
        assert_eq!(utc_datetime(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_datetime(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc_datetime(1_795_000_000), "2026-11-18 11:06:40 UTC");
        assert_eq!(utc_datetime(4_107_542_399), "2100-02-28 23:59:59 UTC");
        assert_eq!(utc_datetime(4_107_542_400), "2100-03-01 00:00:00 UTC");
        // Hostile values do not overflow.
        assert!(utc_datetime(u64::MAX).ends_with(" UTC"));
    }

    #[test]
    fn cells_are_terminal_safe_and_bounded() {
        assert_eq!(cell(""), "-");
        assert_eq!(cell("a\u{1b}[2Jb\u{7}"), "a?[2Jb?");
        assert_eq!(cell("x\u{202e}y\u{85}"), "x?y?");
        let long = "c".repeat(100);
        let cut = cell(&long);
        assert_eq!(cut.chars().count(), MAX_CELL_CHARS);
        assert!(cut.ends_with('…'));
        let exact = "é".repeat(MAX_CELL_CHARS);
        assert_eq!(cell(&exact), exact, "a value of exactly the limit is whole");
    }
}
