//! `siproxd-rs --status [FILE] [--json]` through `status::cli`, on files written by
//! `Snapshot::write_file`.
#![allow(clippy::unwrap_used)] // test helpers: a failed set-up panics, as a test should

use std::fs;

use siproxd_rs::status::{self, Call, Registration, Snapshot, Stream};

mod tempdir;

use tempdir::TempDir;

/// Runs the cli: (exit code, stdout, stderr).
fn run(args: &[&str]) -> (i32, String, String) {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = status::cli(&args, &mut out, &mut err);
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

fn snapshot() -> Snapshot {
    let mut s = Snapshot::new("/etc/siproxd.conf", 1_795_000_000, 1_795_000_100);
    s.registrations.push(Registration {
        aor: "sip:alice@example.com".into(),
        contact: "sip:alice@192.168.1.10:5060".into(),
        source: "192.168.1.10:5060".into(),
        expires_in_s: 3600,
        state: "live".into(),
    });
    s.calls.push(Call {
        call_id: status::text_from_bytes(b"abc\xff@host"),
        streams: vec![Stream {
            media: "audio".into(),
            local: "203.0.113.5:7070".into(),
            remote: "198.51.100.7:49170".into(),
            latched: None,
            pkts_in: 7,
            bytes_in: 1204,
            ..Stream::default()
        }],
        ..Call::default()
    });
    s.count("dropped.acl", 2);
    s
}

#[test]
fn prints_tables_of_a_written_snapshot() {
    let dir = TempDir::new("tables");
    let file = dir.path_string("status.json");
    snapshot().write_file(file.as_ref()).unwrap();
    let (code, out, err) = run(&["--status", &file]);
    assert_eq!((code, err.as_str()), (0, ""));
    let header = format!(
        "siproxd-rs {}, pid {}, up 00:01:40\n",
        env!("CARGO_PKG_VERSION"),
        std::process::id()
    );
    assert!(out.starts_with(&header), "{out}");
    assert!(out.contains("  config    /etc/siproxd.conf\n"), "{out}");
    assert!(
        out.contains("  started   2026-11-18 11:06:40 UTC\n"),
        "{out}"
    );
    assert!(out.contains("\nRegistrations (1)\n  AOR "), "{out}");
    assert!(
        out.contains("  sip:alice@example.com  sip:alice@192.168.1.10:5060  192.168.1.10:5060  01:00:00  live\n"),
        "{out}"
    );
    // The invalid byte of the Call-ID was stored as U+FFFD.
    assert!(
        out.contains("  abc\u{fffd}@host  #0 audio  -      -      203.0.113.5:7070"),
        "{out}"
    );
    assert!(out.contains("1.1 KiB"), "{out}");
    assert!(out.ends_with("\nCounters\n  dropped.acl  2\n"), "{out}");
}

#[test]
fn json_prints_the_file_unchanged() {
    let dir = TempDir::new("json");
    let file = dir.path_string("status.json");
    snapshot().write_file(file.as_ref()).unwrap();
    let (code, out, err) = run(&["--json", &file, "--status"]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(out.as_bytes(), fs::read(&file).unwrap());
    assert_eq!(Snapshot::from_json(out.as_bytes()).unwrap(), snapshot());
}

#[test]
fn missing_file_says_why_and_hints() {
    let dir = TempDir::new("missing");
    let file = dir.path_string("nope.json");
    for args in [
        vec!["--status", file.as_str()],
        vec![file.as_str(), "--json"],
    ] {
        let (code, out, err) = run(&args);
        assert_eq!(code, 1);
        assert_eq!(out, "");
        assert_eq!(
            err,
            format!(
                "siproxd-rs: cannot read {file}: No such file or directory (os error 2) \
                 (is siproxd-rs running with status_file set?)\n"
            )
        );
    }
}

#[test]
fn default_path_is_used_without_file() {
    let default = std::path::Path::new(status::DEFAULT_STATUS_FILE);
    assert_eq!(
        status::DEFAULT_STATUS_FILE,
        "/var/run/siproxd-rs/status.json"
    );
    if default.exists() {
        return; // a real daemon runs here; its file is not ours to judge
    }
    let (code, _, err) = run(&["--status"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("siproxd-rs: cannot read /var/run/siproxd-rs/status.json: "),
        "{err}"
    );
}

#[test]
fn corrupt_files_name_the_problem() {
    let dir = TempDir::new("corrupt");
    let file = dir.path_string("status.json");
    let cases: [(&[u8], &str); 4] = [
        (
            b"",
            "invalid JSON at line 1, column 1: unexpected end of input",
        ),
        (
            b"{\"format\": 1,\n \"pid\": 12,,}",
            "invalid JSON at line 2, column 12: found ',', expected a string (member name)",
        ),
        (b"{\"format\": 1}", "version: missing"),
        (
            b"\"\xff\"",
            "invalid JSON at line 1, column 2: invalid UTF-8 in a string",
        ),
    ];
    for (content, problem) in cases {
        fs::write(&file, content).unwrap();
        for json in [false, true] {
            let args: &[&str] = if json { &[&file, "--json"] } else { &[&file] };
            let (code, out, err) = run(args);
            assert_eq!(code, 1);
            assert_eq!(out, "", "nothing printed from a corrupt file");
            assert_eq!(
                err,
                format!("siproxd-rs: {file} is not a valid status file: {problem}\n")
            );
        }
    }
}

#[test]
fn bad_arguments_are_usage_errors() {
    let (code, out, err) = run(&["--status", "--tables"]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(
        err.starts_with("siproxd-rs: unknown option --tables for --status\nusage: "),
        "{err}"
    );

    let (code, _, err) = run(&["--status", "a.json", "b.json"]);
    assert_eq!(code, 2);
    assert!(
        err.starts_with("siproxd-rs: --status takes one FILE, got a.json and b.json\n"),
        "{err}"
    );

    let (code, out, err) = run(&["--status", "--help"]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(
        out.starts_with("usage: siproxd-rs --status [FILE] [--json]\n"),
        "{out}"
    );
}
