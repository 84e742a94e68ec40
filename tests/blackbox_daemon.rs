//! Black-box tests of what a long-running daemon needs (issue 7): registrations that survive a
//! crash, the remote debug log, the status snapshot.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test helpers: a failed set-up panics, as a test should

mod harness;

use harness::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(20);

fn keys(provider_port: u16, callee: &str) -> Vec<(&'static str, String)> {
    vec![
        ("provider", format!("{PROVIDER}:{provider_port}")),
        ("provider_host", PROVIDER.to_string()),
        ("user", "alice".to_string()),
        ("callee", callee.to_string()),
    ]
}

/// Free ports for the phone and the provider, and their sipp keys (the callee is alice).
fn ends() -> (u16, u16, Vec<(&'static str, String)>) {
    let provider_port = free_udp_port();
    (free_udp_port(), provider_port, keys(provider_port, "alice"))
}

/// The phone registers at the provider through `proxy`; panics with the proxy log on failure.
fn register(proxy: &Proxy, tag: &str, phone_port: u16, provider_port: u16, k: &[(&str, String)]) {
    let (ok, _, _) = run_pair(
        &proxy.dir,
        tag,
        ("provider_register.xml", PROVIDER, provider_port),
        ("phone_register.xml", LAN, phone_port, proxy.lan_addr()),
        k,
    );
    assert!(ok, "{tag} failed:\n{}", proxy.log_text());
}

/// A proxy (no media relay) that saves its registrations to `regs`.
fn start_saving_registrations(name: &str, regs: &std::path::Path) -> Proxy {
    Proxy::start(
        name,
        &format!(
            "rtp_proxy_enable = 0\nregistration_file = {}\n",
            regs.display()
        ),
    )
}

fn wait_for_file_containing(path: &std::path::Path, needle: &str, timeout: Duration) -> String {
    let end = Instant::now() + timeout;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains(needle) || Instant::now() > end {
            return text;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn registration_survives_kill_9_and_a_corrupt_record_is_skipped() {
    require_sipp();
    let regs_dir = temp_dir("regs");
    let regs = regs_dir.join("registrations");
    let mut proxy = start_saving_registrations("persist", &regs);
    let (phone_port, provider_port, k) = ends();
    register(&proxy, "register", phone_port, provider_port, &k);
    // Saved within a few seconds of the change, without a clean shutdown.
    let saved = wait_for_file_containing(&regs, "alice", Duration::from_secs(6));
    assert!(
        saved.contains(&format!("{LAN}:{phone_port}")),
        "saved file:\n{saved}"
    );

    // A corrupt record next to the good one is skipped with a warning.
    std::fs::write(&regs, format!("{saved}this is not a record\n")).unwrap();
    proxy.crash_and_restart();
    let end = Instant::now() + Duration::from_secs(5);
    while !proxy.log_text().contains("skipped record") && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        proxy.log_text().contains("skipped record"),
        "{}",
        proxy.log_text()
    );

    // An incoming call reaches the phone with no new REGISTER.
    let (ok, phone, _) = run_pair(
        &proxy.dir,
        "callin",
        ("provider_uas_call.xml", LAN, phone_port),
        (
            "provider_call_in.xml",
            PROVIDER,
            provider_port,
            proxy.wan_addr(),
        ),
        &k,
    );
    assert!(ok, "call after restart failed:\n{}", proxy.log_text());
    assert_eq!(
        phone.received()[0].split_whitespace().next(),
        Some("INVITE")
    );
}

/// Reads from a debug client until `needle` shows up or `timeout` passes.
fn read_until(c: &mut TcpStream, needle: &str, timeout: Duration) -> String {
    c.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let end = Instant::now() + timeout;
    let mut text = String::new();
    let mut buf = [0u8; 8192];
    while Instant::now() < end && !text.contains(needle) {
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => text.push_str(&String::from_utf8_lossy(&buf[..n])),
            Err(_) => {}
        }
    }
    text
}

#[test]
fn debug_port_streams_the_sip_log_to_four_clients_on_the_inbound_address_only() {
    require_sipp();
    let debug_port = free_udp_port();
    let proxy = Proxy::start(
        "debugport",
        &format!("rtp_proxy_enable = 0\ndebug_port = {debug_port}\n"),
    );
    let lan: SocketAddr = format!("{LAN}:{debug_port}").parse().unwrap();
    let wan: SocketAddr = format!("{WAN}:{debug_port}").parse().unwrap();
    // Not reachable on the outbound (WAN) address (decisions §8).
    assert!(TcpStream::connect_timeout(&wan, Duration::from_secs(1)).is_err());

    let mut a = TcpStream::connect(lan).unwrap();
    let mut b = TcpStream::connect(lan).unwrap();
    let stalled = TcpStream::connect(lan).unwrap(); // never reads
    let _fourth = TcpStream::connect(lan).unwrap();
    let mut fifth = TcpStream::connect(lan).unwrap();
    let refusal = read_until(&mut fifth, "too many", Duration::from_secs(3));
    assert!(refusal.contains("too many debug clients"), "{refusal:?}");
    assert!(read_until(&mut a, "debug log", Duration::from_secs(3)).contains("siproxd-rs"));

    // A call goes through while one client does not read at all.
    let (phone_port, provider_port, k) = ends();
    for _ in 0..3 {
        register(&proxy, "reg", phone_port, provider_port, &k);
    }
    let (ok, _, _) = run_pair(
        &proxy.dir,
        "call",
        ("provider_uas_call.xml", PROVIDER, provider_port),
        ("phone_call_out.xml", LAN, phone_port, proxy.lan_addr()),
        &k,
    );
    assert!(
        ok,
        "call failed with a stalled debug client:\n{}",
        proxy.log_text()
    );
    for c in [&mut a, &mut b] {
        let text = read_until(c, "BYE", Duration::from_secs(5));
        assert!(
            text.contains("REGISTER") && text.contains("INVITE") && text.contains("BYE"),
            "{text}"
        );
    }
    drop(stalled);
    let _ = a.write_all(b"ignored input\n");
}

#[test]
fn status_shows_the_registered_phone_and_the_active_call() {
    require_sipp();
    let status = temp_dir("status").join("status.json");
    let proxy = Proxy::start(
        "status",
        &format!(
            "status_file = {}\nrtp_port_low = 31000\nrtp_port_high = 31010\n",
            status.display()
        ),
    );
    let (phone_port, provider_port, k) = ends();
    register(&proxy, "register", phone_port, provider_port, &k);

    let kk: Vec<(&str, &str)> = k.iter().map(|(a, b)| (*a, b.as_str())).collect();
    let mut srv = Sipp::start(
        &proxy.dir,
        "call_server",
        "provider_uas_call.xml",
        PROVIDER,
        provider_port,
        None,
        &kk,
    );
    std::thread::sleep(Duration::from_millis(200));
    let mut cli = Sipp::start(
        &proxy.dir,
        "call_client",
        "phone_call_3s.xml",
        LAN,
        phone_port,
        Some(proxy.lan_addr()),
        &kk,
    );
    // While the call is up: SIGUSR1, then `--status` reads the snapshot.
    std::thread::sleep(Duration::from_millis(1500));
    proxy.signal("USR1");
    let json = wait_for_file_containing(&status, "streams", Duration::from_secs(3));
    let out = bin_output(&["--status", status.to_str().unwrap()]);
    assert!(
        out.contains("alice"),
        "registration missing:\n{out}\n{json}"
    );
    assert!(
        out.contains(&format!("{LAN}:{phone_port}")),
        "contact missing:\n{out}"
    );
    assert!(
        out.contains("31000") || out.contains("31002"),
        "relay stream missing:\n{out}"
    );
    let out_json = bin_output(&["--status", status.to_str().unwrap(), "--json"]);
    assert!(out_json.trim_start().starts_with('{'), "{out_json}");
    assert!(
        cli.wait_ok(T) & srv.wait_ok(T),
        "call failed:\n{}",
        proxy.log_text()
    );
}

fn bin_output(args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_siproxd-rs"))
        .args(args)
        .output()
        .expect("run siproxd-rs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Behaviour §11 test 55, adjusted by decisions §7: SIGTERM saves the registration file (only
/// live bindings, versioned format) before exit 0; a restart routes to the phone without a new
/// REGISTER (the kill -9 case is tested above).
#[test]
fn sigterm_saves_registrations_and_exits_0() {
    require_sipp();
    let regs = temp_dir("regs55").join("registrations");
    let mut proxy = start_saving_registrations("t55", &regs);
    let (phone_port, provider_port, k) = ends();
    register(&proxy, "register", phone_port, provider_port, &k);
    // At once, before the coalescing delay of the autosave has passed.
    proxy.signal("TERM");
    let st = proxy.wait_exit(Duration::from_secs(2)).expect("exited");
    assert_eq!(st.code(), Some(0));
    let text = std::fs::read_to_string(&regs).expect("file written at exit");
    assert!(text.starts_with("siproxd-rs-registrations 1\n"), "{text}");
    assert!(text.contains(&format!("{LAN}:{phone_port}")), "{text}");
    assert_eq!(
        text.lines().filter(|l| !l.starts_with('#')).count(),
        2,
        "header + one binding:\n{text}"
    );
}
