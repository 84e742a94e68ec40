//! Shared helpers of the black-box tests: free ports, a running `siproxd-rs` on loopback, sipp.
#![allow(dead_code)]

#[path = "../bin/mod.rs"]
mod bin;

use std::io::Read;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const LAN: &str = "127.0.0.1";
pub const WAN: &str = "127.0.0.2";
pub const PROVIDER: &str = "127.0.0.3";

/// A UDP port that is free on every loopback address the tests use.
pub fn free_udp_port() -> u16 {
    loop {
        let s = UdpSocket::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = s.local_addr().expect("local_addr").port();
        drop(s);
        let free = [LAN, WAN, PROVIDER]
            .iter()
            .all(|ip| UdpSocket::bind((*ip, port)).is_ok());
        if free && port > 1024 {
            return port;
        }
    }
}

/// A fresh temporary directory under the target dir (kept for post-mortem reading).
pub fn temp_dir(name: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "siproxd-rs-test-{}-{}-{}",
        name,
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// A running `siproxd-rs` whose stderr goes to a file; killed on drop.
pub struct Proxy {
    pub child: Child,
    pub port: u16,
    pub dir: PathBuf,
    pub log: PathBuf,
}

impl Proxy {
    /// Starts the proxy in the foreground on LAN/WAN loopback addresses with `extra` config lines.
    pub fn start(name: &str, extra: &str) -> Proxy {
        let dir = temp_dir(name);
        let port = free_udp_port();
        let conf = dir.join("siproxd-rs.conf");
        std::fs::write(
            &conf,
            format!(
                "if_inbound = {LAN}\nif_outbound = {WAN}\nsip_listen_port = {port}\n\
                 daemonize = 0\n{extra}\n"
            ),
        )
        .expect("write config");
        let log = dir.join("proxy.log");
        let child = Self::spawn(&conf, &log);
        let p = Proxy {
            child,
            port,
            dir,
            log,
        };
        p.wait_bound();
        p
    }

    fn spawn(conf: &Path, log: &Path) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("open log");
        bin::command()
            .args(["-f", "-d", "-1", "-c"])
            .arg(conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start siproxd-rs")
    }

    /// `kill -9`, then starts again with the same configuration (a power cut, as far as the
    /// process can tell).
    pub fn crash_and_restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = Self::spawn(&self.dir.join("siproxd-rs.conf"), &self.log);
        self.wait_bound();
    }

    /// Waits until the SIP port answers (the port is taken on both addresses).
    fn wait_bound(&self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if UdpSocket::bind((WAN, self.port)).is_err()
                && UdpSocket::bind((LAN, self.port)).is_err()
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "siproxd-rs did not bind its SIP port; log:\n{}",
            self.log_text()
        );
    }

    pub fn lan_addr(&self) -> SocketAddr {
        format!("{LAN}:{}", self.port).parse().expect("addr")
    }

    pub fn wan_addr(&self) -> SocketAddr {
        format!("{WAN}:{}", self.port).parse().expect("addr")
    }

    pub fn log_text(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .args([&format!("-{sig}"), &self.pid().to_string()])
            .status();
    }

    /// Waits for the process to exit, at most `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Path of a sipp scenario shipped in `tests/sipp/`.
pub fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sipp")
        .join(name)
}

/// Panics with a clear message when sipp is missing (scripts/test.sh installs it).
pub fn require_sipp() {
    let ok = Command::new("sipp")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if ok.is_err() {
        panic!("sipp is not installed: run scripts/test.sh (installs Debian package sip-tester)");
    }
}

/// One sipp instance for one role.
pub struct Sipp {
    pub child: Child,
    pub name: String,
    pub dir: PathBuf,
}

impl Sipp {
    /// Starts sipp with `scenario` bound to `ip:port`, talking to `remote` (None for a UAS),
    /// with `-key` pairs. Messages are traced to `<dir>/<name>_messages.log`.
    pub fn start(
        dir: &Path,
        name: &str,
        scenario_file: &str,
        ip: &str,
        port: u16,
        remote: Option<SocketAddr>,
        keys: &[(&str, &str)],
    ) -> Sipp {
        let mut cmd = Command::new("sipp");
        if let Some(r) = remote {
            cmd.arg(r.to_string());
        }
        cmd.arg("-sf")
            .arg(scenario(scenario_file))
            .args(["-i", ip, "-p", &port.to_string(), "-m", "1", "-nostdin"])
            .args([
                "-timeout",
                "15s",
                "-timeout_error",
                "-trace_msg",
                "-trace_err",
            ])
            .arg("-message_file")
            .arg(dir.join(format!("{name}_messages.log")))
            .arg("-error_file")
            .arg(dir.join(format!("{name}_errors.log")));
        for (k, v) in keys {
            cmd.args(["-key", k, v]);
        }
        cmd.current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(dir.join(format!("{name}.stderr"))).expect("stderr file"),
            );
        let child = cmd.spawn().expect("start sipp");
        Sipp {
            child,
            name: name.to_string(),
            dir: dir.to_path_buf(),
        }
    }

    /// Waits for sipp to finish; true when every call succeeded.
    pub fn wait_ok(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        false
    }

    /// The SIP messages sipp logged (sent and received).
    pub fn messages(&self) -> String {
        std::fs::read_to_string(self.dir.join(format!("{}_messages.log", self.name)))
            .unwrap_or_default()
    }

    /// Only the messages sipp received, each as one string.
    pub fn received(&self) -> Vec<String> {
        let text = self.messages();
        let mut out = Vec::new();
        for block in text
            .split("----------------------------------------------- ")
            .skip(1)
        {
            if let Some(pos) = block.find("message received") {
                if let Some(nl) = block[pos..].find('\n') {
                    out.push(block[pos + nl + 1..].to_string());
                }
            }
        }
        out
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
