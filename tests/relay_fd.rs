//! RLIMIT_NOFILE at start (`net::relay::ensure_fd_limit` from main): the real binary, in child
//! processes whose limit is lowered before exec (the test runner's own limit is untouched).

mod harness;

use harness::*;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The binary with `args`, its RLIMIT_NOFILE set to (`soft`, `hard`) and, if `uid` is given,
/// running as that user.
fn command(args: &[&str], soft: u64, hard: u64, uid: Option<u32>) -> Command {
    let mut cmd = harness::command();
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::null());
    if let Some(uid) = uid {
        cmd.uid(uid);
    }
    let lim = libc::rlimit {
        rlim_cur: soft as libc::rlim_t,
        rlim_max: hard as libc::rlim_t,
    };
    // SAFETY: setrlimit is async-signal-safe; it only affects the child.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd
}

const WIDE: &str = "rtp_port_low = 7070\nrtp_port_high = 9070\nmax_rtp_streams = 4096\n";

#[test]
fn hard_limit_too_low_for_the_range_exits_1_naming_limit_and_range() {
    // As root the daemon may raise the hard limit too, so the child runs as nobody.
    let uid = siproxd_rs::process::is_root()
        .then(|| siproxd_rs::process::lookup_user("nobody").unwrap().0);
    let dir = TempDir::new("fd-low");
    let conf = loopback_config(&dir, free_udp_port(), WIDE);
    let out = command(&["-f", "-c", conf.to_str().unwrap()], 256, 256, uid)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "siproxd-rs: RLIMIT_NOFILE is 256 (hard 256) but rtp_port_low..rtp_port_high = \
             7070..9070 needs 4068 descriptors"
        ),
        "{err}"
    );
    assert!(err.contains("or narrow the range"), "{err}");
}

#[test]
fn soft_limit_is_raised_to_what_the_range_needs() {
    let dir = TempDir::new("fd-raise");
    let conf = loopback_config(&dir, free_udp_port(), WIDE);
    let mut child = command(&["-f", "-c", conf.to_str().unwrap()], 256, 8192, None)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut log = Vec::new();
    let started = loop {
        match rx.recv_timeout(Duration::from_secs(5)) {
            Ok(line) => {
                let done = line.contains("started");
                log.push(line);
                if done {
                    break true;
                }
            }
            Err(_) => break false,
        }
    };
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(started, "{}", log.join("\n"));
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let nums: Vec<&str> = line.split_whitespace().skip(3).take(2).collect();
    assert_eq!(nums, ["4068", "8192"], "{line}");
    assert!(
        log.iter()
            .any(|l| l.contains("RLIMIT_NOFILE raised from 256 (hard 8192) to 4068")),
        "{}",
        log.join("\n")
    );
}
