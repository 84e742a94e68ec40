//! The command line of the real binary: options that do not start the daemon.

mod harness;

use harness::*;

#[test]
fn help_prints_usage_and_exits_0() {
    let (st, _out, err) = run(&["-h"]);
    assert_eq!(st.code(), Some(0));
    for opt in [
        "--config",
        "--debug",
        "--pid-file",
        "--test-config",
        "--foreground",
        "--set",
        "--uci",
    ] {
        assert!(err.contains(opt), "usage lacks {opt}:\n{err}");
    }
    let (st, _, err_long) = run(&["--help"]);
    assert_eq!(st.code(), Some(0));
    assert_eq!(err, err_long);
}

#[test]
fn version_prints_the_package_version() {
    let (st, out, _) = run(&["-V"]);
    assert_eq!(st.code(), Some(0));
    assert_eq!(
        out.trim(),
        format!("siproxd-rs {}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(run(&["--version"]).1, out);
}

#[test]
fn unknown_option_is_a_usage_error() {
    let (st, _, err) = run(&["--frobnicate"]);
    assert_eq!(st.code(), Some(1));
    assert!(err.starts_with("siproxd-rs: "), "{err}");
    assert!(err.contains("frobnicate"), "{err}");
    assert!(err.contains("Usage:"), "{err}");
}

#[test]
fn bad_debug_mask_is_a_usage_error() {
    let (st, _, err) = run(&["-d", "lots", "-t"]);
    assert_eq!(st.code(), Some(1));
    assert!(err.contains("-d lots"), "{err}");
}

#[test]
fn missing_config_file_exits_1_with_a_reason() {
    let (st, _, err) = run(&["-f", "-c", "/nonexistent/siproxd-rs.conf"]);
    assert_eq!(st.code(), Some(1));
    let first = err.lines().next().unwrap_or("");
    assert!(first.starts_with("siproxd-rs: "), "{err}");
}

#[test]
fn missing_config_file_reason_names_the_file() {
    let (st, _, err) = run(&["-f", "-c", "/nonexistent/siproxd-rs.conf"]);
    assert_eq!(st.code(), Some(1));
    assert!(err.contains("/nonexistent/siproxd-rs.conf"), "{err}");
}

#[test]
fn test_config_accepts_a_valid_file_and_opens_no_socket() {
    let dir = TempDir::new("cli-ok");
    let port = free_udp_port();
    let conf = loopback_config(&dir, port, "");
    let (st, out, err) = run(&["-t", "-c", conf.to_str().unwrap()]);
    assert_eq!(st.code(), Some(0), "{err}");
    assert!(out.contains("valid"), "{out}");
    // Nothing was bound (checking by binding the port ourselves would race with the tests
    // running in parallel, which pick free ports too).
    assert!(!err.contains("listening"), "{err}");
    assert!(!out.contains("listening"), "{out}");
}

#[test]
fn test_config_on_a_broken_file_names_file_and_line() {
    let dir = TempDir::new("cli-bad");
    let conf = dir.write(
        "broken.conf",
        "if_inbound = 127.0.0.1\nif_outbound = 127.0.0.2\nsip_listen_port = notaport\n",
    );
    let (st, _, err) = run(&["-t", "-c", conf.to_str().unwrap()]);
    assert_eq!(st.code(), Some(1));
    let want = format!("{}:3: sip_listen_port", conf.display());
    assert!(err.contains(&want), "expected {want:?} in:\n{err}");
}
