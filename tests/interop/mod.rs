//! The interop world of `tests/interop.rs`: three network namespaces (LAN, router, WAN) joined
//! by veth pairs and no IP forwarding, so siproxd-rs on the router is the only way between the
//! phones on the LAN and the provider on the WAN. Kamailio (configuration written here) is the
//! provider; baresip instances are the phones, driven through their `ctrl_tcp` module.
//! Everything started is killed, and the namespaces deleted, on drop, also when a test fails.
#![allow(dead_code)] // not every test uses every helper

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The router's LAN address (the phones' outbound proxy).
pub const ROUTER_LAN: &str = "192.168.77.1";
/// The router's WAN address (what the provider sees). The WAN is a documentation prefix
/// (RFC 5737), which siproxd-rs treats as the public Internet, as a provider's network is.
pub const ROUTER_WAN: &str = "203.0.113.1";
/// The LAN phone.
pub const PHONE_LAN: &str = "192.168.77.10";
/// A second LAN phone.
pub const PHONE_LAN2: &str = "192.168.77.11";
/// Kamailio and the phones registered directly with it.
pub const PROVIDER: &str = "203.0.113.2";
/// bob's and carol's addresses (another host than the provider's on the WAN).
pub const BOB: &str = "203.0.113.3";
pub const CAROL: &str = "203.0.113.4";
/// The SIP realm of the provider and its users (user, password).
pub const REALM: &str = "interop";
pub const USERS: [(&str, &str); 4] = [
    ("alice", "alicepw"),
    ("bob", "bobpw"),
    ("carol", "carolpw"),
    ("dave", "davepw"),
];

const KAMAILIO_MODULES: &str = "/usr/lib/x86_64-linux-gnu/kamailio/modules/";
const BARESIP_MODULES: &str = "/usr/lib/baresip/modules";

/// Why the suite cannot run here, when it cannot: only a missing privilege or kernel feature
/// is a reason to skip; missing programs are an install error (scripts/test.sh installs them).
pub fn unsupported() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root: network namespaces need CAP_SYS_ADMIN".into());
    }
    let probe = format!("sxprobe{}", std::process::id());
    let ok = Command::new("ip")
        .args(["netns", "add", &probe])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return Some("`ip netns add` fails here (no network namespace support)".into());
    }
    let _ = Command::new("ip").args(["netns", "del", &probe]).status();
    None
}

/// A program Debian installs in /usr/sbin, by its full path when it is there (a PATH without
/// the sbin directories would not find it).
fn sbin(name: &'static str) -> &'static str {
    match name {
        "kamailio" if Path::new("/usr/sbin/kamailio").exists() => "/usr/sbin/kamailio",
        "iptables" if Path::new("/usr/sbin/iptables").exists() => "/usr/sbin/iptables",
        _ => name,
    }
}

/// Panics with the install hint when a program the suite drives is missing.
pub fn require_programs() {
    for (prog, arg, pkg) in [
        (sbin("kamailio"), "-v", "kamailio"),
        ("baresip", "-h", "baresip"),
        ("sipp", "-v", "sip-tester"),
        ("ss", "-V", "iproute2"),
    ] {
        let found = Command::new(prog)
            .arg(arg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        assert!(
            found,
            "{prog} is not installed: run scripts/test.sh (installs Debian package {pkg})"
        );
    }
    assert!(
        Path::new(KAMAILIO_MODULES).join("auth.so").exists(),
        "kamailio modules not found in {KAMAILIO_MODULES}"
    );
}

/// Polls `check` every 50 ms until it is true; panics with `what` after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?}: {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn run(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// SIGTERM, up to 3 s to exit, then SIGKILL; always reaped.
fn stop(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: the pid is our own child, not yet reaped.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The processes left in namespace `ns` (e.g. Kamailio's workers when its main process had to
/// be killed): SIGTERM, then SIGKILL after 2 s. The namespace is ours, so are they.
fn kill_all_in(ns: &str) {
    let pids = || -> Vec<i32> {
        Command::new("ip")
            .args(["netns", "pids", ns])
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    for sig in [libc::SIGTERM, libc::SIGKILL] {
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let left = pids();
            if left.is_empty() {
                return;
            }
            if Instant::now() > deadline {
                break;
            }
            for pid in left {
                // SAFETY: plain kill(2) of a process inside a namespace this test created.
                unsafe { libc::kill(pid, sig) };
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    eprintln!("interop: processes {:?} in {ns} survive SIGKILL", pids());
}

fn tail(path: &Path, lines: usize, skip: &str) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| skip.is_empty() || !l.contains(skip))
        .collect();
    kept[kept.len().saturating_sub(lines)..].join("\n")
}

/// The three namespaces with Kamailio and siproxd-rs running.
pub struct World {
    pub dir: PathBuf,
    pub lan: String,
    pub rtr: String,
    pub wan: String,
    kamailio: Option<Child>,
    proxy: Option<Child>,
    pub proxy_log: PathBuf,
    pub kamailio_log: PathBuf,
    wan_if: String,
}

impl World {
    /// Builds the namespaces, starts Kamailio and siproxd-rs (with `proxy_extra` appended to
    /// its configuration) and waits until both listen.
    pub fn new(name: &str, proxy_extra: &str) -> World {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let id = format!("{:x}{n}", std::process::id());
        let dir = std::env::temp_dir().join(format!("siproxd-rs-interop-{name}-{id}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut w = World {
            dir: dir.clone(),
            lan: format!("sx{id}lan"),
            rtr: format!("sx{id}rtr"),
            wan: format!("sx{id}wan"),
            kamailio: None,
            proxy: None,
            proxy_log: dir.join("proxy.log"),
            kamailio_log: dir.join("kamailio.log"),
            wan_if: format!("x{id}w0"),
        };
        // The namespaces go in `w` first, so a failure below still deletes them.
        for ns in [&w.lan, &w.rtr, &w.wan] {
            run(&["ip", "netns", "add", ns]);
        }
        let (lan_if, rtr_lan_if) = (format!("x{id}l0"), format!("x{id}l1"));
        let (wan_if, rtr_wan_if) = (format!("x{id}w0"), format!("x{id}w1"));
        run(&[
            "ip",
            "link",
            "add",
            &lan_if,
            "netns",
            &w.lan,
            "type",
            "veth",
            "peer",
            "name",
            &rtr_lan_if,
            "netns",
            &w.rtr,
        ]);
        run(&[
            "ip",
            "link",
            "add",
            &wan_if,
            "netns",
            &w.wan,
            "type",
            "veth",
            "peer",
            "name",
            &rtr_wan_if,
            "netns",
            &w.rtr,
        ]);
        let addrs = [
            (&w.lan, &lan_if, PHONE_LAN, ROUTER_LAN),
            (&w.rtr, &rtr_lan_if, ROUTER_LAN, ""),
            (&w.rtr, &rtr_wan_if, ROUTER_WAN, ""),
            (&w.wan, &wan_if, PROVIDER, ROUTER_WAN),
        ];
        for (ns, ifname, addr, gw) in addrs {
            run(&[
                "ip",
                "-n",
                ns,
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                ifname,
            ]);
            run(&["ip", "-n", ns, "link", "set", ifname, "up"]);
            run(&["ip", "-n", ns, "link", "set", "lo", "up"]);
            if !gw.is_empty() {
                run(&["ip", "-n", ns, "route", "add", "default", "via", gw]);
            }
        }

        for extra in [BOB, CAROL] {
            run(&[
                "ip",
                "-n",
                &w.wan,
                "addr",
                "add",
                &format!("{extra}/24"),
                "dev",
                &wan_if,
            ]);
        }

        run(&[
            "ip",
            "-n",
            &w.lan,
            "addr",
            "add",
            &format!("{PHONE_LAN2}/24"),
            "dev",
            &lan_if,
        ]);

        let kdir = dir.join("kamailio");
        std::fs::create_dir_all(&kdir).expect("kamailio dir");
        let kcfg = kdir.join("kamailio.cfg");
        std::fs::write(&kcfg, kamailio_config()).expect("write kamailio.cfg");
        let klog = File::create(&w.kamailio_log).expect("kamailio log");
        w.kamailio = Some(
            w.exec(&w.wan, sbin("kamailio"))
                .args(["-DD", "-E", "-m", "32", "-M", "8", "-f"])
                .arg(&kcfg)
                .arg("-Y")
                .arg(&kdir)
                .arg("-P")
                .arg(kdir.join("kamailio.pid"))
                .stdout(klog.try_clone().expect("log"))
                .stderr(klog)
                .spawn()
                .expect("start kamailio"),
        );

        let conf = dir.join("siproxd-rs.conf");
        std::fs::write(
            &conf,
            format!(
                "if_inbound = {rtr_lan_if}\nif_outbound = {rtr_wan_if}\nsip_listen_port = 5060\n\
                 daemonize = 0\nrtp_proxy_enable = 1\nrtp_port_low = 7070\nrtp_port_high = 7169\n\
                 hosts_allow_reg = 192.168.77.0/24\n{proxy_extra}\n"
            ),
        )
        .expect("write proxy config");
        let plog = File::create(&w.proxy_log).expect("proxy log");
        w.proxy = Some(
            w.exec(&w.rtr, env!("CARGO_BIN_EXE_siproxd-rs"))
                .args(["-f", "-d", "0x204", "-c"])
                .arg(&conf)
                .stdout(Stdio::null())
                .stderr(plog)
                .spawn()
                .expect("start siproxd-rs"),
        );
        wait_until("siproxd-rs started", Duration::from_secs(10), || {
            w.proxy_text().contains("started")
        });
        let wan = w.wan.clone();
        wait_until(
            "kamailio listens on its SIP port",
            Duration::from_secs(15),
            || {
                Command::new("ip")
                    .args([
                        "netns", "exec", &wan, "ss", "-Hlun", "src", PROVIDER, "sport", "=",
                        ":5060",
                    ])
                    .output()
                    .is_ok_and(|o| !o.stdout.is_empty())
            },
        );
        w
    }

    /// Makes bob's media asymmetric: the RTP and RTCP bob sends towards the router (from his
    /// RTP port range, whatever address baresip picks) leave with
    /// the source address `from` (SNAT), and whatever is sent to `from` is dropped, as at a
    /// media server that sends from one address and listens only on the one in its SDP.
    pub fn make_bob_asymmetric(&self, from: &str) {
        let wan = self.wan.as_str();
        let ipt = |args: &str| {
            let mut all = vec!["ip", "netns", "exec", wan, sbin("iptables")];
            all.extend(args.split(' '));
            run(&all);
        };
        // The relay's packets to bob are not tracked, so bob's own packets start connections
        // of their own, which SNAT rewrites (a tracked reply would keep bob's address).
        ipt(&format!(
            "-t raw -A PREROUTING -s {ROUTER_WAN} -p udp --dport 11000:11099 -j NOTRACK"
        ));
        ipt(&format!("-t raw -A PREROUTING -d {from} -j DROP"));
        ipt(&format!(
            "-t nat -A POSTROUTING -d {ROUTER_WAN} -p udp --sport 11000:11099 -j SNAT --to-source {from}"
        ));
        run(&[
            "ip",
            "-n",
            wan,
            "addr",
            "add",
            &format!("{from}/24"),
            "dev",
            &self.wan_if,
        ]);
    }

    /// A command run inside namespace `ns`.
    pub fn exec(&self, ns: &str, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns, program]).stdin(Stdio::null());
        c
    }

    pub fn proxy_text(&self) -> String {
        std::fs::read_to_string(&self.proxy_log).unwrap_or_default()
    }

    pub fn kamailio_text(&self) -> String {
        std::fs::read_to_string(&self.kamailio_log).unwrap_or_default()
    }

    /// Starts a baresip phone in `ns` (see [`PhoneSpec`]) and registers its account.
    pub fn phone(&self, spec: PhoneSpec) -> Phone {
        Phone::start(self, spec)
    }
}

/// Every message Kamailio received (it logs them whole) is free of the LAN's addresses but in
/// the phone's own Via: the proxy masqueraded baresip's Contact, SDP and whatever else names
/// the phone.
pub fn assert_no_lan_address_reached_the_provider(w: &World) {
    let log = w.kamailio_text();
    // The phone's own Via stays below the proxy's, as through any proxy (RFC 3261 §16.6:
    // responses find their way back along it); everything else is rewritten.
    let leaks: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("192.168.77.") && !l.starts_with("Via: "))
        .collect();
    assert!(
        leaks.is_empty(),
        "the provider saw LAN addresses:\n{}",
        leaks.join("\n")
    );
}

impl Drop for World {
    fn drop(&mut self) {
        for c in [self.proxy.as_mut(), self.kamailio.as_mut()]
            .into_iter()
            .flatten()
        {
            stop(c);
        }
        if std::thread::panicking() {
            eprintln!(
                "---- siproxd-rs log (tail) ----\n{}\n---- kamailio log (tail) ----\n{}\n---- (all in {})",
                tail(&self.proxy_log, 80, "nettraf"),
                tail(&self.kamailio_log, 40, ""),
                self.dir.display()
            );
        }
        for ns in [&self.lan, &self.rtr, &self.wan] {
            kill_all_in(ns);
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
        // Logs and recordings stay for reading after a failure only.
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Kamailio as a small provider: registrar (usrloc in memory), digest authentication of
/// REGISTER (WWW) and of new INVITE/MESSAGE/REFER (proxy) for the static users of [`USERS`]
/// with plain-text passwords, record-routing, and routing to the registered contacts.
fn kamailio_config() -> String {
    let mut users = String::new();
    for (i, (u, p)) in USERS.iter().enumerate() {
        let kw = if i == 0 { "if" } else { "} else if" };
        users.push_str(&format!(
            "    {kw} ($au == \"{u}\") {{\n        $var(pw) = \"{p}\";\n"
        ));
    }
    users.push_str("    } else {\n        $var(pw) = \"-no-such-user-\";\n    }\n");
    format!(
        r#"#!KAMAILIO
# The interop suite's provider (tests/interop/mod.rs writes this file).
debug=2
log_stderror=yes
children=2
auto_aliases=no
listen=udp:{PROVIDER}:5060
alias={PROVIDER}:5060
mpath="{KAMAILIO_MODULES}"

loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "auth.so"
loadmodule "sdpops.so"

modparam("usrloc", "db_mode", 0)

onreply_route {{
    xlog("L_INFO", "provider: reply from $si:$sp:\n$mb\n");
}}

request_route {{
    xlog("L_INFO", "provider: $rm $ru from $si:$sp\n");
    xlog("L_INFO", "provider: request:\n$mb\n");
    if (!mf_process_maxfwd_header("10")) {{
        sl_send_reply("483", "Too Many Hops");
        exit;
    }}
    if (has_totag()) {{
        # A provider policy for carol's calls: a re-INVITE may offer only PCMA, so the codec
        # changes in mid-call (the interop suite's codec-change scenario).
        if (is_method("INVITE") && ($fU == "carol" || $tU == "carol") && has_body("application/sdp")) {{
            sdp_remove_codecs_by_name("PCMU");
            xlog("L_INFO", "provider: re-INVITE of carol's call restricted to PCMA\n");
        }}
        if (loose_route() || is_method("ACK")) {{
            t_relay();
            exit;
        }}
        sl_send_reply("404", "No Such Dialog");
        exit;
    }}
    if (is_method("CANCEL")) {{
        if (t_check_trans()) {{
            t_relay();
        }}
        exit;
    }}
    route(AUTH);
    if (is_method("REGISTER")) {{
        if (!save("location")) {{
            sl_reply_error();
            exit;
        }}
        xlog("L_INFO", "provider: bindings of $tu saved\n");
        exit;
    }}
    if (is_method("INVITE")) {{
        record_route();
    }}
    if (!lookup("location")) {{
        xlog("L_INFO", "provider: $ru is not registered\n");
        sl_send_reply("404", "Not Found");
        exit;
    }}
    t_relay();
}}

route[AUTH] {{
{users}    if (is_method("REGISTER")) {{
        if (!pv_www_authenticate("{REALM}", "$var(pw)", "0")) {{
            www_challenge("{REALM}", "1");
            exit;
        }}
        if ($au != $tU) {{
            sl_send_reply("403", "Forbidden");
            exit;
        }}
        consume_credentials();
    }} else if (is_method("INVITE|MESSAGE|REFER")) {{
        if (!pv_proxy_authenticate("{REALM}", "$var(pw)", "0")) {{
            proxy_challenge("{REALM}", "1");
            exit;
        }}
        consume_credentials();
    }}
}}
"#
    )
}

/// How a phone is set up.
pub struct PhoneSpec {
    pub name: &'static str,
    /// Namespace name (take it from the [`World`]).
    pub ns: String,
    /// Local SIP address.
    pub sip: String,
    /// The `ctrl_tcp` port (unique per namespace).
    pub ctrl_port: u16,
    /// First RTP port (100 ports from here).
    pub rtp_low: u16,
    /// The account line (`<sip:user@domain>;auth_pass=...;...`).
    pub account: String,
    /// Frequency of the tone the phone sends, Hz.
    pub tone_hz: u32,
    /// Audio codecs to load (baresip modules, e.g. `g711.so`, `g722.so`).
    pub codecs: &'static [&'static str],
}

impl PhoneSpec {
    /// alice on the LAN, with the router as outbound proxy, registering with the provider.
    pub fn alice(w: &World) -> PhoneSpec {
        PhoneSpec {
            name: "alice",
            ns: w.lan.clone(),
            sip: format!("{PHONE_LAN}:5060"),
            ctrl_port: 4444,
            rtp_low: 10000,
            account: format!(
                "<sip:alice@{PROVIDER}>;auth_pass=alicepw;outbound=\"sip:{ROUTER_LAN}:5060;lr\";regint=600;answermode=auto"
            ),
            tone_hz: 440,
            codecs: &["g711.so"],
        }
    }

    /// bob on the WAN, registered directly with the provider.
    pub fn bob(w: &World) -> PhoneSpec {
        PhoneSpec {
            name: "bob",
            ns: w.wan.clone(),
            sip: format!("{BOB}:5060"),
            ctrl_port: 4445,
            rtp_low: 11000,
            account: format!("<sip:bob@{PROVIDER}>;auth_pass=bobpw;regint=600;answermode=auto"),
            tone_hz: 1000,
            codecs: &["g711.so"],
        }
    }

    /// dave, a second phone on the LAN behind the same proxy.
    pub fn dave(w: &World) -> PhoneSpec {
        PhoneSpec {
            name: "dave",
            ns: w.lan.clone(),
            sip: format!("{PHONE_LAN2}:5060"),
            ctrl_port: 4447,
            rtp_low: 13000,
            account: format!(
                "<sip:dave@{PROVIDER}>;auth_pass=davepw;outbound=\"sip:{ROUTER_LAN}:5060;lr\";regint=600;answermode=auto"
            ),
            tone_hz: 1500,
            codecs: &["g711.so"],
        }
    }

    /// carol on the WAN, registered directly with the provider (a transfer target).
    pub fn carol(w: &World) -> PhoneSpec {
        PhoneSpec {
            name: "carol",
            ns: w.wan.clone(),
            sip: format!("{CAROL}:5060"),
            ctrl_port: 4446,
            rtp_low: 12000,
            account: format!("<sip:carol@{PROVIDER}>;auth_pass=carolpw;regint=600;answermode=auto"),
            tone_hz: 700,
            codecs: &["g711.so"],
        }
    }

    pub fn manual_answer(mut self) -> PhoneSpec {
        self.account = self.account.replace("answermode=auto", "answermode=manual");
        self
    }
}

type Events = Arc<(Mutex<Vec<String>>, Condvar)>;

/// A running baresip with its control connection.
pub struct Phone {
    pub name: &'static str,
    pub dir: PathBuf,
    child: Child,
    ctrl: TcpStream,
    events: Events,
    taken: HashSet<usize>,
    token: u32,
}

impl Phone {
    fn start(w: &World, spec: PhoneSpec) -> Phone {
        let dir = w.dir.join(spec.name);
        std::fs::create_dir_all(&dir).expect("phone dir");
        let tone = dir.join("tone.wav");
        std::fs::write(&tone, sine_wav(spec.tone_hz, 8000, 120)).expect("write tone");
        let mut modules = String::new();
        for m in
            spec.codecs
                .iter()
                .chain(&["aufile.so", "aubridge.so", "sndfile.so", "ctrl_tcp.so"])
        {
            modules.push_str(&format!("module {m}\n"));
        }
        let config = format!(
            "poll_method epoll\nsip_listen {sip}\n\
             audio_player aubridge,nowhere\naudio_alert aubridge,nowhere\n\
             audio_source aufile,{tone}\n\
             ausrc_srate 8000\nauplay_srate 8000\nausrc_channels 1\nauplay_channels 1\n\
             rtp_ports {lo}-{hi}\nmodule_path {BARESIP_MODULES}\n{modules}\
             module_app account.so\nmodule_app menu.so\n\
             ctrl_tcp_listen 127.0.0.1:{ctrl}\nsnd_path {dir}\nstatmode_default off\n",
            sip = spec.sip,
            tone = tone.display(),
            lo = spec.rtp_low,
            hi = spec.rtp_low + 99,
            ctrl = spec.ctrl_port,
            dir = dir.display(),
        );
        std::fs::write(dir.join("config"), config).expect("write config");
        // No account at start: it is added over the control connection, so the test sees
        // its registration events.
        std::fs::write(dir.join("accounts"), "").expect("write accounts");
        std::fs::write(dir.join("contacts"), "").expect("write contacts");
        let log = File::create(dir.join("baresip.log")).expect("phone log");
        let mut child = w
            .exec(&spec.ns, "baresip")
            .arg("-f")
            .arg(&dir)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start baresip");
        let addr: SocketAddr = format!("127.0.0.1:{}", spec.ctrl_port)
            .parse()
            .expect("addr");
        let deadline = Instant::now() + Duration::from_secs(10);
        let ctrl = loop {
            match connect_in(&spec.ns, addr) {
                Ok(s) => break s,
                Err(e) => {
                    if Instant::now() > deadline || matches!(child.try_wait(), Ok(Some(_))) {
                        stop(&mut child);
                        panic!(
                            "{}: no ctrl_tcp on {addr}: {e}\n{}",
                            spec.name,
                            tail(&dir.join("baresip.log"), 30, "")
                        );
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        };
        let events: Events = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let reader = ctrl.try_clone().expect("clone ctrl");
        let ev = events.clone();
        std::thread::spawn(move || read_netstrings(reader, ev));
        let mut p = Phone {
            name: spec.name,
            dir,
            child,
            ctrl,
            events,
            taken: HashSet::new(),
            token: 0,
        };
        p.command("uanew", &spec.account);
        p
    }

    /// Sends a long command and waits for its response; returns the response JSON.
    pub fn command(&mut self, cmd: &str, params: &str) -> String {
        self.token += 1;
        let token = format!("{}{}", self.name, self.token);
        let json = format!(
            "{{\"command\":\"{cmd}\",\"params\":\"{}\",\"token\":\"{token}\"}}",
            params.replace('\\', "\\\\").replace('"', "\\\"")
        );
        let frame = format!("{}:{json},", json.len());
        self.ctrl
            .write_all(frame.as_bytes())
            .expect("write ctrl command");
        let needle = format!("\"token\":\"{token}\"");
        let resp = self.wait_json(
            &format!("response to {cmd}"),
            |j| j.contains("\"response\":true") && j.contains(&needle),
            Duration::from_secs(5),
        );
        assert!(
            resp.contains("\"ok\":true"),
            "{}: {cmd} {params} failed: {resp}",
            self.name
        );
        resp
    }

    /// Waits for the next not yet taken event of type `ty` and takes it.
    pub fn wait_event(&mut self, ty: &str, timeout: Duration) -> String {
        let needle = format!("\"type\":\"{ty}\"");
        self.wait_json(ty, |j| j.contains(&needle), timeout)
    }

    /// The most packets any RTCP event so far says this phone received in its call.
    pub fn rx_packets(&self) -> u64 {
        let (lock, _) = &*self.events;
        let list = lock.lock().unwrap_or_else(|e| e.into_inner());
        list.iter().filter_map(|j| rx_of(j)).max().unwrap_or(0)
    }

    /// Waits until an RTCP event says at least `n` more packets arrived than [`Phone::rx_packets`]
    /// said when called (baresip reports about every 5 s); returns the new count.
    pub fn wait_rx_growth(&mut self, n: u64) -> u64 {
        let want = self.rx_packets() + n;
        let ev = self.wait_json(
            &format!("RTCP report of {want} packets received"),
            |j| j.contains("\"type\":\"CALL_RTCP\"") && rx_of(j).is_some_and(|r| r >= want),
            Duration::from_secs(20),
        );
        rx_of(&ev).unwrap_or(0)
    }

    /// Whether an event of type `ty` has arrived (taken or not).
    pub fn saw(&self, ty: &str) -> bool {
        let needle = format!("\"type\":\"{ty}\"");
        let (lock, _) = &*self.events;
        let list = lock.lock().unwrap_or_else(|e| e.into_inner());
        list.iter().any(|j| j.contains(&needle))
    }

    fn wait_json(&mut self, what: &str, pred: impl Fn(&str) -> bool, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        let (lock, cv) = &*self.events;
        let mut list = lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(i) = (0..list.len()).find(|i| !self.taken.contains(i) && pred(&list[*i])) {
                self.taken.insert(i);
                return list[i].clone();
            }
            let now = Instant::now();
            if now >= deadline {
                let all = list.join("\n");
                drop(list);
                panic!(
                    "{}: no {what} within {timeout:?}; events so far:\n{all}\n---- baresip log:\n{}",
                    self.name,
                    tail(&self.dir.join("baresip.log"), 40, "")
                );
            }
            list = cv
                .wait_timeout(list, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// The audio this phone decoded during its last call (sndfile's `*-dec.wav`), once the
    /// file is complete.
    pub fn received_audio(&self) -> Audio {
        self.audio("dec")
    }

    /// The audio this phone encoded and sent during its last call.
    pub fn sent_audio(&self) -> Audio {
        self.audio("enc")
    }

    fn audio(&self, kind: &str) -> Audio {
        let suffix = format!("-{kind}.wav");
        let mut found = None;
        wait_until(
            &format!("{}: a complete *{suffix}", self.name),
            Duration::from_secs(10),
            || {
                let newest = std::fs::read_dir(&self.dir)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.to_string_lossy().ends_with(&suffix))
                    .max();
                found = newest.and_then(|p| Audio::read(&p));
                found.is_some()
            },
        );
        found.expect("audio")
    }
}

impl Drop for Phone {
    fn drop(&mut self) {
        let _ = self.ctrl.shutdown(std::net::Shutdown::Both);
        stop(&mut self.child);
        if std::thread::panicking() {
            let (lock, _) = &*self.events;
            let list = lock.lock().unwrap_or_else(|e| e.into_inner());
            eprintln!(
                "---- {} events ----\n{}\n---- {} baresip log (tail) ----\n{}",
                self.name,
                list.join("\n"),
                self.name,
                tail(&self.dir.join("baresip.log"), 40, "")
            );
        }
    }
}

/// The received packet count of a `CALL_RTCP` event (`"rx":{"sent":N,...}`).
fn rx_of(json: &str) -> Option<u64> {
    let key = "\"rx\":{\"sent\":";
    let rest = &json[json.find(key)? + key.len()..];
    let end = rest.find(|c: char| !c.is_ascii_digit())?;
    rest[..end].parse().ok()
}

/// Connects to `addr` inside network namespace `ns` (from a helper thread that enters it; the
/// socket stays in that namespace).
fn connect_in(ns: &str, addr: SocketAddr) -> std::io::Result<TcpStream> {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let f = File::open(path)?;
        // SAFETY: setns on a valid namespace fd; it affects this helper thread only.
        if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        TcpStream::connect_timeout(&addr, Duration::from_secs(1))
    })
    .join()
    .unwrap_or_else(|_| Err(std::io::Error::other("connect thread panicked")))
}

/// Reads `len:json,` netstrings into `events` until the connection closes.
fn read_netstrings(stream: TcpStream, events: Events) {
    let mut r = BufReader::new(stream);
    loop {
        let mut len = Vec::new();
        if r.read_until(b':', &mut len).unwrap_or(0) == 0 {
            return;
        }
        len.pop();
        let Some(n) = std::str::from_utf8(&len)
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
        else {
            return;
        };
        let mut body = vec![0u8; n + 1];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        body.pop();
        let (lock, cv) = &*events;
        lock.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(String::from_utf8_lossy(&body).into_owned());
        cv.notify_all();
    }
}

/// A mono 16-bit PCM WAV of a sine tone.
pub fn sine_wav(hz: u32, rate: u32, secs: u32) -> Vec<u8> {
    let n = rate * secs;
    let mut v = Vec::with_capacity(44 + 2 * n as usize);
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&(36 + 2 * n).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes()); // PCM
    v.extend_from_slice(&1u16.to_le_bytes()); // mono
    v.extend_from_slice(&rate.to_le_bytes());
    v.extend_from_slice(&(rate * 2).to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&16u16.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&(2 * n).to_le_bytes());
    for i in 0..n {
        let x = (2.0 * std::f64::consts::PI * f64::from(hz) * f64::from(i) / f64::from(rate)).sin();
        v.extend_from_slice(&((x * 8000.0) as i16).to_le_bytes());
    }
    v
}

/// Decoded audio read from a 16-bit PCM WAV file.
#[derive(Debug, Clone)]
pub struct Audio {
    pub rate: u32,
    pub channels: u16,
    pub samples: Vec<i16>,
}

/// A 20 ms frame counts as sound above this RMS (the tones are sent at amplitude 8000, RMS
/// ≈ 5650; G.711 noise on silence stays far below).
pub const LOUD_RMS: f64 = 1000.0;

impl Audio {
    /// Parses a RIFF/WAVE file; `None` while it is incomplete (sndfile and MSFileRec write the
    /// sizes when they close the file) or not 16-bit PCM.
    pub fn read(path: &Path) -> Option<Audio> {
        let b = std::fs::read(path).ok()?;
        if b.get(..4)? != b"RIFF" || b.get(8..12)? != b"WAVE" {
            return None;
        }
        let u16_at = |i: usize| Some(u16::from_le_bytes(b.get(i..i + 2)?.try_into().ok()?));
        let u32_at = |i: usize| Some(u32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?));
        let mut i = 12;
        let (mut rate, mut channels, mut bits) = (0, 0, 0);
        while i + 8 <= b.len() {
            let id = b.get(i..i + 4)?;
            let size = u32_at(i + 4)? as usize;
            let body = i + 8;
            if id == b"fmt " {
                channels = u16_at(body + 2)?;
                rate = u32_at(body + 4)?;
                bits = u16_at(body + 14)?;
            } else if id == b"data" {
                // mediastreamer's MSFileRec (linphone) writes the file's whole length as the
                // data size, 44 bytes too many: what is there is taken.
                let size = size.min(b.len().saturating_sub(body)) & !1;
                if bits != 16 || size == 0 {
                    return None;
                }
                let samples = b
                    .get(body..body + size)?
                    .chunks_exact(2)
                    .map(|c| i16::from_le_bytes([c[0], c[1]]))
                    .collect();
                return Some(Audio {
                    rate,
                    channels,
                    samples,
                });
            }
            i = body + size + (size & 1);
        }
        None
    }

    fn frames(&self) -> impl Iterator<Item = &[i16]> {
        let n = (self.rate as usize / 50) * usize::from(self.channels.max(1));
        self.samples.chunks_exact(n.max(1))
    }

    /// Seconds of audio in the file.
    pub fn seconds(&self) -> f64 {
        self.samples.len() as f64 / f64::from(self.rate.max(1)) / f64::from(self.channels.max(1))
    }

    /// Seconds of 20 ms frames above [`LOUD_RMS`].
    pub fn loud_seconds(&self) -> f64 {
        self.frames().filter(|f| rms(f) > LOUD_RMS).count() as f64 * 0.02
    }

    /// The tone's frequency, from the zero crossings of the loud frames (0 when none).
    pub fn tone_hz(&self) -> f64 {
        let (mut crossings, mut frames) = (0usize, 0usize);
        for f in self.frames().filter(|f| rms(f) > LOUD_RMS) {
            frames += 1;
            crossings += f.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
        }
        if frames == 0 {
            return 0.0;
        }
        crossings as f64 / 2.0 / (frames as f64 * 0.02)
    }

    /// Panics unless at least `min_secs` of the tone of `hz` (±5 %) is in the file.
    pub fn assert_tone(&self, who: &str, hz: u32, min_secs: f64) {
        let loud = self.loud_seconds();
        let f = self.tone_hz();
        assert!(
            loud >= min_secs,
            "{who}: only {loud:.2} s of sound in {:.2} s of received audio (want ≥ {min_secs} s)",
            self.seconds()
        );
        assert!(
            (f - f64::from(hz)).abs() < f64::from(hz) * 0.05,
            "{who}: received a {f:.0} Hz tone, the far end sends {hz} Hz"
        );
    }
}

fn rms(frame: &[i16]) -> f64 {
    let sum: f64 = frame.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / frame.len().max(1) as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wav_reader_reads_back_a_written_tone() {
        let dir = std::env::temp_dir().join(format!("sx-wav-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("t.wav");
        std::fs::write(&p, sine_wav(440, 8000, 2)).unwrap();
        let a = Audio::read(&p).unwrap();
        assert_eq!((a.rate, a.channels, a.samples.len()), (8000, 1, 16000));
        a.assert_tone("self", 440, 1.9);
        // A silent file has no tone.
        let mut silent = sine_wav(440, 8000, 1);
        for b in &mut silent[44..] {
            *b = 0;
        }
        std::fs::write(&p, silent).unwrap();
        assert_eq!(Audio::read(&p).unwrap().loud_seconds(), 0.0);
        // A file whose sizes are not yet written is incomplete.
        let mut open = sine_wav(440, 8000, 1);
        open[40..44].copy_from_slice(&0u32.to_le_bytes());
        std::fs::write(&p, open).unwrap();
        assert!(Audio::read(&p).is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
