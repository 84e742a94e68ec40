//! Black-box tests of the routing plugins (issue 11): the real binary on loopback with sipp.
//!
//! Proxy: inbound (LAN) 127.0.0.1, outbound (WAN) 127.0.0.2; phone sipp on 127.0.0.1,
//! registered through the proxy; provider sipp on 127.0.0.3, which is also the outbound proxy
//! so that a redirected call reaches it whatever host the new target names.
#![allow(clippy::expect_used, clippy::indexing_slicing)] // tests: a failed step panics, as a test should

mod harness;

use harness::*;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

/// Starts the proxy with `plugin_lines` and the provider sipp as outbound proxy; returns it
/// with the provider's port.
fn proxy(name: &str, plugin_lines: &str) -> (Proxy, u16) {
    require_sipp();
    let provider_port = free_udp_port();
    let proxy = Proxy::start(
        name,
        &format!(
            "rtp_proxy_enable = 0\noutbound_proxy_host = {PROVIDER}\n\
             outbound_proxy_port = {provider_port}\n{plugin_lines}"
        ),
    );
    (proxy, provider_port)
}

/// The phone dials `dialled`, is redirected by the proxy and calls the new target, which the
/// provider answers. Returns the Contact of the 302 and the Request-URI the provider got.
fn redirected_call(name: &str, plugin_lines: &str, dialled: &str) -> (String, String) {
    let (proxy, provider_port) = proxy(name, plugin_lines);
    let phone_port = free_udp_port();
    let keys = [
        ("provider", format!("{PROVIDER}:{provider_port}")),
        ("provider_host", "example.com".to_string()),
        ("user", "alice".to_string()),
        ("callee", dialled.to_string()),
    ];
    // The phone registers first: the responses of its calls are routed by its registration.
    let (ok, _, reg) = run_pair(
        &proxy.dir,
        &format!("{name}_register"),
        ("provider_register.xml", PROVIDER, provider_port),
        ("phone_register.xml", LAN, phone_port, proxy.lan_addr()),
        &keys,
    );
    assert!(
        ok,
        "registration failed\nproxy log:\n{}\nphone:\n{}",
        proxy.log_text(),
        reg.messages()
    );
    let (ok, provider, phone) = run_pair(
        &proxy.dir,
        name,
        ("provider_uas_call.xml", PROVIDER, provider_port),
        (
            "phone_call_redirected.xml",
            LAN,
            phone_port,
            proxy.lan_addr(),
        ),
        &keys,
    );
    assert!(
        ok,
        "redirected call failed\nproxy log:\n{}\nphone:\n{}{}\nprovider:\n{}{}",
        proxy.log_text(),
        phone.messages(),
        phone.errors(),
        provider.messages(),
        provider.errors()
    );
    let redirect = phone
        .received()
        .into_iter()
        .find(|m| m.trim_start().starts_with("SIP/2.0 302"))
        .expect("the phone got a 302");
    let contact = header(&redirect, "Contact");
    let invites: Vec<String> = provider
        .received()
        .into_iter()
        .filter(|m| m.trim_start().starts_with("INVITE "))
        .collect();
    assert_eq!(
        invites.len(),
        1,
        "only the redirected INVITE went out: {invites:?}"
    );
    let ruri = invites[0]
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    // The ACK of the 302 went nowhere: the provider saw the call's own ACK only.
    assert_eq!(
        provider.received_methods(),
        ["INVITE", "ACK", "BYE"],
        "provider saw {:?}",
        provider.received_methods()
    );
    (contact, ruri)
}

/// The value of the first `name:` header line of `msg`.
fn header(msg: &str, name: &str) -> String {
    msg.lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
        .unwrap_or_default()
}

#[test]
fn shortdial_redirects_star_01_to_entry_1_and_the_call_goes_through() {
    let (contact, ruri) = redirected_call(
        "shortdial",
        "load_plugin = plugin_shortdial.la\nplugin_shortdial_akey = *00\n\
         plugin_shortdial_entry = 0301234\nplugin_shortdial_entry = 0407654\n",
        "*02",
    );
    assert_eq!(contact, "<sip:0407654@example.com>");
    assert_eq!(ruri, "sip:0407654@example.com");
}

#[test]
fn regex_rewrites_the_dialled_number_and_the_call_goes_through() {
    let (contact, ruri) = redirected_call(
        "regex",
        "load_plugin = plugin_regex.la\nplugin_regex_desc = national\n\
         plugin_regex_pattern = ^sip:0([1-9][0-9]*)@(.*)$\n\
         plugin_regex_replace = sip:+49\\1@\\2\n",
        "0301234",
    );
    assert_eq!(contact, "<sip:+49301234@example.com;redirected=regex>");
    assert_eq!(ruri, "sip:+49301234@example.com;redirected=regex");
}

#[test]
fn defaulttarget_answers_a_call_to_an_unknown_user_with_the_target() {
    let (proxy, provider_port) = proxy(
        "defaulttarget",
        "load_plugin = plugin_defaulttarget.la\n\
         plugin_defaulttarget_target = sip:100@127.0.0.1:5999\nplugin_defaulttarget_log = 1\n",
    );
    let keys = [("provider_host", "example.com"), ("callee", "nobody")];
    let mut provider = Sipp::start(
        &proxy.dir,
        "defaulttarget_provider",
        "provider_call_redirected.xml",
        PROVIDER,
        provider_port,
        Some(proxy.wan_addr()),
        &keys,
    );
    assert!(
        provider.wait_ok(T),
        "no 302; proxy log:\n{}\nprovider:\n{}{}",
        proxy.log_text(),
        provider.messages(),
        provider.errors()
    );
    let redirect = provider
        .received()
        .into_iter()
        .find(|m| m.trim_start().starts_with("SIP/2.0 302"))
        .expect("the provider got a 302");
    assert_eq!(header(&redirect, "Contact"), "<sip:100@127.0.0.1:5999>");
    let log = proxy.log_text();
    assert!(
        log.contains("plugin_defaulttarget: call from") && log.contains("sip:100@127.0.0.1:5999"),
        "plugin_defaulttarget_log = 1 logs the redirect:\n{log}"
    );
    assert!(
        log.contains("ACK of a redirected request"),
        "the ACK was swallowed:\n{log}"
    );
}

/// The five routing plugins together pass `-t`; a bad directive of each stops it, named.
#[test]
fn test_config_checks_the_routing_plugins_directives() {
    let base = "load_plugin = plugin_shortdial.la\nload_plugin = plugin_siptrunk.la\n\
                load_plugin = plugin_prefix.la\nload_plugin = plugin_regex.la\n\
                load_plugin = plugin_defaulttarget.la\n\
                plugin_shortdial_akey = *00\nplugin_shortdial_entry = 100\n\
                plugin_prefix_akey = 0\n\
                plugin_defaulttarget_target = sip:100@192.168.1.20\n\
                plugin_siptrunk_name = office\nplugin_siptrunk_account = sip:pbx@example.com\n\
                plugin_regex_desc = intl\n";
    let good_regex = "plugin_regex_pattern = ^sip:00\nplugin_regex_replace = sip:+\n";
    let good_trunk = "plugin_siptrunk_numbers_regex = ^4930555\n";
    let check = |extra: &str| {
        let dir = TempDir::new("plugins-t");
        let conf = loopback_config(&dir, free_udp_port(), &format!("{base}{extra}"));
        let (st, _, err) = run(&["-t", "-c", conf.to_str().unwrap_or_default()]);
        let text = std::fs::read_to_string(&conf).unwrap_or_default();
        (st.code(), err, conf.display().to_string(), text)
    };
    let (code, err, _, _) = check(&format!("{good_regex}{good_trunk}"));
    assert_eq!(code, Some(0), "{err}");
    for (extra, name) in [
        (
            format!("plugin_regex_pattern = (unclosed\nplugin_regex_replace = x\n{good_trunk}"),
            "plugin_regex_pattern",
        ),
        (
            format!("plugin_regex_pattern = a\n{good_trunk}"),
            "plugin_regex_replace",
        ),
        (
            format!("{good_regex}plugin_siptrunk_numbers_regex = [x\n"),
            "plugin_siptrunk_numbers_regex",
        ),
        (
            format!("{good_regex}{good_trunk}plugin_defaulttarget_target = 100\n"),
            "plugin_defaulttarget_target",
        ),
    ] {
        let (code, err, path, text) = check(&extra);
        assert_eq!(code, Some(1), "{extra}: {err}");
        assert!(err.contains(name), "{extra}: {name} not named in:\n{err}");
        // Located like every other directive: file and the line of the value at fault
        // (an unpaired list: the line of the entry without a partner).
        let line = text
            .lines()
            .enumerate()
            .filter(|(_, l)| l.starts_with(&format!("{name} ")))
            .last()
            .map(|(i, _)| i + 1);
        match line {
            Some(n) => {
                let at = format!("{path}:{n}: {name}:");
                assert!(err.contains(&at), "{extra}: {at:?} not in:\n{err}");
            }
            None => {
                let after = err.split(&format!("{path}:")).nth(1).unwrap_or_default();
                let n: String = after.chars().take_while(char::is_ascii_digit).collect();
                assert!(
                    n.parse::<usize>().unwrap_or(0) > 0,
                    "{extra}: no line in:\n{err}"
                );
            }
        }
    }
}
