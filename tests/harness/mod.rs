//! Shared helpers of the tests that run the real `siproxd-rs` binary on loopback: free ports,
//! temp dirs, the binary run to completion or as a daemon (stderr collected, or to a file),
//! signals and /proc, sipp.
#![allow(dead_code)] // each test binary uses part of this module
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test helpers: a failed set-up panics, as a test should

#[path = "../bin/mod.rs"]
mod bin;
#[path = "../tempdir/mod.rs"]
mod tempdir;
pub use bin::command;
pub use tempdir::{temp_dir, TempDir};

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
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
        wait_exit(&mut self.child, timeout)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// Waits for `child` to exit; `None` if still running after `timeout`.
pub fn wait_exit(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let end = Instant::now() + timeout;
    loop {
        if let Ok(Some(st)) = child.try_wait() {
            return Some(st);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Kills and reaps `child` (for `Drop`: a failing test leaves no process behind).
fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// A config for loopback: inbound 127.0.0.1, outbound 127.0.0.2, the given port, plus `extra`.
pub fn loopback_config(dir: &TempDir, port: u16, extra: &str) -> PathBuf {
    dir.write(
        "siproxd-rs.conf",
        &format!(
            "# test configuration\nif_inbound = 127.0.0.1\nif_outbound = 127.0.0.2\n\
             sip_listen_port = {port}\n{extra}"
        ),
    )
}

/// Runs the binary to completion.
pub fn run(args: &[&str]) -> (ExitStatus, String, String) {
    let out = command().args(args).stdin(Stdio::null()).output().unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A running daemon whose stderr is collected line by line.
pub struct Daemon {
    pub child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Daemon {
    pub fn spawn(args: &[&str]) -> Daemon {
        let mut child = command()
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        Daemon { child, lines }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn log(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// Waits until a stderr line contains `needle`; panics with the log after `timeout`.
    pub fn wait_for(&self, needle: &str, timeout: Duration) {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if self
                .lines
                .lock()
                .unwrap()
                .iter()
                .any(|l| l.contains(needle))
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!(
            "no log line with {needle:?} within {timeout:?}; log:\n{}",
            self.log()
        );
    }

    pub fn signal(&self, sig: i32) {
        signal(self.pid(), sig);
    }

    /// Waits for the exit; `None` if still running after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        wait_exit(&mut self.child, timeout)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

pub fn signal(pid: i32, sig: i32) {
    // SAFETY: plain syscall on a pid this test started.
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0, "kill({pid}, {sig})");
}

pub fn alive(pid: i32) -> bool {
    // A zombie still has /proc/PID; its state letter is Z.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

/// utime + stime of a process, in clock ticks (/proc/PID/stat fields 14 and 15).
pub fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = stat.rsplit(')').next().unwrap();
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// Waits until `path` exists and holds a pid.
pub fn read_pid_file(path: &Path, timeout: Duration) -> i32 {
    let end = Instant::now() + timeout;
    loop {
        if let Ok(s) = std::fs::read_to_string(path) {
            if let Ok(pid) = s.trim().parse() {
                return pid;
            }
        }
        assert!(Instant::now() < end, "no PID in {}", path.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn send_udp(to: (&str, u16), bytes: &[u8]) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.send_to(bytes, to).unwrap();
}

/// Kills a detached daemon when a test fails before stopping it.
pub struct KillOnDrop(pub i32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if alive(self.0) {
            // SAFETY: plain syscall on a pid this test started.
            unsafe { libc::kill(self.0, libc::SIGKILL) };
        }
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
        Sipp::start_many(
            dir,
            name,
            scenario_file,
            ip,
            port,
            remote,
            keys,
            &["-m", "1", "-timeout", "15s", "-timeout_error"],
        )
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
        stop(&mut self.child);
    }
}

impl Sipp {
    /// Starts sipp for many calls: `scenario_file` on `ip:port` towards `remote` (None for a
    /// UAS) with `-key` pairs and `args` (e.g. `-m`, `-l`, `-r`, `-d`, `-mp`, `-timeout`) instead
    /// of the one-call defaults of [`Sipp::start`]. Messages and errors are traced as there.
    #[allow(clippy::too_many_arguments)]
    pub fn start_many(
        dir: &Path,
        name: &str,
        scenario_file: &str,
        ip: &str,
        port: u16,
        remote: Option<SocketAddr>,
        keys: &[(&str, &str)],
        args: &[&str],
    ) -> Sipp {
        let mut cmd = Command::new("sipp");
        if let Some(r) = remote {
            cmd.arg(r.to_string());
        }
        cmd.arg("-sf")
            .arg(scenario(scenario_file))
            .args(["-i", ip, "-p", &port.to_string(), "-nostdin"])
            .args(args)
            .args(["-trace_msg", "-trace_err"])
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

    /// The first word of each message sipp received: the method, or `SIP/2.0` for a response.
    pub fn received_methods(&self) -> Vec<String> {
        self.received()
            .iter()
            .map(|m| m.split_whitespace().next().unwrap_or("").to_string())
            .collect()
    }

    /// sipp's error log (empty when there is none).
    pub fn errors(&self) -> String {
        std::fs::read_to_string(self.dir.join(format!("{}_errors.log", self.name)))
            .unwrap_or_default()
    }
}

/// How long [`run_pair`] waits for each role.
pub const SIPP_PAIR_TIMEOUT: Duration = Duration::from_secs(20);

/// Runs a sipp server role (started first) and a client role (towards `client.3`) with the same
/// `-key` pairs; true when both succeed. Roles are (scenario, ip, port[, remote]).
pub fn run_pair<V: AsRef<str>>(
    dir: &Path,
    tag: &str,
    server: (&str, &str, u16),
    client: (&str, &str, u16, SocketAddr),
    keys: &[(&str, V)],
) -> (bool, Sipp, Sipp) {
    let k: Vec<(&str, &str)> = keys.iter().map(|(a, b)| (*a, b.as_ref())).collect();
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
    // Both waited for, so neither outlives the test.
    let ok = cli.wait_ok(SIPP_PAIR_TIMEOUT) & srv.wait_ok(SIPP_PAIR_TIMEOUT);
    (ok, srv, cli)
}

/// Size of the RTP packets the media tests send and expect relayed unchanged: 20 ms of PCMU.
pub const RTP_LEN: usize = 172;

/// One RTP packet: version 2, PCMU, sequence `seq`, SSRC `ssrc` (also tags who sent it).
pub fn rtp_packet(ssrc: u32, seq: u16) -> [u8; RTP_LEN] {
    let mut p = [0xffu8; RTP_LEN];
    p[0] = 0x80;
    p[1] = 0;
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&u32::from(seq).wrapping_mul(160).to_be_bytes());
    p[8..12].copy_from_slice(&ssrc.to_be_bytes());
    p
}

/// (ssrc, seq) of a relayed datagram of `n` bytes in `buf`, asserting the relay kept its size.
pub fn relayed_rtp(buf: &[u8], n: usize) -> (u32, u16) {
    assert_eq!(n, RTP_LEN, "relayed datagram changed size");
    let seq = u16::from_be_bytes([buf[2], buf[3]]);
    let ssrc = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
    (ssrc, seq)
}
