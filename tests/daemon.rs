//! The real daemon on loopback: sockets, signals, PID file, daemonizing, idle CPU.
//!
//! Every test reads its configuration from a temporary file.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)] // test helpers: a failed set-up panics, as a test should

mod harness;

use std::time::Duration;

use harness::*;

const START: Duration = Duration::from_secs(5);

fn start(dir: &TempDir, port: u16, extra: &str, args: &[&str]) -> Daemon {
    let conf = loopback_config(dir, port, extra);
    let mut all = vec!["-c", conf.to_str().unwrap()];
    all.extend_from_slice(args);
    let d = Daemon::spawn(&all);
    d.wait_for("started", START);
    d
}

#[test]
fn datagrams_on_both_sockets_are_counted_and_sigterm_exits_0_and_removes_pid_file() {
    let dir = TempDir::new("count");
    let port = free_udp_port();
    let pid_file = dir.path("d.pid");
    let mut d = start(
        &dir,
        port,
        "",
        &["-f", "-d", "0x2", "-p", pid_file.to_str().unwrap()],
    );
    assert_eq!(read_pid_file(&pid_file, START), d.pid());

    send_udp(("127.0.0.1", port), b"OPTIONS sip:a SIP/2.0\r\n\r\n");
    d.wait_for(&format!("on 127.0.0.1:{port} (datagram #1)"), START);
    send_udp(("127.0.0.2", port), b"hello");
    d.wait_for("received 5 bytes from 127.0.0.1:", START);
    d.wait_for(&format!("on 127.0.0.2:{port} (datagram #2)"), START);

    d.signal(libc::SIGTERM);
    let st = d
        .wait_exit(Duration::from_secs(1))
        .expect("still running 1 s after SIGTERM");
    assert_eq!(st.code(), Some(0), "{}", d.log());
    assert!(!pid_file.exists());
}

#[test]
fn oversized_datagram_is_dropped_and_sigint_exits_0() {
    let dir = TempDir::new("big");
    let port = free_udp_port();
    let mut d = start(&dir, port, "", &["-f", "-d", "0x2"]);
    send_udp(
        ("127.0.0.1", port),
        &vec![b'x'; siproxd_rs::limits::SIP_MAX_MESSAGE + 100],
    );
    d.wait_for("dropped datagram", START);
    send_udp(("127.0.0.1", port), b"small");
    d.wait_for("received 5 bytes", START);
    assert!(!d.log().contains(&format!(
        "received {} bytes",
        siproxd_rs::limits::SIP_MAX_MESSAGE + 1
    )));
    d.signal(libc::SIGINT);
    assert_eq!(
        d.wait_exit(Duration::from_secs(1)).and_then(|s| s.code()),
        Some(0)
    );
}

/// An OPTIONS with Max-Forwards 0 from 127.0.0.1 is answered 200 by the proxy itself; `None`
/// when nothing comes back within `wait`.
fn options_answer(port: u16, wait: Duration) -> Option<String> {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    let local = s.local_addr().unwrap();
    let msg = format!(
        "OPTIONS sip:probe@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKp1\r\n\
         Max-Forwards: 0\r\nFrom: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:probe@127.0.0.1>\r\n\
         Call-ID: probe@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    s.send_to(msg.as_bytes(), ("127.0.0.1", port)).unwrap();
    let mut buf = [0u8; 4096];
    let n = s.recv(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

#[test]
fn sighup_reloads_acls_keeps_a_broken_file_out_and_sigusr1_writes_status() {
    let dir = TempDir::new("hup");
    let port = free_udp_port();
    let status = dir.path("status.json");
    let base = format!("status_file = {}\n", status.display());
    let mut d = start(&dir, port, &base, &["-f"]);
    let answer = options_answer(port, Duration::from_secs(2)).expect("OPTIONS answered");
    assert!(answer.starts_with("SIP/2.0 200 OK"), "{answer}");

    // A newly denied host is blocked after SIGHUP, without a restart.
    loopback_config(&dir, port, &format!("{base}hosts_deny_sip = 127.0.0.1\n"));
    d.signal(libc::SIGHUP);
    d.wait_for("configuration reloaded", START);
    assert_eq!(options_answer(port, Duration::from_millis(500)), None);

    // A broken file is rejected whole, with file:line, and the running configuration stays.
    let conf = loopback_config(
        &dir,
        port,
        &format!("{base}hosts_deny_sip = 127.0.0.1\nrtp_dscp = 99\n"),
    );
    d.signal(libc::SIGHUP);
    d.wait_for(&format!("{}:7: rtp_dscp", conf.display()), START);
    d.wait_for("configuration rejected", START);
    assert_eq!(options_answer(port, Duration::from_millis(500)), None);

    // A restart-only setting is named and keeps its value.
    loopback_config(
        &dir,
        port,
        &format!("{base}sip_listen_port = {}\n", port + 1),
    );
    d.signal(libc::SIGHUP);
    d.wait_for("sip_listen_port changed", START);
    assert!(
        options_answer(port, Duration::from_secs(2)).is_some(),
        "still on the old port"
    );

    d.signal(libc::SIGUSR1);
    d.wait_for("status written", START);
    let json = std::fs::read_to_string(&status).unwrap();
    assert!(json.contains("\"sip.received\""), "{json}");
    let (st, out, _) = run(&["--status", status.to_str().unwrap()]);
    assert!(st.success());
    assert!(out.contains("sip.received"), "{out}");

    assert!(
        d.wait_exit(Duration::from_millis(200)).is_none(),
        "died: {}",
        d.log()
    );
    d.signal(libc::SIGTERM);
    assert_eq!(
        d.wait_exit(Duration::from_secs(1)).and_then(|s| s.code()),
        Some(0)
    );
}

#[test]
fn port_in_use_exits_1_with_a_reason() {
    let dir = TempDir::new("busy");
    let port = free_udp_port();
    // Without SO_REUSEADDR, so the daemon's bind fails.
    let _holder = std::net::UdpSocket::bind(("127.0.0.1", port)).unwrap();
    let conf = loopback_config(&dir, port, "");
    let (st, _, err) = run(&["-f", "-c", conf.to_str().unwrap()]);
    assert_eq!(st.code(), Some(1));
    assert!(
        err.contains(&format!(
            "siproxd-rs: cannot bind SIP UDP socket on 127.0.0.1:{port}"
        )),
        "{err}"
    );
}

#[test]
fn set_option_overrides_the_file() {
    let dir = TempDir::new("set");
    let (port, other) = (free_udp_port(), free_udp_port());
    let set = format!("sip_listen_port={other}");
    let d = start(&dir, port, "", &["-f", "-d", "0x2", "-s", &set]);
    d.wait_for(&format!("udp:127.0.0.1:{other}"), START);
    send_udp(("127.0.0.1", other), b"hello");
    d.wait_for("(datagram #1)", START);
}

#[test]
fn foreground_option_wins_over_daemonize() {
    let dir = TempDir::new("fg");
    let port = free_udp_port();
    let pid_file = dir.path("fg.pid");
    let extra = format!("daemonize = 1\npid_file = {}\n", pid_file.display());
    let mut d = start(&dir, port, &extra, &["-f"]);
    assert_eq!(read_pid_file(&pid_file, START), d.pid());
    assert!(d.wait_exit(Duration::from_millis(300)).is_none());
    d.signal(libc::SIGTERM);
    assert_eq!(
        d.wait_exit(Duration::from_secs(1)).and_then(|s| s.code()),
        Some(0)
    );
    assert!(
        !pid_file.exists(),
        "pid_file from the config is removed too"
    );
}

#[test]
fn idle_daemon_uses_no_cpu() {
    let dir = TempDir::new("idle");
    let port = free_udp_port();
    let d = start(&dir, port, "", &["-f"]);
    let before = cpu_ticks(d.pid());
    std::thread::sleep(Duration::from_secs(10));
    let after = cpu_ticks(d.pid());
    assert!(
        after - before <= 1,
        "{} ticks of CPU in 10 s idle",
        after - before
    );
}

#[test]
fn daemonize_detaches_and_sigterm_stops_the_daemon() {
    let dir = TempDir::new("daemon");
    let port = free_udp_port();
    let pid_file = dir.path("daemon.pid");
    let extra = format!("daemonize = 1\npid_file = {}\n", pid_file.display());
    let conf = loopback_config(&dir, port, &extra);
    let mut launcher = Daemon::spawn(&["-c", conf.to_str().unwrap()]);
    let st = launcher.wait_exit(START).expect("launcher did not return");
    assert_eq!(st.code(), Some(0), "{}", launcher.log());

    let pid = read_pid_file(&pid_file, START);
    let _guard = KillOnDrop(pid);
    assert_ne!(pid, launcher.pid());
    assert!(alive(pid));
    // Detached: its own session, not the launcher's.
    // SAFETY: plain syscalls.
    let (sid, my_sid) = unsafe { (libc::getsid(pid), libc::getsid(0)) };
    assert_ne!(sid, my_sid);
    // Still serving: the port is taken.
    assert!(std::net::UdpSocket::bind(("127.0.0.1", port)).is_err());

    signal(pid, libc::SIGTERM);
    let end = std::time::Instant::now() + Duration::from_secs(1);
    while alive(pid) && std::time::Instant::now() < end {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!alive(pid), "daemon still running 1 s after SIGTERM");
    let end = std::time::Instant::now() + Duration::from_secs(1);
    while pid_file.exists() && std::time::Instant::now() < end {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!pid_file.exists());
}

#[test]
fn root_drops_to_user_after_binding() {
    if !siproxd_rs::process::is_root() {
        eprintln!("skipped: not running as root");
        return;
    }
    let dir = TempDir::new("user");
    let port = free_udp_port();
    let mut d = start(&dir, port, "user = nobody\n", &["-f", "-d", "0x2"]);
    let (uid, _) = siproxd_rs::process::lookup_user("nobody").unwrap();
    let status = std::fs::read_to_string(format!("/proc/{}/status", d.pid())).unwrap();
    let uids = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    let want = format!("{uid}");
    assert!(uids.split_whitespace().skip(1).all(|u| u == want), "{uids}");
    // Still receives on the port bound as root.
    send_udp(("127.0.0.1", port), b"hello");
    d.wait_for("(datagram #1)", START);
    d.signal(libc::SIGTERM);
    assert_eq!(
        d.wait_exit(Duration::from_secs(1)).and_then(|s| s.code()),
        Some(0)
    );
}

#[test]
fn chroot_failure_is_fatal() {
    if !siproxd_rs::process::is_root() {
        eprintln!("skipped: not running as root");
        return;
    }
    let dir = TempDir::new("nojail");
    let port = free_udp_port();
    let conf = loopback_config(&dir, port, "chrootjail = /nonexistent-jail\n");
    let (st, _, err) = run(&["-f", "-c", conf.to_str().unwrap()]);
    assert_eq!(st.code(), Some(1), "{err}");
    assert!(
        err.contains("siproxd-rs: chrootjail = /nonexistent-jail: cannot chroot"),
        "{err}"
    );
}

#[test]
fn root_chroots_and_keeps_serving() {
    if !siproxd_rs::process::is_root() {
        eprintln!("skipped: not running as root");
        return;
    }
    let dir = TempDir::new("jail");
    let jail = dir.path("jail");
    std::fs::create_dir(&jail).unwrap();
    let port = free_udp_port();
    let extra = format!("chrootjail = {}\nuser = nobody\n", jail.display());
    let mut d = start(&dir, port, &extra, &["-f", "-d", "0x2"]);
    let root = std::fs::read_link(format!("/proc/{}/root", d.pid())).unwrap();
    assert_eq!(root, jail.canonicalize().unwrap());
    send_udp(("127.0.0.2", port), b"hello");
    d.wait_for("(datagram #1)", START);
    d.signal(libc::SIGTERM);
    assert_eq!(
        d.wait_exit(Duration::from_secs(1)).and_then(|s| s.code()),
        Some(0)
    );
}
