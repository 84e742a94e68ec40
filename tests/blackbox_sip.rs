//! Black-box SIP tests (issue 4): the real binary on loopback, sipp as phone and as provider.
//!
//! Proxy: inbound (LAN) 127.0.0.1, outbound (WAN) 127.0.0.2; phone sipp on 127.0.0.1,
//! provider sipp on 127.0.0.3. `rtp_proxy_enable = 0` (media is issue 5).

mod harness;

use harness::*;
use std::net::SocketAddr;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

struct Lab {
    proxy: Proxy,
    phone_port: u16,
    provider_port: u16,
}

impl Lab {
    fn new(name: &str) -> Lab {
        require_sipp();
        let proxy = Proxy::start(name, "rtp_proxy_enable = 0\n");
        Lab {
            proxy,
            phone_port: free_udp_port(),
            provider_port: free_udp_port(),
        }
    }

    fn provider(&self) -> String {
        format!("{PROVIDER}:{}", self.provider_port)
    }

    fn keys(&self) -> Vec<(&'static str, String)> {
        vec![
            ("provider", self.provider()),
            ("provider_host", PROVIDER.to_string()),
            ("user", "alice".to_string()),
            ("callee", "alice".to_string()),
        ]
    }

    /// Runs one phase: a server role (started first) and a client role; both must succeed.
    /// Returns the server's and the client's sipp.
    fn phase(
        &self,
        tag: &str,
        server: (&str, &str, u16),
        client: (&str, &str, u16, SocketAddr),
        keys: &[(&str, String)],
    ) -> (Sipp, Sipp) {
        let (ok, srv, cli) = run_pair(&self.proxy.dir, tag, server, client, keys);
        assert!(
            ok,
            "phase {tag}: client or server failed\nproxy log:\n{}\nclient:\n{}{}\nserver:\n{}{}",
            self.proxy.log_text(),
            cli.messages(),
            cli.errors(),
            srv.messages(),
            srv.errors()
        );
        (srv, cli)
    }

    /// A call from the phone (client, `phone_scenario`) to the provider (server); returns the
    /// provider's and the phone's sipp.
    fn outgoing(&self, tag: &str, phone_scenario: &str, provider_scenario: &str) -> (Sipp, Sipp) {
        self.phase(
            tag,
            (provider_scenario, PROVIDER, self.provider_port),
            (phone_scenario, LAN, self.phone_port, self.proxy.lan_addr()),
            &self.keys(),
        )
    }

    /// A call from the provider (client, `provider_scenario`) to the phone (server); returns
    /// the phone's and the provider's sipp.
    fn incoming(&self, tag: &str, phone_scenario: &str, provider_scenario: &str) -> (Sipp, Sipp) {
        self.phase(
            tag,
            (phone_scenario, LAN, self.phone_port),
            (
                provider_scenario,
                PROVIDER,
                self.provider_port,
                self.proxy.wan_addr(),
            ),
            &self.keys(),
        )
    }

    /// The phone registers through the proxy at the provider.
    fn register(&self) -> Sipp {
        let (provider, _phone) =
            self.outgoing("register", "phone_register.xml", "provider_register.xml");
        provider
    }
}

/// Nothing the provider side receives may name the LAN address in Contact, Request-URI,
/// Record-Route or the top Via.
fn assert_no_lan_leak(provider: &Sipp) {
    let msgs = provider.received();
    assert!(!msgs.is_empty(), "provider received nothing");
    for m in &msgs {
        let mut lines = m.lines().filter(|l| !l.trim().is_empty());
        let first = lines.next().unwrap_or("");
        if !first.starts_with("SIP/2.0") {
            assert!(
                !first.contains(LAN),
                "Request-URI leaks the LAN address: {first}\n{m}"
            );
        }
        let mut seen_via = false;
        for l in m.lines() {
            let lower = l.to_ascii_lowercase();
            let is_top_via = (lower.starts_with("via:") || lower.starts_with("v:")) && !seen_via;
            if is_top_via {
                seen_via = true;
            }
            if is_top_via
                || lower.starts_with("contact:")
                || lower.starts_with("m:")
                || lower.starts_with("record-route:")
            {
                assert!(!l.contains(LAN), "header leaks the LAN address: {l}\n{m}");
            }
        }
    }
}

#[test]
fn phone_registers_through_the_proxy() {
    let lab = Lab::new("register");
    let provider = lab.register();
    assert_no_lan_leak(&provider);
    let reg = &provider.received()[0];
    assert!(reg.starts_with("\nREGISTER") || reg.trim_start().starts_with("REGISTER"));
    // The proxy's own Via is on top and names its WAN address.
    let top_via = reg.lines().find(|l| l.starts_with("Via:")).unwrap_or("");
    assert!(
        top_via.contains(&format!("{WAN}:{}", lab.proxy.port)),
        "top Via: {top_via}"
    );
    let contact = reg
        .lines()
        .find(|l| l.starts_with("Contact:"))
        .unwrap_or("");
    assert!(
        contact.contains(&format!("alice@{WAN}")),
        "masqueraded Contact: {contact}"
    );
}

#[test]
fn outgoing_call_invite_180_200_ack_bye() {
    let lab = Lab::new("callout");
    lab.register();
    let (provider, _) = lab.outgoing("callout", "phone_call_out.xml", "provider_uas_call.xml");
    assert_no_lan_leak(&provider);
    let methods: Vec<String> = provider.received_methods();
    assert_eq!(
        methods,
        ["INVITE", "ACK", "BYE"],
        "provider saw {methods:?}"
    );
}

#[test]
fn incoming_call_reaches_the_registered_phone() {
    let lab = Lab::new("callin");
    let reg = lab.register();
    let (phone, provider) = lab.incoming("callin", "provider_uas_call.xml", "provider_call_in.xml");
    assert_no_lan_leak(&reg);
    assert_no_lan_leak(&provider);
    let invite = &phone.received()[0];
    // The phone gets the INVITE with its own contact as Request-URI and the proxy's inbound
    // Record-Route on top.
    let ruri = invite.split_whitespace().nth(1).unwrap_or("");
    assert_eq!(ruri, format!("sip:alice@{LAN}:{}", lab.phone_port));
    let rr = invite
        .lines()
        .find(|l| l.starts_with("Record-Route:"))
        .unwrap_or("");
    assert!(
        rr.contains(&format!("{LAN}:{}", lab.proxy.port)),
        "Record-Route: {rr}"
    );
}

#[test]
fn cancel_of_a_ringing_call() {
    let lab = Lab::new("cancel");
    lab.register();
    let (phone, provider) = lab.incoming("cancel", "phone_ring_cancel.xml", "provider_cancel.xml");
    assert_no_lan_leak(&provider);
    let methods: Vec<String> = phone.received_methods();
    assert_eq!(
        methods,
        ["INVITE", "CANCEL", "ACK"],
        "phone saw {methods:?}"
    );
}

#[test]
fn call_to_unknown_user_gets_an_error() {
    let lab = Lab::new("unknown");
    lab.register();
    let mut keys = lab.keys();
    keys.retain(|(k, _)| *k != "callee");
    keys.push(("callee", "nobody".to_string()));
    let k: Vec<(&str, &str)> = keys.iter().map(|(a, b)| (*a, b.as_str())).collect();
    let mut provider = Sipp::start(
        &lab.proxy.dir,
        "unknown_client",
        "provider_call_unknown.xml",
        PROVIDER,
        lab.provider_port,
        Some(lab.proxy.wan_addr()),
        &k,
    );
    assert!(
        provider.wait_ok(T),
        "no error response; proxy log:\n{}",
        lab.proxy.log_text()
    );
}
