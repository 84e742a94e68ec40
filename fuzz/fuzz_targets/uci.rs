//! OpenWrt UCI reader (`config::parse_uci`), including validation.
//!
//! Invariants: `strict` changes only severities; every diagnostic points at a line of the input;
//! an accepted configuration has even RTP ports in order; a trailing comment line changes
//! nothing; a UCI file written from `key = value` lines builds what `parse_conf` builds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use siproxd_rs::config::{parse_conf, parse_uci, Config, Severity};

fuzz_target!(|data: &[u8]| {
    let lax = parse_uci(data, "fuzz.uci", &[], false);
    let strict = parse_uci(data, "fuzz.uci", &[], true);
    let lines = data.split(|&b| b == b'\n').count();
    let lax_diags = match &lax {
        Ok((cfg, d)) => {
            assert!(d.iter().all(|d| d.severity == Severity::Warning));
            even_ports(cfg);
            d
        }
        Err(d) => {
            assert!(d.iter().any(|d| d.severity == Severity::Error));
            assert!(strict.is_err());
            d
        }
    };
    match &strict {
        Ok((_, d)) => assert!(d.is_empty()),
        Err(d) => assert_eq!(d.len(), lax_diags.len(), "strict found other problems"),
    }
    for d in lax_diags {
        let _ = d.to_string();
        assert_eq!(d.file, "fuzz.uci");
        assert!(
            d.line <= lines,
            "diagnostic line {} of {lines}: {d}",
            d.line
        );
    }

    let mut commented = data.to_vec();
    commented.extend_from_slice(b"\n# fuzz");
    assert_eq!(parse_uci(&commented, "fuzz.uci", &[], false), lax);

    same_as_conf(data);
});

fn even_ports(cfg: &Config) {
    assert_eq!(cfg.rtp_port_low % 2, 0);
    assert_eq!(cfg.rtp_port_high % 2, 0);
    assert!(cfg.rtp_port_low <= cfg.rtp_port_high);
}

/// Reads the input as `key=value` lines of plain words and writes them as a UCI section: both
/// readers must then agree on the configuration.
fn same_as_conf(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut conf = String::new();
    let mut uci = String::from("config siproxd\n");
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        let word = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-/:,".contains(&b))
        };
        if !word(k) || !word(v) {
            continue;
        }
        conf.push_str(&format!("{k} = {v}\n"));
        uci.push_str(&format!("\toption {k} '{v}'\n"));
    }
    if conf.is_empty() {
        return;
    }
    let a = parse_conf(conf.as_bytes(), "x", &[], false);
    let b = parse_uci(uci.as_bytes(), "x", &[], false);
    match (&a, &b) {
        (Ok((ca, _)), Ok((cb, _))) => assert_eq!(ca, cb, "conf:\n{conf}\nuci:\n{uci}"),
        (Err(_), Err(_)) => {}
        _ => panic!("conf {a:?}\nuci {b:?}\nconf:\n{conf}\nuci:\n{uci}"),
    }
}
