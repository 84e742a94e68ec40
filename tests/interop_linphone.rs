//! Interop with linphone (issue 14): `linphonec` (Debian `linphone-cli`, liblinphone) as the
//! LAN phone behind siproxd-rs, with the router as its proxy and route, Kamailio as the
//! provider and baresip as the far end (see `tests/interop/mod.rs`). linphonec has no sound
//! card here: it plays a tone from a WAV file and records what it hears to another.
//!
//! Needs root and network namespaces; without them the test says loudly that it skipped.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test helpers: a failed set-up panics, as a test should
#[path = "interop/mod.rs"]
mod world;
use world::*;

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

const SETUP: Duration = Duration::from_secs(20);

/// A linphonec daemon (`linphonecsh init`), driven by `linphonecsh` commands over its
/// socket (linphonec reading a pipe would only run its SIP stack between two input lines).
struct Linphone {
    dir: PathBuf,
}

impl Linphone {
    /// Starts alice's linphonec in the LAN namespace: the router is both the registrar address
    /// it sends to (`reg_proxy`) and the route of every request (`reg_route`).
    fn start(w: &World) -> Linphone {
        Linphone::start_as(w, PROVIDER, "alicepw", REALM)
    }

    /// alice as `sip:alice@DOMAIN` with the digest credentials `password` for `realm`.
    fn start_as(w: &World, domain: &str, password: &str, realm: &str) -> Linphone {
        let dir = w.dir.join("linphone");
        // liblinphone does not start its SIP stack without its database directory.
        std::fs::create_dir_all(dir.join(".local/share/linphone")).expect("linphone dir");
        std::fs::write(dir.join("tone.wav"), sine_wav(440, 8000, 120)).expect("tone");
        let rc = format!(
            "[sip]\nsip_port=5060\nsip_tcp_port=-1\nsip_tls_port=-1\ndefault_proxy=0\n\
             [rtp]\naudio_rtp_port=14000-14099\n\
             [proxy_0]\nreg_proxy=<sip:{ROUTER_LAN}:5060;transport=udp>\n\
             reg_route=<sip:{ROUTER_LAN}:5060;transport=udp;lr>\n\
             reg_identity=sip:alice@{domain}\nreg_expires=600\nreg_sendregister=1\n\
             [auth_info_0]\nusername=alice\npasswd={password}\nrealm={realm}\ndomain={domain}\n"
        );
        let rc_path = dir.join("linphonerc");
        std::fs::write(&rc_path, rc).expect("linphonerc");
        let l = Linphone { dir: dir.clone() };
        let st = w
            .exec(&w.lan, "linphonecsh")
            .env("HOME", &dir)
            .arg("init")
            .arg("-c")
            .arg(&rc_path)
            .arg("-d")
            .arg("6")
            .arg("-l")
            .arg(dir.join("linphonec.log"))
            .status()
            .expect("start linphonec (Debian linphone-cli)");
        assert!(st.success(), "linphonecsh init: {st}");
        l.cmd("soundcard use files");
        l
    }

    /// One linphonec command; returns what it printed.
    fn cmd(&self, line: &str) -> String {
        let out = Command::new("linphonecsh")
            .env("HOME", &self.dir)
            .args(["generic", line])
            .output()
            .expect("linphonecsh");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("linphonec.log")).unwrap_or_default()
    }
}

impl Drop for Linphone {
    fn drop(&mut self) {
        let _ = Command::new("linphonecsh")
            .env("HOME", &self.dir)
            .arg("exit")
            .status();
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            eprintln!(
                "---- linphonec log (tail) ----\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
    }
}

/// One linphonec daemon at a time: `linphonecsh` finds it through one socket per user, so the
/// tests of this file run one by one, and across processes (two clones testing at once) a
/// file lock keeps them apart.
static SERIAL: Mutex<()> = Mutex::new(());

struct Serial {
    _thread: MutexGuard<'static, ()>,
    _process: std::fs::File,
}

/// The serial locks, or `None` (with a loud message) where network namespaces are missing.
fn prepare(test: &str) -> Option<Serial> {
    let thread = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let process = std::fs::File::create(std::env::temp_dir().join("siproxd-rs-linphonec.lock"))
        .expect("lock file");
    process.lock().expect("lock linphonec");
    let guard = Serial {
        _thread: thread,
        _process: process,
    };
    if let Some(why) = unsupported() {
        eprintln!("\n!!!! SKIPPED interop test {test}: {why} !!!!\n");
        return None;
    }
    require_programs();
    let found = Command::new("linphonecsh").output().is_ok();
    assert!(
        found,
        "linphonecsh is not installed: run scripts/test.sh (installs Debian package linphone-cli)"
    );
    Some(guard)
}

/// Plays alice's tone into the running call and records what she hears (file mode opens
/// them on the call's audio stream).
fn start_audio(alice: &Linphone) {
    alice.cmd(&format!("play {}", alice.dir.join("tone.wav").display()));
    alice.cmd(&format!("record {}", alice.dir.join("heard.wav").display()));
}

/// Both directions carried the other side's tone: bob decoded alice's 440 Hz, and alice's
/// recording holds bob's 1000 Hz.
fn assert_audio_both_ways(alice: &Linphone, bob: &Phone) {
    bob.received_audio()
        .assert_tone("bob hears linphone", 440, 3.0);
    // MSFileRec writes the WAV sizes when the call's stream stops.
    let rec = alice.dir.join("heard.wav");
    let mut heard = None;
    wait_until("linphone's recording is complete", SETUP, || {
        heard = Audio::read(&rec);
        heard.is_some()
    });
    heard
        .expect("recording")
        .assert_tone("linphone hears bob", 1000, 3.0);
}

/// bob at the provider, then linphone registered through the proxy (a digest exchange
/// with the provider, passed through).
fn bob_and_linphone(w: &World) -> (Phone, Linphone) {
    let mut bob = w.phone(PhoneSpec::bob(w));
    bob.wait_event("REGISTER_OK", SETUP);
    let alice = Linphone::start(w);
    wait_until("linphone registered through the proxy", SETUP, || {
        alice.cmd("status register").contains("registered,")
    });
    assert!(
        w.kamailio_text()
            .contains(&format!("REGISTER sip:{PROVIDER} from {ROUTER_WAN}:5060")),
        "linphone's REGISTER reached the provider from the router"
    );
    (bob, alice)
}

#[test]
fn linphone_calls_out_through_the_proxy_with_audio_both_ways_and_hangs_up() {
    let Some(_g) = prepare("linphone_call_out") else {
        return;
    };
    let w = World::new("lpout", "");
    let (mut bob, alice) = bob_and_linphone(&w);
    alice.cmd(&format!("call sip:bob@{PROVIDER}"));
    bob.wait_event("CALL_ESTABLISHED", SETUP);
    assert!(
        w.kamailio_text()
            .contains(&format!("INVITE sip:bob@{PROVIDER} from {ROUTER_WAN}:5060")),
        "linphone's INVITE followed its route through the router"
    );
    start_audio(&alice);
    bob.wait_rx_growth(150);
    std::thread::sleep(Duration::from_secs(4));
    alice.cmd("terminate");
    bob.wait_event("CALL_CLOSED", SETUP);
    assert_audio_both_ways(&alice, &bob);
    assert_no_lan_address_reached_the_provider(&w);
}

#[test]
fn linphone_answers_a_call_from_the_provider_with_audio_both_ways_and_the_far_end_hangs_up() {
    let Some(_g) = prepare("linphone_call_in") else {
        return;
    };
    let w = World::new("lpin", "");
    let (mut bob, alice) = bob_and_linphone(&w);
    alice.cmd("autoanswer enable");
    bob.command("dial", &format!("sip:alice@{PROVIDER}"));
    bob.wait_event("CALL_ESTABLISHED", SETUP);
    // linphonec says `hook=answered duration=N <peer>` in an answered call.
    wait_until("linphone answered bob", SETUP, || {
        let s = alice.cmd("status hook");
        s.contains("hook=answered") && s.contains(&format!("sip:bob@{PROVIDER}"))
    });
    start_audio(&alice);
    bob.wait_rx_growth(150);
    std::thread::sleep(Duration::from_secs(4));
    bob.command("hangup", "");
    bob.wait_event("CALL_CLOSED", SETUP);
    wait_until("linphone's call ended", SETUP, || {
        alice.cmd("status hook").contains("hook=on-hook")
    });
    assert_audio_both_ways(&alice, &bob);
    assert_no_lan_address_reached_the_provider(&w);
}

#[test]
fn linphone_pauses_and_resumes_and_the_media_flows_again() {
    let Some(_g) = prepare("linphone_hold") else {
        return;
    };
    let w = World::new("lphold", "");
    let (mut bob, alice) = bob_and_linphone(&w);
    alice.cmd(&format!("call sip:bob@{PROVIDER}"));
    bob.wait_event("CALL_ESTABLISHED", SETUP);
    start_audio(&alice);
    // 4 s of tone before the pause: baresip's recorder stops at the first re-INVITE (see
    // tests/interop.rs), so bob's recording holds only this part; after the resume, bob's
    // RTCP packet count is the proof.
    bob.wait_rx_growth(200);
    // linphonec's pause is a re-INVITE with a=sendonly, its resume one with a=sendrecv; both
    // reach bob and are answered back through the proxy.
    alice.cmd("pause");
    bob.wait_event("CALL_REMOTE_SDP", SETUP);
    wait_until("linphone paused", SETUP, || {
        alice.cmd("calls").contains("| Paused ")
    });
    alice.cmd("resume");
    bob.wait_event("CALL_REMOTE_SDP", SETUP);
    wait_until("linphone resumed", SETUP, || {
        alice.cmd("calls").contains("| StreamsRunning ")
    });
    // 3 s more of linphone's media counted by bob after the resume.
    bob.wait_rx_growth(150);
    alice.cmd("terminate");
    bob.wait_event("CALL_CLOSED", SETUP);
    assert_audio_both_ways(&alice, &bob);
    assert_no_lan_address_reached_the_provider(&w);
}

#[test]
fn linphone_cancels_before_bob_answers() {
    let Some(_g) = prepare("linphone_cancel") else {
        return;
    };
    let w = World::new("lpcancel", "");
    let mut bob = w.phone(PhoneSpec::bob(&w).manual_answer());
    bob.wait_event("REGISTER_OK", SETUP);
    let alice = Linphone::start(&w);
    wait_until("linphone registered through the proxy", SETUP, || {
        alice.cmd("status register").contains("registered,")
    });
    alice.cmd(&format!("call sip:bob@{PROVIDER}"));
    bob.wait_event("CALL_INCOMING", SETUP);
    alice.cmd("terminate");
    bob.wait_event("CALL_CLOSED", SETUP);
    assert!(
        w.kamailio_text()
            .contains(&format!("CANCEL sip:bob@{PROVIDER} from {ROUTER_WAN}:5060")),
        "linphone's CANCEL reached the provider through the router"
    );
    assert!(!bob.saw("CALL_ESTABLISHED"), "bob never answered");
    assert_no_lan_address_reached_the_provider(&w);
}

/// With proxy authentication on, linphone registering at the proxy itself (registrar mode)
/// is challenged with 407 and registers with its digest answer.
#[test]
fn linphone_registers_at_the_proxy_with_proxy_authentication() {
    let Some(_g) = prepare("linphone_proxy_auth") else {
        return;
    };
    let w = World::new(
        "lpauth",
        "proxy_auth_realm = lanrealm\nproxy_auth_passwd = s3cret\n",
    );
    let alice = Linphone::start_as(&w, ROUTER_LAN, "s3cret", "lanrealm");
    wait_until("linphone registered at the proxy", SETUP, || {
        alice.cmd("status register").contains("registered,")
    });
    let log = w.proxy_text();
    assert!(
        log.contains(&format!(
            "answering REGISTER sip:{ROUTER_LAN} from {PHONE_LAN}:5060 with 407"
        )) && log.contains(&format!(
            "registered sip:alice@{ROUTER_LAN} from {PHONE_LAN}:5060 (registrar mode)"
        )),
        "linphone was challenged and registered at the proxy itself:\n{log}"
    );
}
