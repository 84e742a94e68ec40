//! Tests of the `siproxd.conf` parser, `-s` overrides, the UCI reader and validation.

use super::*;
use std::net::IpAddr;

fn conf(text: &str) -> Result<(Config, Vec<Diagnostic>), Vec<Diagnostic>> {
    parse_conf(text.as_bytes(), "test.conf", &[], false)
}

/// Parses text that must load without any diagnostic.
fn clean(text: &str) -> Config {
    let (cfg, diags) = conf(text).unwrap_or_else(|d| panic!("rejected: {d:?}"));
    assert!(diags.is_empty(), "unexpected diagnostics: {diags:?}");
    cfg
}

/// Parses text that must be rejected; returns every diagnostic.
fn rejected(text: &str) -> Vec<Diagnostic> {
    match conf(text) {
        Ok((cfg, d)) => panic!("accepted: {d:?} {cfg:?}"),
        Err(d) => d,
    }
}

fn errors(diags: &[Diagnostic]) -> Vec<&Diagnostic> {
    diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect()
}

#[test]
fn values_containing_earlier_keywords_keep_their_value() {
    let cfg = clean("registration_file = /home/user/regs\nproxy_auth_pwfile = /etc/users.pw\n");
    assert_eq!(cfg.registration_file.as_deref(), Some("/home/user/regs"));
    assert_eq!(cfg.proxy_auth_pwfile.as_deref(), Some("/etc/users.pw"));
    assert_eq!(cfg.user, None);
}

#[test]
fn quoted_value_keeps_hash_and_unquoted_inner_hash_is_kept() {
    let cfg =
        clean("proxy_auth_passwd = \"se#cret # x\"  # comment\nua_string = my#agent # comment\n");
    assert_eq!(cfg.proxy_auth_passwd.as_deref(), Some("se#cret # x"));
    assert_eq!(cfg.ua_string.as_deref(), Some("my#agent"));
}

#[test]
fn strings_keep_inner_spaces_and_crlf_is_stripped() {
    let cfg = clean("ua_string = My Phone 1.0  \r\nif_inbound\t=\teth0\r\n");
    assert_eq!(cfg.ua_string.as_deref(), Some("My Phone 1.0"));
    assert_eq!(cfg.if_inbound.as_deref(), Some("eth0"));
}

#[test]
fn mask_host_count_mismatch_is_an_error_naming_both() {
    let d = rejected("mask_host = a\nmask_host = b\nmasked_host = c\n");
    let e = errors(&d);
    assert_eq!(e.len(), 1, "{d:?}");
    assert!(
        e[0].message.contains("mask_host") && e[0].message.contains("masked_host"),
        "{}",
        e[0]
    );
    assert!(e[0].message.contains("2 mask_host") && e[0].message.contains("1 masked_host"));
    assert_eq!(e[0].file, "test.conf");
}

#[test]
fn three_way_arrays_must_match() {
    let cfg = clean(
        "outbound_domain_name = a.example\noutbound_domain_host = p.a.example\noutbound_domain_port = 5070\n\
         outbound_domain_name = b.example\noutbound_domain_host = p.b.example\noutbound_domain_port = 0x13C4\n",
    );
    assert_eq!(cfg.outbound_domain_name, ["a.example", "b.example"]);
    assert_eq!(cfg.outbound_domain_port, [5070, 5060]);
    for text in [
        "outbound_domain_name = a\noutbound_domain_host = b\n",
        "plugin_regex_desc = a\nplugin_regex_pattern = b\n",
        "plugin_regex_body_desc = a\nplugin_regex_body_replace = b\n",
        "plugin_siptrunk_name = a\nplugin_siptrunk_account = b\nplugin_siptrunk_numbers_regex = c\nplugin_siptrunk_name = d\n",
    ] {
        let d = rejected(text);
        assert_eq!(errors(&d).len(), 1, "{text}: {d:?}");
    }
    let d = rejected("outbound_domain_name = a\noutbound_domain_port = 0\n");
    assert!(
        d.iter()
            .any(|d| d.line == 2 && d.directive == "outbound_domain_port"),
        "{d:?}"
    );
}

#[test]
fn odd_rtp_port_low_is_rounded_up_with_a_warning() {
    let (cfg, d) = conf("rtp_port_low = 7071\nrtp_port_high = 7089\n").unwrap();
    assert_eq!(cfg.rtp_port_low, 7072);
    assert_eq!(cfg.rtp_port_high, 7088);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].severity, Severity::Warning);
    assert_eq!(d[0].directive, "rtp_port_low");
    assert!(d[0].message.contains("7072"));
}

#[test]
fn rtp_port_order_and_ranges() {
    let d = rejected("rtp_port_low = 8000\nrtp_port_high = 7000\n");
    assert!(errors(&d)[0].message.contains("above rtp_port_high"));
    let d = rejected("rtp_port_low = 65535\nrtp_port_high = 65535\n");
    assert_eq!(errors(&d).len(), 1, "{d:?}");
    let cfg = clean("rtp_port_low = 10000\nrtp_port_high = 10001\n");
    assert_eq!((cfg.rtp_port_low, cfg.rtp_port_high), (10000, 10000));
}

#[test]
fn acl_without_prefix_is_a_host() {
    let cfg = clean("hosts_allow_sip = 10.0.0.5\n");
    let acl = cfg.hosts_allow_sip.unwrap();
    assert_eq!(acl.entries.len(), 1);
    assert_eq!(acl.entries[0].prefix, 32);
    assert!(acl.contains("10.0.0.5".parse::<IpAddr>().unwrap()));
    assert!(!acl.contains("10.0.0.4".parse::<IpAddr>().unwrap()));
}

#[test]
fn bad_acl_entries_are_errors_even_without_strict() {
    let d = rejected(
        "hosts_allow_reg = 192.168.1.0/24,sip.example.com\nplugin_fix_DTAG_networks = 1.2.3.4/40\n",
    );
    let e = errors(&d);
    assert_eq!(e.len(), 2, "{d:?}");
    assert_eq!((e[0].line, e[0].directive.as_str()), (1, "hosts_allow_reg"));
    assert!(e[0].message.contains("sip.example.com") && e[0].message.contains("IP address"));
    assert_eq!(
        (e[1].line, e[1].directive.as_str()),
        (2, "plugin_fix_DTAG_networks")
    );
}

#[test]
fn unknown_keyword_is_a_warning_unless_strict() {
    let (cfg, d) = conf("foo = 1\nsip_listen_port = 5070\n").unwrap();
    assert_eq!(cfg.sip_listen_port, 5070);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].severity, Severity::Warning);
    assert_eq!(
        d[0].to_string(),
        "test.conf:1: foo: unknown directive, ignored"
    );
    let strict = parse_conf(b"foo = 1\n", "test.conf", &[], true).unwrap_err();
    assert_eq!(strict.len(), 1);
    assert_eq!(strict[0].severity, Severity::Error);
    // Keywords are case-sensitive and matched whole.
    assert!(conf("SIP_LISTEN_PORT = 1\n").unwrap().1[0]
        .message
        .contains("unknown"));
    assert!(conf("sip_listen_port_x = 1\n").unwrap().1[0]
        .message
        .contains("unknown"));
}

#[test]
fn invalid_values_are_warnings_and_keep_the_default() {
    let (cfg, d) = conf("rtp_timeout = soon\nua_string =\ndaemonize 1\n= 5\n").unwrap();
    assert_eq!(cfg.rtp_timeout, 300);
    assert_eq!(cfg.ua_string, None);
    let lines: Vec<usize> = d.iter().map(|d| d.line).collect();
    assert_eq!(lines, [1, 2, 3, 4]);
    assert!(d.iter().all(|d| d.severity == Severity::Warning));
    assert!(d[0].message.contains("expected an integer"));
    assert!(d[1].message.contains("empty value"));
    assert!(d[2].message.contains("no '='"));
    assert!(parse_conf(b"rtp_timeout = soon\n", "f", &[], true).is_err());
}

#[test]
fn integers_hex_octal_negative_and_trailing_text() {
    let cfg = clean("debug_level = 0x204\nrtp_dscp = 056\nsip_listen_port = 5070 # comment\nrtp_timeout = 60s\n");
    assert_eq!(cfg.debug_level, 0x204);
    assert_eq!(cfg.rtp_dscp, 46);
    assert_eq!(cfg.sip_listen_port, 5070);
    assert_eq!(cfg.rtp_timeout, 60);
    assert_eq!(clean("debug_level = -1\n").debug_level, u32::MAX);
    assert_eq!(
        clean("plugin_stats_to_syslog = -1\n")
            .plugins
            .plugin_stats_to_syslog,
        -1
    );
    let d = rejected("rtp_timeout = -5\ndebug_level = -2\n");
    assert_eq!(errors(&d).len(), 2, "{d:?}");
}

#[test]
fn out_of_range_values_are_errors_and_all_are_reported() {
    let d = rejected(
        "sip_listen_port = 0\nrtp_dscp = 64\nsilence_log = 5\nrtp_proxy_enable = 2\n\
         rtp_input_dejitter = 1500001\noutbound_proxy_port = 70000\nsip_dscp = -1\nmax_registrations = 0\n",
    );
    let lines: Vec<usize> = errors(&d).iter().map(|d| d.line).collect();
    assert_eq!(lines, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert!(d[1].message.contains("0..63"), "{}", d[1]);
    let cfg = clean(
        "rtp_input_dejitter = 1500000\nrtp_proxy_enable = 0\nsilence_log = 4\ndebug_port = 0\n",
    );
    assert_eq!(cfg.rtp_input_dejitter, 1_500_000);
    assert_eq!(cfg.rtp_proxy_enable, 0);
}

#[test]
fn last_scalar_wins_and_arrays_append() {
    let cfg = clean(
        "rtp_timeout = 10\nrtp_timeout = 20\nmask_host = a\nmasked_host = x\nmask_host = b\nmasked_host = y\n\
         hosts_allow_reg = 10.0.0.0/8\nhosts_allow_reg = 192.168.0.0/16\n",
    );
    assert_eq!(cfg.rtp_timeout, 20);
    assert_eq!(cfg.mask_host, ["a", "b"]);
    assert_eq!(cfg.masked_host, ["x", "y"]);
    assert_eq!(cfg.hosts_allow_reg.unwrap().entries.len(), 1);
}

#[test]
fn booleans_are_non_zero() {
    assert!(clean("daemonize = 1\n").daemonize);
    assert!(clean("obscure_loops = 7\n").obscure_loops);
    assert!(!clean("daemonize = 0\n").daemonize);
}

#[test]
fn load_plugin_names_builtins() {
    let cfg = clean(
        "load_plugin = plugin_logcall.la\nload_plugin = plugin_codecfilter.so\nload_plugin = plugin_fix_DTAG.la\n\
         plugindir = /usr/lib/siproxd/\nplugin_codecfilter_blacklist = G729\nplugin_fix_DTAG_networks = 10.0.0.0/8\n",
    );
    assert_eq!(cfg.load_plugin, ["logcall", "codecfilter", "fix_DTAG"]);
    assert_eq!(cfg.plugindir.as_deref(), Some("/usr/lib/siproxd/"));
    let d = rejected("load_plugin = plugin_nosuch.la\nload_plugin = logcall\n");
    let e = errors(&d);
    assert_eq!(e.len(), 2);
    assert!(e[0].message.contains("plugin_nosuch.la") && e[0].message.contains("logcall"));
    let (cfg, d) = conf("load_plugin = plugin_demo.la\nload_plugin = plugin_demo.so\n").unwrap();
    assert_eq!(cfg.load_plugin, ["demo"]);
    assert_eq!(d.len(), 1);
}

#[test]
fn plugin_with_nothing_to_do_is_a_warning_at_its_load_plugin_line() {
    let (_, d) = conf(
        "debug_level = 1\nload_plugin = plugin_logcall\nload_plugin = plugin_fix_bogus_via.la\n",
    )
    .unwrap();
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(
        (d[0].line, d[0].directive.as_str()),
        (3, "plugin_fix_bogus_via_networks")
    );
    assert!(d[0].message.contains("no Via is fixed"), "{}", d[0].message);
}

#[test]
fn plugin_setting_errors_name_file_line_and_entry() {
    // The second entry is at fault, so the error points at line 3, not at the first entry.
    let d = rejected(
        "load_plugin = plugin_stripheader\nplugin_stripheader_remove = User-Agent\n\
         plugin_stripheader_remove = Bad Header\ndebug_level = 0\n",
    );
    let e = errors(&d);
    assert_eq!(e.len(), 1, "{d:?}");
    assert_eq!(
        (e[0].line, e[0].directive.as_str()),
        (3, "plugin_stripheader_remove")
    );
    // A scalar: the line of the value in force.
    let d = rejected(
        "plugin_defaulttarget_target = sip:a@h\nload_plugin = plugin_defaulttarget\n\
         plugin_defaulttarget_target = not a uri\n",
    );
    let e = errors(&d);
    assert_eq!(
        (e[0].line, e[0].directive.as_str()),
        (3, "plugin_defaulttarget_target")
    );
    // Not loaded: its directives are not checked.
    clean("plugin_defaulttarget_target = not a uri\n");
}

#[test]
fn plugins_missing_required_directive() {
    let d = rejected("load_plugin = plugin_defaulttarget.la\nload_plugin = plugin_stun.la\n");
    let names: Vec<&str> = errors(&d).iter().map(|d| d.directive.as_str()).collect();
    assert_eq!(names, ["plugin_defaulttarget_target", "plugin_stun_server"]);
    let cfg = clean("load_plugin = plugin_stun.la\nplugin_stun_server = stun.example.org\nplugin_stun_port = 3479\n");
    assert_eq!(cfg.plugins.plugin_stun_port, 3479);
}

/// Values of a directive's kind that differ from every default.
fn non_default_values(field: &directives::Field) -> Vec<String> {
    match field {
        directives::Field::Int { min, max, .. } => vec![max.to_string(), min.to_string()],
        directives::Field::Bool(_) => vec!["1".into()],
        directives::Field::Str(_) | directives::Field::List(_) => vec!["x".into()],
        directives::Field::PortList(_) => vec!["5".into()],
        directives::Field::Acl(_) => vec!["10.0.0.1".into()],
        directives::Field::DebugLevel(_) => vec!["-1".into()],
        directives::Field::Plugin(_) => vec!["plugin_demo.la".into()],
        directives::Field::Transport(_) => vec!["tcp".into()],
    }
}

#[test]
fn every_directive_in_the_table_changes_the_config() {
    for directives::Directive { name, field, .. } in directives::table_entries() {
        let candidates = non_default_values(field);
        let changed = candidates.iter().any(|v| {
            let mut cfg = Config::default();
            let mut out = Vec::new();
            directives::apply(
                &mut cfg,
                name,
                v,
                directives::Loc { file: "t", line: 1 },
                &mut out,
            );
            assert!(out.is_empty(), "{name} = {v}: {out:?}");
            cfg != Config::default()
        });
        assert!(changed, "{name} does not change the configuration");
    }
}

/// A default configuration with one directive set to a value other than its default.
fn changed_by(d: &directives::Directive) -> Config {
    let candidates = non_default_values(&d.field);
    for v in candidates {
        let mut cfg = Config::default();
        let mut out = Vec::new();
        directives::apply(
            &mut cfg,
            d.name,
            &v,
            directives::Loc { file: "t", line: 1 },
            &mut out,
        );
        assert!(out.is_empty(), "{} = {v}: {out:?}", d.name);
        if cfg != Config::default() {
            return cfg;
        }
    }
    panic!("{} does not change the configuration", d.name);
}

#[test]
fn restart_only_is_declared_with_the_directive_and_checked_for_each() {
    // The settings a SIGHUP cannot change (decisions §7): sockets, tables, process.
    let mut names: Vec<&str> = restart_only_names().collect();
    names.sort_unstable();
    let mut expected = vec![
        "sip_listen_port",
        "if_inbound",
        "if_outbound",
        "rtp_port_low",
        "rtp_port_high",
        "rtp_proxy_enable",
        "max_registrations",
        "max_rtp_streams",
        "max_tcp_connections",
        "debug_port",
        "debug_bind",
        "user",
        "chrootjail",
        "daemonize",
        "pid_file",
        "registration_file",
        "sip_dscp",
        "rtp_dscp",
        "rtp_latch_any_source",
    ];
    expected.sort_unstable();
    assert_eq!(names, expected);
    let old = Config::default();
    for d in directives::table_entries() {
        let new = changed_by(d);
        let kept = keep_restart_only(&old, new.clone());
        if d.restart_only {
            assert_eq!(restart_only_changes(&old, &new), [d.name]);
            assert_eq!(kept, old, "{} not kept on reload", d.name);
        } else {
            assert!(restart_only_changes(&old, &new).is_empty(), "{}", d.name);
            assert_eq!(kept, new, "{} not applied on reload", d.name);
        }
    }
}

#[test]
fn keyword_may_differ_from_the_field_name() {
    let cfg = clean(
        "plugin_fix_DTAG_networks = 192.0.2.0/24
",
    );
    assert!(cfg.plugins.plugin_fix_dtag_networks.is_some());
    assert!(directive_names().any(|n| n == "plugin_fix_DTAG_networks"));
    assert!(!directive_names().any(|n| n == "plugin_fix_dtag_networks"));
}

#[test]
fn defaults_are_the_documented_ones() {
    let c = Config::default();
    assert_eq!(
        (
            c.sip_listen_port,
            c.rtp_port_low,
            c.rtp_port_high,
            c.rtp_timeout
        ),
        (5060, 7070, 7089, 300)
    );
    assert_eq!((c.rtp_proxy_enable, c.silence_log, c.use_rport), (1, 1, 0));
    assert_eq!((c.default_expires, c.autosave_registrations), (3600, 300));
    assert_eq!((c.tcp_timeout, c.tcp_connect_timeout), (600, 500));
    let p = &c.plugins;
    assert_eq!((p.plugin_stun_port, p.plugin_stun_period), (3478, 300));
    assert_eq!(
        (
            p.plugin_blacklist_duration,
            p.plugin_blacklist_hitcount,
            p.plugin_blacklist_register_window
        ),
        (3600, 10, 30)
    );
    // `PluginConfig::default()` is the same, not zeros.
    assert_eq!(PluginConfig::default(), c.plugins);
}

#[test]
fn unpaired_list_entry_is_reported_at_its_line() {
    let d = rejected(
        "outbound_domain_name = a.example\noutbound_domain_host = p.a.example\noutbound_domain_port = 5070\n\
         # b has no host\noutbound_domain_name = b.example\noutbound_domain_port = 5080\n",
    );
    let e = errors(&d);
    assert_eq!(e.len(), 1, "{d:?}");
    assert_eq!(e[0].line, 5);
    assert_eq!(e[0].directive, "outbound_domain_name");
    assert!(
        e[0].to_string().starts_with(
            "test.conf:5: outbound_domain_name: entry 2 has no outbound_domain_host; \
             found 2 outbound_domain_name, 1 outbound_domain_host, 2 outbound_domain_port"
        ),
        "{}",
        e[0]
    );
    // A host without a name is reported where the host is.
    let d = rejected("masked_host = x\n\nmasked_host = y\nmask_host = a\n");
    let e = errors(&d);
    assert_eq!((e[0].line, e[0].directive.as_str()), (3, "masked_host"));
    assert!(
        e[0].message.starts_with("entry 2 has no mask_host;"),
        "{}",
        e[0]
    );
    // An override is located at its `-s` argument.
    let sets = vec!["rtp_timeout=5".to_string(), "mask_host=b".to_string()];
    let d = parse_conf(b"mask_host = a\nmasked_host = x\n", "f", &sets, false).unwrap_err();
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(
        d[0].to_string()
            .starts_with("-s:2: mask_host: entry 2 has no masked_host;"),
        "{}",
        d[0]
    );
    // UCI lists keep the UCI line numbers.
    let d = uci("config siproxd\n\tlist outbound_domain_name 'a'\n\tlist outbound_domain_name 'b'\n\tlist outbound_domain_host 'h'\n\tlist outbound_domain_port '5060'\n")
        .unwrap_err();
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(
        (d[0].line, d[0].directive.as_str()),
        (3, "outbound_domain_name")
    );
    assert!(d[0]
        .message
        .contains("no outbound_domain_host or outbound_domain_port"));
}

#[test]
fn set_overrides_replace_scalars_and_append_arrays() {
    let sets = vec![
        "if_inbound=br-lan".to_string(),
        "mask_host = b".to_string(),
        "masked_host=y".to_string(),
        "rtp_timeout = 60 # why".to_string(),
    ];
    let (cfg, d) = parse_conf(
        b"if_inbound = eth0\nmask_host = a\nmasked_host = x\n",
        "f",
        &sets,
        false,
    )
    .unwrap();
    assert!(d.is_empty(), "{d:?}");
    assert_eq!(cfg.if_inbound.as_deref(), Some("br-lan"));
    assert_eq!(cfg.mask_host, ["a", "b"]);
    assert_eq!(cfg.masked_host, ["x", "y"]);
    assert_eq!(cfg.rtp_timeout, 60);
    let sets = vec![
        "rtp_timeout=1".to_string(),
        "bogus=1".to_string(),
        "rtp_dscp=99".to_string(),
    ];
    let d = parse_conf(b"", "f", &sets, false).unwrap_err();
    let got: Vec<String> = d.iter().map(|d| d.to_string()).collect();
    assert_eq!(got[0], "-s:2: bogus: unknown directive, ignored");
    assert!(
        got[1].starts_with("-s:3: rtp_dscp: value 99 out of range"),
        "{got:?}"
    );
}

#[test]
fn non_utf8_line_is_a_warning() {
    let (cfg, d) = parse_conf(b"ua_string = caf\xe9\nrtp_timeout = 5\n", "f", &[], false).unwrap();
    assert_eq!(cfg.rtp_timeout, 5);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].line, 1);
}

fn example(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/config/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn shipped_examples_parse_without_warnings() {
    for name in ["siproxd-rs.conf", "siproxd.conf.example"] {
        let (cfg, d) =
            parse_conf(&example(name), name, &[], true).unwrap_or_else(|d| panic!("{name}: {d:?}"));
        assert!(d.is_empty(), "{name}: {d:?}");
        assert_eq!(cfg.sip_listen_port, 5060);
    }
    let (cfg, _) = parse_conf(&example("siproxd-rs.conf"), "x", &[], true).unwrap();
    assert_eq!(cfg.if_inbound.as_deref(), Some("127.0.0.1"));
    assert_eq!(cfg.if_outbound.as_deref(), Some("127.0.0.2"));
    assert!(!cfg.daemonize);
    assert!(cfg.rtp_port_low > 1023);
}

#[test]
fn reference_example_mentions_every_directive() {
    let text = String::from_utf8(example("siproxd.conf.example")).unwrap();
    for name in directive_names() {
        assert!(
            text.lines().any(|l| l
                .trim_start_matches('#')
                .split_once('=')
                .is_some_and(|(k, _)| k.trim_end() == name)),
            "{name} missing from siproxd.conf.example"
        );
    }
}

#[test]
fn reference_example_commented_lines_parse_too() {
    // Uncommenting any example line must give a valid directive (typos in docs are bugs).
    let text = String::from_utf8(example("siproxd.conf.example")).unwrap();
    for (i, line) in text.lines().enumerate() {
        let Some(body) = line.strip_prefix('#') else {
            continue;
        };
        let Some((key, _)) = body.split_once(" =") else {
            continue;
        };
        if key.contains(' ') || key.is_empty() {
            continue;
        }
        let mut cfg = Config::default();
        let mut out = Vec::new();
        apply_line(
            &mut cfg,
            body,
            directives::Loc {
                file: "x",
                line: i + 1,
            },
            &mut validate::ListEntries::default(),
            &mut out,
        );
        assert!(out.is_empty(), "line {}: {out:?}", i + 1);
    }
}

#[test]
fn search_path_order() {
    let p = search_paths(Some(Path::new("/home/u")));
    let s: Vec<String> = p.iter().map(|p| p.display().to_string()).collect();
    assert_eq!(
        s,
        [
            "/home/u/.siproxdrc",
            "/etc/siproxd.conf",
            "/etc/siproxd/siproxd.conf",
            "/usr/etc/siproxd.conf",
            "/usr/local/etc/siproxd.conf"
        ]
    );
    assert_eq!(search_paths(None).len(), 4);
}

// --- UCI ---------------------------------------------------------------------------------

fn uci(text: &str) -> Result<(Config, Vec<Diagnostic>), Vec<Diagnostic>> {
    parse_uci(text.as_bytes(), "/etc/config/siproxd", &[], false)
}

#[test]
fn uci_openwrt_default_is_accepted_unchanged() {
    for name in ["openwrt-default.uci", "openwrt-enabled.uci"] {
        let path = format!("{}/src/config/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(path).unwrap();
        let (cfg, d) =
            parse_uci(&bytes, name, &[], true).unwrap_or_else(|d| panic!("{name}: {d:?}"));
        assert!(d.is_empty(), "{name}: {d:?}");
        if name == "openwrt-enabled.uci" {
            assert_eq!(cfg.if_inbound.as_deref(), Some("eth0"));
            assert_eq!(cfg.debug_level, 0x100);
            assert_eq!(cfg.silence_log, 0);
            assert_eq!(cfg.load_plugin, ["logcall", "codecfilter"]);
            assert_eq!(cfg.plugins.plugin_codecfilter_blacklist, ["G729", "GSM"]);
        } else {
            assert_eq!(
                cfg,
                Config {
                    rtp_port_high: 7088,
                    ..Config::default()
                }
            );
        }
    }
}

#[test]
fn uci_shipped_openwrt_default_has_no_diagnostics() {
    // the package's /etc/config/siproxd, init-script-only options (firewall) included
    let path = format!(
        "{}/openwrt/files/siproxd.config",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(path).unwrap();
    let (cfg, d) =
        parse_uci(&bytes, "siproxd.config", &[], true).unwrap_or_else(|d| panic!("{d:?}"));
    assert!(d.is_empty(), "{d:?}");
    assert_eq!((cfg.sip_listen_port, cfg.rtp_port_low), (5060, 7070));
}

#[test]
fn uci_quoting_lists_and_comments() {
    let (cfg, d) = uci(
        "# header\n\nconfig siproxd 'main'\n\toption enabled '1'\n\toption ua_string \"My # Phone\"\n\
         \toption proxy_auth_passwd 'it''s'  # comment\n\tlist mask_host a\n\tlist mask_host 'b'\n\
         \tlist masked_host \"x\"\n\tlist masked_host y\n\toption pid_file ''\n\toption hosts_allow_reg '10.0.0.0/8, 10.1.0.1'\n",
    )
    .unwrap();
    assert!(d.is_empty(), "{d:?}");
    assert_eq!(cfg.ua_string.as_deref(), Some("My # Phone"));
    assert_eq!(cfg.proxy_auth_passwd.as_deref(), Some("its"));
    assert_eq!(cfg.mask_host, ["a", "b"]);
    assert_eq!(cfg.masked_host, ["x", "y"]);
    assert_eq!(cfg.pid_file, None);
    assert_eq!(cfg.hosts_allow_reg.unwrap().entries.len(), 2);
}

#[test]
fn uci_errors_name_file_and_line() {
    let d = uci("config siproxd\n\toption rtp_dscp 99\n\toption bogus 1\n\tlist mask_host 'x\n")
        .unwrap_err();
    let got: Vec<String> = d.iter().map(|d| d.to_string()).collect();
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(
        got[0].starts_with("/etc/config/siproxd:2: rtp_dscp: value 99"),
        "{got:?}"
    );
    assert_eq!(
        got[1],
        "/etc/config/siproxd:3: bogus: unknown directive, ignored"
    );
    assert!(got[2].starts_with("/etc/config/siproxd:4: "), "{got:?}");
}

#[test]
fn uci_with_set_overrides() {
    let sets = vec![
        "if_inbound=br-lan".to_string(),
        "if_outbound=pppoe-wan".to_string(),
    ];
    let (cfg, _) = parse_uci(
        b"config siproxd\n\toption interface_inbound lan\n",
        "u",
        &sets,
        true,
    )
    .unwrap();
    assert_eq!(cfg.if_inbound.as_deref(), Some("br-lan"));
    assert_eq!(cfg.if_outbound.as_deref(), Some("pppoe-wan"));
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn conf_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse_conf(&bytes, "p", &[], false);
        }

        #[test]
        fn conf_parser_never_panics_on_directive_lines(
            idx in 0usize..200, value in "[ -~]{0,40}", quote in any::<bool>()
        ) {
            let names: Vec<&str> = directive_names().collect();
            let name = names[idx % names.len()];
            let line = if quote { format!("{name} = \"{value}\"\n") } else { format!("{name} = {value}\n") };
            let _ = parse_conf(line.as_bytes(), "p", std::slice::from_ref(&line), true);
        }

        #[test]
        fn uci_reader_never_panics(text in "[ -~\t\n'\"\\\\#]{0,300}") {
            let _ = parse_uci(text.as_bytes(), "p", &[], false);
        }

        #[test]
        fn ports_round_trip_in_every_base(p in 1u16..=65535) {
            for text in [format!("{p}"), format!("0x{p:x}"), format!("0{p:o}")] {
                let (cfg, d) = conf(&format!("sip_listen_port = {text}\n")).unwrap();
                prop_assert!(d.is_empty());
                prop_assert_eq!(cfg.sip_listen_port, p);
            }
        }

        #[test]
        fn rtp_ports_are_even_after_loading(low in 1024u16..30000, span in 2u16..30000) {
            let high = low.saturating_add(span);
            let (cfg, _) = conf(&format!("rtp_port_low = {low}\nrtp_port_high = {high}\n")).unwrap();
            prop_assert_eq!(cfg.rtp_port_low % 2, 0);
            prop_assert_eq!(cfg.rtp_port_high % 2, 0);
            prop_assert!(cfg.rtp_port_low >= low && cfg.rtp_port_high <= high);
        }
    }
}

#[test]
fn access_uses_the_three_acl_directives() {
    let cfg = clean("hosts_allow_reg = 192.168.1.0/24\nhosts_deny_sip = 192.168.1.66\nhosts_allow_sip = 10.0.0.5\n");
    let a = |s: &str| cfg.access(s.parse().unwrap());
    assert_eq!(
        a("192.168.1.10"),
        crate::acl::Access {
            sip: true,
            reg: true
        }
    );
    assert_eq!(
        a("192.168.1.66"),
        crate::acl::Access {
            sip: false,
            reg: false
        }
    );
    assert_eq!(
        a("10.0.0.5"),
        crate::acl::Access {
            sip: true,
            reg: false
        }
    );
    assert_eq!(
        a("203.0.113.1"),
        crate::acl::Access {
            sip: false,
            reg: false
        }
    );
}

#[test]
fn domain_routes_pair_the_three_lists_in_file_order() {
    let cfg = clean(
        "outbound_domain_name = Example.COM\noutbound_domain_host = 198.51.100.99\noutbound_domain_port = 5070\n\
         outbound_domain_name = b.example\noutbound_domain_host = proxy.b.example\noutbound_domain_port = 0x13C4\n",
    );
    let routes = cfg.domain_routes();
    assert_eq!(
        routes,
        [
            DomainRoute {
                domain: "Example.COM".into(),
                host: "198.51.100.99".into(),
                port: 5070
            },
            DomainRoute {
                domain: "b.example".into(),
                host: "proxy.b.example".into(),
                port: 5060
            },
        ]
    );
    // Whole-name, ASCII case-insensitive match, the first one wins; no sub-domains.
    let hit = |h: &str| DomainRoute::lookup(&routes, h).map(|r| r.host.as_str());
    assert_eq!(hit("example.com"), Some("198.51.100.99"));
    assert_eq!(hit("B.EXAMPLE"), Some("proxy.b.example"));
    assert_eq!(hit("sub.example.com"), None);
    assert_eq!(hit("example"), None);
    assert!(clean("").domain_routes().is_empty());
}

#[test]
fn domain_routes_of_a_hand_built_config_drop_hostless_names_and_default_the_port() {
    let cfg = Config {
        outbound_domain_name: vec!["a".into(), "b".into(), "c".into()],
        outbound_domain_host: vec!["ha".into(), "hb".into()],
        outbound_domain_port: vec![5080],
        ..Config::default()
    };
    let routes = cfg.domain_routes();
    let got: Vec<(&str, &str, u16)> = routes
        .iter()
        .map(|r| (r.domain.as_str(), r.host.as_str(), r.port))
        .collect();
    assert_eq!(got, [("a", "ha", 5080), ("b", "hb", 5060)]);
}

#[test]
fn rport_bits_select_directions() {
    let policy = |text: &str| clean(text).rport();
    assert_eq!(policy(""), RportPolicy::default());
    assert_eq!(
        policy("use_rport = 1\n"),
        RportPolicy {
            incoming: true,
            outgoing: false
        }
    );
    assert_eq!(
        policy("use_rport = 2\n"),
        RportPolicy {
            incoming: false,
            outgoing: true
        }
    );
    assert_eq!(
        policy("use_rport = 3\n"),
        RportPolicy {
            incoming: true,
            outgoing: true
        }
    );
}

#[test]
fn relay_enabled_follows_rtp_proxy_enable() {
    assert!(Config::default().relay_enabled());
    assert!(clean("rtp_proxy_enable = 1\n").relay_enabled());
    assert!(!clean("rtp_proxy_enable = 0\n").relay_enabled());
}

#[test]
fn outbound_proxy_transport_takes_udp_or_tcp_and_names_the_line_otherwise() {
    let cfg = clean("outbound_proxy_host = sip.example.net\noutbound_proxy_transport = TCP\n");
    assert_eq!(
        cfg.outbound_proxy_transport,
        Some(crate::sansio::Transport::Tcp)
    );
    let mut out = Vec::new();
    let mut cfg = Config::default();
    directives::apply(
        &mut cfg,
        "outbound_proxy_transport",
        "tls",
        directives::Loc {
            file: "s.conf",
            line: 7,
        },
        &mut out,
    );
    let text = out.iter().map(|d| d.to_string()).collect::<String>();
    assert!(
        text.contains("s.conf:7")
            && text.contains("outbound_proxy_transport")
            && text.contains("expected udp or tcp"),
        "{text}"
    );
}
