//! Black-box tests of what a long-running daemon needs (issue 7): registrations that survive a
//! crash, the remote debug log, the status snapshot.

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

fn run_pair(
    dir: &std::path::Path,
    tag: &str,
    server: (&str, &str, u16),
    client: (&str, &str, u16, SocketAddr),
    keys: &[(&str, String)],
) -> (bool, Sipp, Sipp) {
    let k: Vec<(&str, &str)> = keys.iter().map(|(a, b)| (*a, b.as_str())).collect();
    let mut srv = Sipp::start(
        dir,
        &format!("{tag}_server"),
        server.0,
        server.1,
        server.2,
        None,
        &k,
    );
    std::thread::sleep(Duration::from_millis(200));
    let mut cli = Sipp::start(
        dir,
        &format!("{tag}_client"),
        client.0,
        client.1,
        client.2,
        Some(client.3),
        &k,
    );
    let ok = cli.wait_ok(T) & srv.wait_ok(T);
    (ok, srv, cli)
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
    let mut proxy = Proxy::start(
        "persist",
        &format!(
            "rtp_proxy_enable = 0\nregistration_file = {}\n",
            regs.display()
        ),
    );
    let (phone_port, provider_port) = (free_udp_port(), free_udp_port());
    let k = keys(provider_port, "alice");
    let (ok, _, _) = run_pair(
        &proxy.dir,
        "register",
        ("provider_register.xml", PROVIDER, provider_port),
        ("phone_register.xml", LAN, phone_port, proxy.lan_addr()),
        &k,
    );
    assert!(ok, "register failed:\n{}", proxy.log_text());
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
    let (phone_port, provider_port) = (free_udp_port(), free_udp_port());
    let k = keys(provider_port, "alice");
    for _ in 0..3 {
        let (ok, _, _) = run_pair(
            &proxy.dir,
            "reg",
            ("provider_register.xml", PROVIDER, provider_port),
            ("phone_register.xml", LAN, phone_port, proxy.lan_addr()),
            &k,
        );
        assert!(ok, "{}", proxy.log_text());
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
