//! Black-box tests of the rewriting plugins (issue 11): the real binary on loopback, sipp as
//! phone and as provider, as in `blackbox_sip`.
//!
//! Proxy: inbound (LAN) 127.0.0.1, outbound (WAN) 127.0.0.2; phone sipp on 127.0.0.1,
//! provider sipp on 127.0.0.3. `rtp_proxy_enable = 0`: the SDP is filtered, not relayed.

#![allow(clippy::panic)] // test helpers: a missing message fails the test

mod harness;

use harness::*;
use std::net::SocketAddr;

struct Lab {
    proxy: Proxy,
    phone_port: u16,
    provider_port: u16,
}

impl Lab {
    fn new(name: &str, extra: &str) -> Lab {
        require_sipp();
        let proxy = Proxy::start(name, &format!("rtp_proxy_enable = 0\n{extra}"));
        Lab {
            proxy,
            phone_port: free_udp_port(),
            provider_port: free_udp_port(),
        }
    }

    fn keys(&self) -> Vec<(&'static str, String)> {
        vec![
            ("provider", format!("{PROVIDER}:{}", self.provider_port)),
            ("provider_host", PROVIDER.to_string()),
            ("user", "alice".to_string()),
            ("callee", "alice".to_string()),
        ]
    }

    /// One phase: the server role started first, then the client; both must succeed.
    fn phase(
        &self,
        tag: &str,
        server: (&str, &str, u16),
        client: (&str, &str, u16, SocketAddr),
    ) -> (Sipp, Sipp) {
        let (ok, srv, cli) = run_pair(&self.proxy.dir, tag, server, client, &self.keys());
        assert!(
            ok,
            "phase {tag} failed\nproxy log:\n{}\nclient:\n{}{}\nserver:\n{}{}",
            self.proxy.log_text(),
            cli.messages(),
            cli.errors(),
            srv.messages(),
            srv.errors()
        );
        (srv, cli)
    }

    /// The phone (client) calls out with `phone`; returns the provider's sipp.
    fn outgoing(&self, tag: &str, phone: &str, provider: &str) -> Sipp {
        let server = (provider, PROVIDER, self.provider_port);
        let client = (phone, LAN, self.phone_port, self.proxy.lan_addr());
        self.phase(tag, server, client).0
    }

    /// The provider (client) calls the phone; returns the phone's sipp.
    fn incoming(&self, tag: &str, phone: &str, provider: &str) -> Sipp {
        let server = (phone, LAN, self.phone_port);
        let client = (
            provider,
            PROVIDER,
            self.provider_port,
            self.proxy.wan_addr(),
        );
        self.phase(tag, server, client).0
    }

    fn register(&self) {
        self.outgoing("register", "phone_register.xml", "provider_register.xml");
    }
}

/// The body of the first received message that starts with `first`.
fn received_body(sipp: &Sipp, first: &str) -> String {
    let msgs = sipp.received();
    let m = msgs
        .iter()
        .find(|m| m.trim_start().starts_with(first))
        .unwrap_or_else(|| panic!("no {first} received: {msgs:?}"));
    m.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

#[test]
fn codecfilter_the_provider_receives_the_offer_without_the_blocked_codec() {
    let lab = Lab::new(
        "codecfilter",
        "load_plugin = plugin_codecfilter.la\nplugin_codecfilter_blacklist = G729\n",
    );
    lab.register();
    let provider = lab.outgoing("call", "phone_call_out_g729.xml", "provider_uas_call.xml");
    let sdp = received_body(&provider, "INVITE");
    assert!(sdp.contains("m=audio 40000 RTP/AVP 0"), "{sdp}");
    assert!(!sdp.contains("G729") && !sdp.contains("annexb"), "{sdp}");
    assert!(sdp.contains("a=rtpmap:0 PCMU/8000"), "{sdp}");
}

/// Every plugin name of issue 11 at once, with their directives.
const ALL_PLUGINS: &str = "\
load_plugin = plugin_demo.la
load_plugin = plugin_logcall.la
load_plugin = plugin_defaulttarget.la
load_plugin = plugin_shortdial.la
load_plugin = plugin_prefix.la
load_plugin = plugin_regex.la
load_plugin = plugin_regex_body.la
load_plugin = plugin_siptrunk.la
load_plugin = plugin_stripheader.la
load_plugin = plugin_codecfilter.la
load_plugin = plugin_fix_bogus_via.la
load_plugin = plugin_fix_DTAG.la
load_plugin = plugin_fix_fbox_anoncall.la
plugin_demo_string = all plugins
plugin_defaulttarget_target = sip:alice@127.0.0.1
plugin_defaulttarget_log = 1
plugin_shortdial_akey = *00
plugin_shortdial_entry = 0301234
plugin_prefix_akey = 0
plugin_regex_desc = test
plugin_regex_pattern = ^sip:00(.*)
plugin_regex_replace = sip:+\\1
plugin_regex_body_desc = session name
plugin_regex_body_pattern = ^(.*)s=-
plugin_regex_body_replace = \\1s=rewritten
plugin_siptrunk_name = trunk
plugin_siptrunk_account = sip:trunk@127.0.0.3
plugin_siptrunk_numbers_regex = ^99
plugin_stripheader_remove = X-Secret
plugin_codecfilter_blacklist = G729
plugin_fix_bogus_via_networks = 10.0.0.0/8
plugin_fix_DTAG_networks = 217.0.0.0/13
plugin_fix_fbox_anoncall_networks = 192.168.178.0/24
";

#[test]
fn a_config_with_every_plugin_passes_the_check_and_serves_a_call() {
    let dir = TempDir::new("allplugins-t");
    let conf = loopback_config(&dir, free_udp_port(), ALL_PLUGINS);
    let (st, out, err) = run(&["-t", "-c", conf.to_str().unwrap()]);
    assert_eq!(st.code(), Some(0), "{out}{err}");
    // An incoming call is one no routing plugin redirects (they act on outgoing calls or
    // calls of unknown direction): it reaches the phone, its body rewritten by regex_body.
    let lab = Lab::new("allplugins", ALL_PLUGINS);
    lab.register();
    let phone = lab.incoming("callin", "provider_uas_call.xml", "provider_call_in.xml");
    let sdp = received_body(&phone, "INVITE");
    assert!(sdp.contains("s=rewritten"), "{sdp}");
    assert!(
        lab.proxy.log_text().contains("plugin_demo"),
        "{}",
        lab.proxy.log_text()
    );
}
