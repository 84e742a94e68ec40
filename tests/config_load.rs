//! Black-box tests of `config::load` with real files: `-c`, the search path, UCI, strict mode.

use siproxd_rs::config::{self, LoadError, Severity, Source};
use std::path::Path;

mod tempdir;

use tempdir::TempDir;

#[test]
fn explicit_file_is_loaded_with_its_warnings() {
    let d = TempDir::new("explicit");
    let p = d.write("a.conf", "sip_listen_port = 5070\nfoo = bar\n");
    let loaded = config::load(Source::File(Some(&p)), &[], false).unwrap();
    assert_eq!(loaded.config.sip_listen_port, 5070);
    assert_eq!(loaded.path, p);
    assert_eq!(loaded.diagnostics.len(), 1);
    assert_eq!(
        loaded.diagnostics[0].to_string(),
        format!("{}:2: foo: unknown directive, ignored", p.display())
    );
}

#[test]
fn strict_turns_warnings_into_a_load_error() {
    let d = TempDir::new("strict");
    let p = d.write("a.conf", "foo = bar\nrtp_port_low = 7071\n");
    match config::load(Source::File(Some(&p)), &[], true) {
        Err(LoadError::Invalid(diags)) => {
            assert_eq!(diags.len(), 2, "{diags:?}");
            assert!(diags.iter().all(|d| d.severity == Severity::Error));
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn errors_report_every_problem_at_once() {
    let d = TempDir::new("errors");
    let p = d.write(
        "a.conf",
        "rtp_dscp = 99\nmask_host = a\nhosts_allow_reg = lan.example\n",
    );
    let Err(LoadError::Invalid(diags)) = config::load(Source::File(Some(&p)), &[], false) else {
        panic!("expected Invalid");
    };
    assert_eq!(diags.len(), 3, "{diags:?}");
    let text = LoadError::Invalid(diags).to_string();
    assert_eq!(text.lines().count(), 3);
    assert!(
        text.contains(":1: rtp_dscp:") && text.contains(":3: hosts_allow_reg:"),
        "{text}"
    );
}

#[test]
fn missing_file_is_not_found_with_the_path_tried() {
    let d = TempDir::new("missing");
    let p = d.0.join("nope.conf");
    match config::load(Source::File(Some(&p)), &[], false) {
        Err(LoadError::NotFound(paths)) => assert_eq!(paths, vec![p]),
        other => panic!("expected NotFound, got {other:?}"),
    }
    match config::load(Source::Uci(&d.0.join("uci")), &[], false) {
        Err(e @ LoadError::NotFound(_)) => {
            assert!(e.to_string().contains("could not open config file"))
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[test]
fn search_path_takes_the_first_readable_file() {
    let d = TempDir::new("search");
    let home = d.0.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let second = d.write("second.conf", "rtp_timeout = 2\n");
    let mut paths = config::search_paths(Some(&home));
    // The home file does not exist yet: the next readable entry wins.
    paths.truncate(1);
    paths.push(d.0.join("absent.conf"));
    paths.push(second.clone());
    let loaded = config::load_first(&paths, &[], false, config::parse_conf).unwrap();
    assert_eq!((loaded.config.rtp_timeout, loaded.path), (2, second));
    let rc = home.join(".siproxdrc");
    std::fs::write(&rc, "rtp_timeout = 1\n").unwrap();
    let loaded = config::load_first(&paths, &[], false, config::parse_conf).unwrap();
    assert_eq!((loaded.config.rtp_timeout, loaded.path), (1, rc));
    let only_absent = [d.0.join("x"), d.0.join("y")];
    match config::load_first(&only_absent, &[], false, config::parse_conf) {
        Err(LoadError::NotFound(tried)) => assert_eq!(tried, only_absent),
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[test]
fn uci_source_with_set_overrides() {
    let d = TempDir::new("uci");
    let p = d.write(
        "siproxd",
        "config siproxd 'general'\n\toption interface_inbound 'lan'\n\toption interface_outbound 'wan'\n\
         \toption rtp_timeout '120'\n\tlist load_plugin 'plugin_logcall.so'\n",
    );
    let sets = vec![
        "if_inbound=br-lan".to_string(),
        "if_outbound=pppoe-wan".to_string(),
    ];
    let loaded = config::load(Source::Uci(&p), &sets, true).unwrap();
    assert!(loaded.diagnostics.is_empty());
    assert_eq!(loaded.config.if_inbound.as_deref(), Some("br-lan"));
    assert_eq!(loaded.config.if_outbound.as_deref(), Some("pppoe-wan"));
    assert_eq!(loaded.config.rtp_timeout, 120);
    assert_eq!(loaded.config.load_plugin, ["logcall"]);
}

#[test]
fn shipped_minimal_config_loads_from_disk() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/siproxd-rs.conf");
    let loaded = config::load(Source::File(Some(&p)), &[], true).unwrap();
    assert_eq!(loaded.config.if_inbound.as_deref(), Some("127.0.0.1"));
    assert!(loaded.diagnostics.is_empty());
}
