//! Black-box media tests (issue 5): the real binary relays RTP for sipp calls on loopback.
//!
//! Proxy: inbound (LAN) 127.0.0.1, outbound (WAN) 127.0.0.2; phone sipp on 127.0.0.1, provider
//! sipp on 127.0.0.3. sipp does the signalling; the media endpoints named in each side's SDP are
//! UDP sockets owned by the test, so every packet sent and received is counted exactly. The
//! scenarios append the relay port they see in each SDP to a file the test polls.
//! Each test has its own `rtp_port_low/high` range (below the ephemeral range) so they run in
//! parallel.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)] // test helpers: a failed set-up panics, as a test should

mod harness;

use harness::*;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(30);
/// Packets per burst: 50 RTP packets of 172 bytes (20 ms of PCMU each).
const BURST: u16 = 50;

fn media_socket(ip: &str) -> UdpSocket {
    let s = UdpSocket::bind((ip, 0)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    s
}

/// Reads everything that arrives within `quiet` of the last packet (at most `limit` overall):
/// (source, ssrc, seq) of each datagram.
fn drain(sock: &UdpSocket, limit: Duration, quiet: Duration) -> Vec<(SocketAddr, u32, u16)> {
    let mut out = Vec::new();
    let mut buf = [0u8; 2048];
    let end = Instant::now() + limit;
    let mut last = Instant::now();
    while Instant::now() < end && last.elapsed() < quiet {
        if let Ok((n, src)) = sock.recv_from(&mut buf) {
            last = Instant::now();
            let (ssrc, seq) = relayed_rtp(&buf, n);
            out.push((src, ssrc, seq));
        }
    }
    out
}

/// Sends a burst of `BURST` packets with sequence numbers from `first`.
fn send_burst(sock: &UdpSocket, to: SocketAddr, ssrc: u32, first: u16) {
    for i in 0..BURST {
        sock.send_to(&rtp_packet(ssrc, first + i), to).unwrap();
        if i % 10 == 9 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// Asserts `got` is exactly the burst `ssrc`/`first..first+BURST`, each relayed from `relay`.
fn assert_burst(
    got: &[(SocketAddr, u32, u16)],
    relay: SocketAddr,
    ssrc: u32,
    first: u16,
    what: &str,
) {
    let mut seqs: Vec<u16> = got
        .iter()
        .filter(|(src, s, _)| *s == ssrc && *src == relay)
        .map(|(_, _, q)| *q)
        .collect();
    seqs.sort_unstable();
    let want: Vec<u16> = (first..first + BURST).collect();
    assert_eq!(
        seqs, want,
        "{what}: packets relayed from {relay} (all received: {got:?})"
    );
    assert_eq!(got.len(), BURST as usize, "{what}: extra packets: {got:?}");
}

/// Polls `dir/file` until it has `n` lines, each a port number.
fn wait_ports(dir: &Path, file: &str, n: usize, proxy: &Proxy) -> Vec<u16> {
    let path = dir.join(file);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let ports: Vec<u16> = text
            .lines()
            .filter(|l| l.ends_with(|c: char| c.is_ascii_digit()))
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        if ports.len() >= n && text.ends_with('\n') {
            return ports;
        }
        assert!(
            Instant::now() < deadline,
            "{file}: wanted {n} relay ports, have {ports:?}; proxy log:\n{}",
            proxy.log_text()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The number after the first `key` at or after byte `from` of `json`.
fn number_after(json: &str, from: usize, key: &str) -> Option<u64> {
    let rest = json.get(from..)?;
    let at = rest.find(key)? + key.len();
    let digits: String = rest[at..]
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

fn addr(ip: &str, port: u16) -> SocketAddr {
    format!("{ip}:{port}").parse().unwrap()
}

/// Phone and provider of one call through a proxy with media relaying.
struct Lab {
    proxy: Proxy,
    /// Where SIGUSR1 makes the proxy write its status snapshot.
    status: std::path::PathBuf,
    phone_port: u16,
    provider_port: u16,
}

/// A call up through the proxy, with the test's own media sockets at both ends and the relay
/// ports the proxy offered each side.
struct MediaCall {
    phone_media: UdpSocket,
    provider_media: UdpSocket,
    phone: Sipp,
    provider: Sipp,
    /// The relay port given to the phone (on LAN).
    lan: u16,
    /// The relay port given to the provider (on WAN).
    wan: u16,
}

impl MediaCall {
    /// The relay addresses of the call: (LAN side, WAN side).
    fn relays(&self) -> (SocketAddr, SocketAddr) {
        (addr(LAN, self.lan), addr(WAN, self.wan))
    }

    /// A burst each way, sequence numbers from `first`, every packet checked.
    fn audio(&self, first: u16, what: &str) {
        let (lan, wan) = self.relays();
        audio_both_ways(
            &self.phone_media,
            &self.provider_media,
            lan,
            wan,
            first,
            what,
        );
    }
}

impl Lab {
    /// Sets up call `tag` between the lab's phone and provider; see [`MediaCall`].
    fn media_call(&self, tag: &str) -> MediaCall {
        let phone_media = media_socket(LAN);
        let provider_media = media_socket(PROVIDER);
        let (phone, provider) = self.call(
            tag,
            self.phone_port,
            self.provider_port,
            phone_media.local_addr().unwrap().port(),
            provider_media.local_addr().unwrap().port(),
        );
        let dir = &self.proxy.dir;
        let lan = wait_ports(dir, &format!("{tag}_answer_ports"), 1, &self.proxy)[0];
        let wan = wait_ports(dir, &format!("{tag}_offer_ports"), 1, &self.proxy)[0];
        MediaCall {
            phone_media,
            provider_media,
            phone,
            provider,
            lan,
            wan,
        }
    }

    fn new(name: &str, low: u16, high: u16) -> Lab {
        require_sipp();
        let status = temp_dir(&format!("{name}_status")).join("status.json");
        let proxy = Proxy::start(
            name,
            &format!(
                "rtp_proxy_enable = 1\nrtp_port_low = {low}\nrtp_port_high = {high}\n\
                 status_file = {}\n",
                status.display()
            ),
        );
        let lab = Lab {
            proxy,
            status,
            phone_port: free_udp_port(),
            provider_port: free_udp_port(),
        };
        lab.register();
        lab
    }

    fn keys(&self, provider_port: u16, rtp: u16, tag: &str) -> Vec<(&'static str, String)> {
        vec![
            ("provider", format!("{PROVIDER}:{provider_port}")),
            ("provider_host", PROVIDER.to_string()),
            ("user", "alice".to_string()),
            ("callee", "alice".to_string()),
            ("rtp", rtp.to_string()),
            ("tag", tag.to_string()),
        ]
    }

    fn sipp(
        &self,
        name: &str,
        scenario: &str,
        ip: &str,
        port: u16,
        remote: Option<SocketAddr>,
        keys: &[(&str, String)],
    ) -> Sipp {
        let k: Vec<(&str, &str)> = keys.iter().map(|(a, b)| (*a, b.as_str())).collect();
        Sipp::start(&self.proxy.dir, name, scenario, ip, port, remote, &k)
    }

    /// Outgoing calls are recognised by the registered phone (behaviour §4.5).
    fn register(&self) {
        let keys = self.keys(self.provider_port, 0, "reg");
        let mut srv = self.sipp(
            "register_server",
            "provider_register.xml",
            PROVIDER,
            self.provider_port,
            None,
            &keys,
        );
        std::thread::sleep(Duration::from_millis(200));
        let mut cli = self.sipp(
            "register_client",
            "phone_register.xml",
            LAN,
            self.phone_port,
            Some(self.proxy.lan_addr()),
            &keys,
        );
        assert!(
            cli.wait_ok(T) && srv.wait_ok(T),
            "registration failed; proxy log:\n{}",
            self.proxy.log_text()
        );
    }

    /// Starts a call (provider sipp first) whose SDP names `phone_rtp` / `provider_rtp`.
    fn call(
        &self,
        tag: &str,
        phone_port: u16,
        provider_port: u16,
        phone_rtp: u16,
        provider_rtp: u16,
    ) -> (Sipp, Sipp) {
        let provider = self.sipp(
            &format!("{tag}_provider"),
            "media_provider_answer.xml",
            PROVIDER,
            provider_port,
            None,
            &self.keys(provider_port, provider_rtp, tag),
        );
        std::thread::sleep(Duration::from_millis(200));
        let phone = self.sipp(
            &format!("{tag}_phone"),
            "media_phone_call.xml",
            LAN,
            phone_port,
            Some(self.proxy.lan_addr()),
            &self.keys(provider_port, phone_rtp, tag),
        );
        (phone, provider)
    }

    /// SIGUSR1, then the snapshot the proxy writes.
    fn status_snapshot(&self) -> String {
        let _ = std::fs::remove_file(&self.status);
        self.proxy.signal("USR1");
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let text = std::fs::read_to_string(&self.status).unwrap_or_default();
            if text.trim_end().ends_with('}') {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "no status snapshot in {}; proxy log:\n{}",
                self.status.display(),
                self.proxy.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn finish(&self, what: &str, mut phone: Sipp, mut provider: Sipp) -> (Sipp, Sipp) {
        let ph = phone.wait_ok(T);
        let pr = provider.wait_ok(T);
        assert!(
            ph && pr,
            "{what}: phone ok={ph} provider ok={pr}\nproxy log:\n{}\nphone:\n{}\nprovider:\n{}",
            self.proxy.log_text(),
            phone.messages(),
            provider.messages()
        );
        (phone, provider)
    }
}

const PHONE_SSRC: u32 = 0x1111_1111;
const PROVIDER_SSRC: u32 = 0x2222_2222;
const INTRUDER_SSRC: u32 = 0x6666_6666;

/// One burst each way; every packet must arrive on the far side, relayed from the relay port
/// the far side was told in SDP.
fn audio_both_ways(
    phone: &UdpSocket,
    provider: &UdpSocket,
    lan_relay: SocketAddr,
    wan_relay: SocketAddr,
    first: u16,
    what: &str,
) {
    send_burst(phone, lan_relay, PHONE_SSRC, first);
    send_burst(provider, wan_relay, PROVIDER_SSRC, first);
    let at_provider = drain(provider, Duration::from_secs(3), Duration::from_millis(500));
    let at_phone = drain(phone, Duration::from_secs(3), Duration::from_millis(500));
    assert_burst(
        &at_provider,
        wan_relay,
        PHONE_SSRC,
        first,
        &format!("{what}: phone to provider"),
    );
    assert_burst(
        &at_phone,
        lan_relay,
        PROVIDER_SSRC,
        first,
        &format!("{what}: provider to phone"),
    );
}

#[test]
fn rtp_is_relayed_both_ways_through_hold_and_unhold_and_ports_close_after_bye() {
    let lab = Lab::new("media_hold", 27100, 27119);
    // Call up: the phone was told the LAN relay port, the provider the WAN one.
    let MediaCall {
        phone_media,
        provider_media,
        phone,
        provider,
        lan,
        wan,
    } = lab.media_call("hold");
    assert!(
        (27100..=27119).contains(&lan) && lan.is_multiple_of(2),
        "LAN relay port {lan}"
    );
    assert!(
        (27100..=27119).contains(&wan) && wan.is_multiple_of(2),
        "WAN relay port {wan}"
    );
    let (lan_relay, wan_relay) = (addr(LAN, lan), addr(WAN, wan));
    audio_both_ways(
        &phone_media,
        &provider_media,
        lan_relay,
        wan_relay,
        0,
        "call up",
    );

    // Hold, then unhold: the relay ports stay the same on both sides.
    let answers = wait_ports(&lab.proxy.dir, "hold_answer_ports", 3, &lab.proxy);
    let offers = wait_ports(&lab.proxy.dir, "hold_offer_ports", 3, &lab.proxy);
    assert_eq!(answers, [lan, lan, lan], "LAN relay port across re-INVITEs");
    assert_eq!(offers, [wan, wan, wan], "WAN relay port across re-INVITEs");
    audio_both_ways(
        &phone_media,
        &provider_media,
        lan_relay,
        wan_relay,
        1000,
        "after unhold",
    );

    let (_, provider) = lab.finish("hold call", phone, provider);
    // The hold offer reached the provider with the hold address untouched.
    let hold = provider
        .received()
        .into_iter()
        .filter(|m| m.trim_start().starts_with("INVITE"))
        .nth(1)
        .unwrap_or_default();
    assert!(hold.contains("c=IN IP4 0.0.0.0"), "hold offer: {hold}");
    assert!(
        hold.contains(&format!("m=audio {wan} ")),
        "hold offer: {hold}"
    );

    // After BYE the relay sockets (RTP and RTCP) are closed: the test can bind them.
    for a in [lan_relay, addr(LAN, lan + 1), wan_relay, addr(WAN, wan + 1)] {
        let deadline = Instant::now() + Duration::from_secs(2);
        while UdpSocket::bind(a).is_err() {
            assert!(
                Instant::now() < deadline,
                "{a} still bound after BYE; proxy log:\n{}",
                lab.proxy.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn a_third_party_sending_to_a_latched_relay_port_is_dropped_and_logged() {
    let lab = Lab::new("media_intruder", 27200, 27219);
    let intruder = media_socket(PROVIDER);
    let MediaCall {
        phone_media,
        provider_media,
        phone,
        provider,
        lan,
        wan,
    } = lab.media_call("intr");
    let (lan_relay, wan_relay) = (addr(LAN, lan), addr(WAN, wan));
    // Both sides latch.
    audio_both_ways(
        &phone_media,
        &provider_media,
        lan_relay,
        wan_relay,
        0,
        "latching",
    );

    // Someone on the Internet sends to the WAN relay port while the provider is active.
    send_burst(&intruder, wan_relay, INTRUDER_SSRC, 500);
    send_burst(&provider_media, wan_relay, PROVIDER_SSRC, 100);
    let at_phone = drain(
        &phone_media,
        Duration::from_secs(3),
        Duration::from_millis(500),
    );
    assert!(
        at_phone.iter().all(|(_, ssrc, _)| *ssrc != INTRUDER_SSRC),
        "intruder packets reached the phone: {at_phone:?}"
    );
    assert_burst(
        &at_phone,
        lan_relay,
        PROVIDER_SSRC,
        100,
        "provider audio next to the intruder",
    );

    // The drops are counted: in the debug log (class rtpbabl) and in the status snapshot.
    let intruder_addr = intruder.local_addr().unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let log = lab.proxy.log_text();
        let drops = log
            .lines()
            .filter(|l| {
                l.contains(&format!("from {intruder_addr} ")) && l.contains("ForeignSource")
            })
            .count();
        if drops == BURST as usize {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{drops} drops of {intruder_addr} logged, want {BURST}; proxy log:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let json = lab.status_snapshot();
    assert_eq!(
        number_after(&json, 0, "\"rtp.dropped.foreign_source.open_streams\":"),
        Some(u64::from(BURST)),
        "status counters:\n{json}"
    );
    let row = json
        .find(&format!("\"local\": \"{wan_relay}\""))
        .unwrap_or_else(|| panic!("no stream row for {wan_relay}:\n{json}"));
    assert_eq!(
        number_after(&json, row, "\"drops\":"),
        Some(u64::from(BURST)),
        "drops of the WAN stream {wan_relay}:\n{json}"
    );
    lab.finish("intruder call", phone, provider);
}

/// No line of `msg` names the LAN address (SDP included), except the phone's own Via below the
/// proxy's (the Via chain is kept, behaviour §4.10.3) and the Call-ID (an opaque token the phone
/// chose; siproxd alters it only with `obscure_loops`).
fn assert_no_lan_address(msg: &str, who: &str) {
    let mut vias = 0;
    for l in msg.lines() {
        let lower = l.to_ascii_lowercase();
        let via = lower.starts_with("via:") || lower.starts_with("v:");
        if via {
            vias += 1;
        }
        let exempt = (via && vias > 1) || lower.starts_with("call-id:") || lower.starts_with("i:");
        assert!(
            exempt || !l.contains(LAN),
            "{who} received the LAN address in `{l}`:\n{msg}"
        );
    }
}

#[test]
fn with_two_port_pairs_a_third_call_gets_503_and_nothing_leaks_the_lan_address() {
    let lab = Lab::new("media_503", 27300, 27302);
    let mut calls = Vec::new();
    let mut ports = Vec::new();
    for tag in ["c1", "c2"] {
        let (phone, provider) = lab.call(tag, free_udp_port(), free_udp_port(), 40000, 41000);
        ports.push(
            wait_ports(
                &lab.proxy.dir,
                &format!("{tag}_answer_ports"),
                1,
                &lab.proxy,
            )[0],
        );
        calls.push((phone, provider));
    }
    ports.sort_unstable();
    assert_eq!(ports, [27300, 27302], "the two pairs of the range");
    let keys = lab.keys(lab.provider_port, 40000, "c3");
    let mut third = lab.sipp(
        "c3_phone",
        "media_phone_rejected.xml",
        LAN,
        free_udp_port(),
        Some(lab.proxy.lan_addr()),
        &keys,
    );
    assert!(
        third.wait_ok(T),
        "third call did not get 503; proxy log:\n{}\nphone:\n{}",
        lab.proxy.log_text(),
        third.messages()
    );
    assert!(
        lab.proxy.log_text().contains("cannot relay media 0"),
        "503 for another reason; proxy log:\n{}",
        lab.proxy.log_text()
    );
    for (i, (phone, provider)) in calls.into_iter().enumerate() {
        let (_, provider) = lab.finish(&format!("call {i}"), phone, provider);
        let msgs = provider.received();
        assert!(!msgs.is_empty(), "provider {i} received nothing");
        for m in msgs {
            assert_no_lan_address(&m, &format!("provider {i}"));
        }
    }
}

/// A pcap (Ethernet, IPv4/UDP) of `BURST` RTP packets of `ssrc`, 20 ms apart, for sipp's
/// `play_pcap_audio`; headers built byte by byte (pcap fields little-endian, network fields
/// big-endian).
fn rtp_pcap(ssrc: u32) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    f.extend_from_slice(&2u16.to_le_bytes());
    f.extend_from_slice(&4u16.to_le_bytes());
    f.extend_from_slice(&0u32.to_le_bytes()); // thiszone
    f.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
    f.extend_from_slice(&65535u32.to_le_bytes()); // snaplen
    f.extend_from_slice(&1u32.to_le_bytes()); // Ethernet
    for seq in 0..BURST {
        let mut pkt = Vec::new();
        pkt.extend_from_slice(&[0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00]);
        let ip_len = (20 + 8 + RTP_LEN) as u16;
        let mut ip = [0u8; 20];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
        ip[4..6].copy_from_slice(&seq.to_be_bytes());
        ip[8] = 64;
        ip[9] = 17;
        ip[12..16].copy_from_slice(&[10, 0, 0, 1]);
        ip[16..20].copy_from_slice(&[10, 0, 0, 2]);
        let mut sum: u32 = ip
            .chunks(2)
            .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
            .sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
        pkt.extend_from_slice(&ip);
        pkt.extend_from_slice(&6000u16.to_be_bytes());
        pkt.extend_from_slice(&6000u16.to_be_bytes());
        pkt.extend_from_slice(&((8 + RTP_LEN) as u16).to_be_bytes());
        pkt.extend_from_slice(&[0, 0]);
        pkt.extend_from_slice(&rtp_packet(ssrc, seq));
        let usec = u32::from(seq) * 20_000;
        f.extend_from_slice(&(usec / 1_000_000).to_le_bytes());
        f.extend_from_slice(&(usec % 1_000_000).to_le_bytes());
        f.extend_from_slice(&(pkt.len() as u32).to_le_bytes());
        f.extend_from_slice(&(pkt.len() as u32).to_le_bytes());
        f.extend_from_slice(&pkt);
    }
    f
}

const PCAP_SSRC: u32 = 0x3333_3333;

/// sipp itself is the phone's media endpoint: it plays a pcap of RTP to the relay and echoes
/// (`-rtp_echo`) what the provider sends; the provider side counts both.
#[test]
fn sipp_rtp_from_a_pcap_and_its_echo_cross_the_relay() {
    let lab = Lab::new("media_pcap", 27400, 27419);
    let dir = lab.proxy.dir.clone();
    std::fs::write(dir.join("media_burst.pcap"), rtp_pcap(PCAP_SSRC)).unwrap();
    let provider_media = media_socket(PROVIDER);
    let provider_port = lab.provider_port;
    let provider = lab.sipp(
        "pcap_provider",
        "media_provider_answer.xml",
        PROVIDER,
        provider_port,
        None,
        &lab.keys(
            provider_port,
            provider_media.local_addr().unwrap().port(),
            "pcap",
        ),
    );
    std::thread::sleep(Duration::from_millis(200));
    let keys = lab.keys(provider_port, 0, "pcap");
    let k: Vec<(&str, &str)> = keys.iter().map(|(a, b)| (*a, b.as_str())).collect();
    let phone = Sipp::start_many(
        &dir,
        "pcap_phone",
        "media_phone_pcap.xml",
        LAN,
        lab.phone_port,
        Some(lab.proxy.lan_addr()),
        &k,
        &["-m", "1", "-rtp_echo", "-timeout", "20s", "-timeout_error"],
    );
    let wan = wait_ports(&dir, "pcap_offer_ports", 1, &lab.proxy)[0];
    let wan_relay = addr(WAN, wan);
    wait_ports(&dir, "pcap_answer_ports", 1, &lab.proxy);
    send_burst(&provider_media, wan_relay, PROVIDER_SSRC, 0);
    let got = drain(
        &provider_media,
        Duration::from_secs(8),
        Duration::from_millis(1500),
    );
    let (played, echoed): (Vec<_>, Vec<_>) =
        got.into_iter().partition(|(_, ssrc, _)| *ssrc == PCAP_SSRC);
    assert_burst(
        &played,
        wan_relay,
        PCAP_SSRC,
        0,
        "pcap played by the phone sipp",
    );
    assert_burst(
        &echoed,
        wan_relay,
        PROVIDER_SSRC,
        0,
        "echoed by the phone sipp",
    );
    lab.finish("pcap call", phone, provider);
}

/// The status row of a relay socket names the peer that socket talks to: the WAN socket's
/// `remote`/`latched` are the provider's media address, the LAN socket's the phone's
/// (src/status/mod.rs: `remote` = the peer's address from SDP, `latched` = source seen on
/// `local`).
#[test]
fn status_rows_pair_each_relay_socket_with_its_own_peer() {
    let lab = Lab::new("media_status", 27500, 27519);
    let call = lab.media_call("st");
    call.audio(0, "latching");
    let (lan_relay, wan_relay) = call.relays();
    let json = lab.status_snapshot();
    // The call and its streams carry what the SDP and the relay table know (issue 17).
    let call_line = json
        .lines()
        .find(|l| l.contains("\"call_id\""))
        .unwrap_or_else(|| panic!("no call:\n{json}"));
    assert!(
        call_line.contains("\"direction\": \"outgoing\"")
            && call_line.contains("\"party\": \"")
            && !call_line.contains("\"started_unix\": 0,"),
        "call line: {call_line}"
    );
    for (local, facing) in [(wan_relay, "incoming"), (lan_relay, "outgoing")] {
        let row = json
            .lines()
            .find(|l| l.contains(&format!("\"local\": \"{local}\"")))
            .unwrap_or_else(|| panic!("no row for {local}:\n{json}"));
        let want = format!(
            "{{\"media\": \"audio\", \"media_index\": 0, \"direction\": \"{facing}\", \
             \"payload_type\": 0, \"codec\": \"PCMU\""
        );
        assert!(row.contains(&want), "row of {local}: {row}");
        // Audio came in on both sockets, so each knows when it last did; the call is answered.
        assert!(
            row.contains("\"idle_in_s\": ")
                && !row.contains("\"idle_in_s\": null")
                && row.contains("\"established\": true}"),
            "row of {local}: {row}"
        );
    }
    for (local, peer) in [
        (wan_relay, call.provider_media.local_addr().unwrap()),
        (lan_relay, call.phone_media.local_addr().unwrap()),
    ] {
        let row = json
            .lines()
            .find(|l| l.contains(&format!("\"local\": \"{local}\"")))
            .unwrap_or_else(|| panic!("no row for {local}:\n{json}"));
        assert!(
            row.contains(&format!("\"remote\": \"{peer}\""))
                && row.contains(&format!("\"latched\": \"{peer}\"")),
            "row of {local} should name {peer}: {row}"
        );
    }
    lab.finish("status call", call.phone, call.provider);
}

/// Issue 7 (decisions §7): a SIGHUP that changes the ACLs during a call applies at once and
/// the call keeps its relay ports and its media both ways.
#[test]
fn sighup_during_a_call_keeps_its_media() {
    let lab = Lab::new("media_hup", 27600, 27619);
    let call = lab.media_call("hup");
    call.audio(0, "before SIGHUP");
    let conf = lab.proxy.dir.join("siproxd-rs.conf");
    let mut text = std::fs::read_to_string(&conf).unwrap();
    text.push_str("hosts_deny_sip = 192.0.2.66\n");
    std::fs::write(&conf, text).unwrap();
    lab.proxy.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !lab.proxy.log_text().contains("configuration reloaded") {
        assert!(
            Instant::now() < deadline,
            "no reload:\n{}",
            lab.proxy.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    call.audio(100, "after SIGHUP");
    lab.finish("call across SIGHUP", call.phone, call.provider);
}
