//! `siproxd.conf` parser (`config::parse_conf`), including validation.
//!
//! Invariants: `strict` changes only severities, never which problems are found; every
//! diagnostic points at a line of the input; an accepted configuration has even RTP ports in
//! order; a trailing comment line changes nothing; the same lines given as `-s` overrides build
//! the same configuration.
#![no_main]

use libfuzzer_sys::fuzz_target;
use siproxd_rs::config::{parse_conf, Config, Diagnostic, Severity};

fuzz_target!(|data: &[u8]| {
    let lax = parse_conf(data, "fuzz.conf", &[], false);
    let strict = parse_conf(data, "fuzz.conf", &[], true);
    let lines = data.split(|&b| b == b'\n').count();
    check(&lax, &strict, "fuzz.conf", lines);

    let mut commented = data.to_vec();
    commented.extend_from_slice(b"\n# fuzz");
    assert_eq!(
        parse_conf(&commented, "fuzz.conf", &[], false),
        lax,
        "a comment line changed the result"
    );

    // Lines given as -s overrides go through the same line parser.
    if let Ok(text) = std::str::from_utf8(data) {
        let sets: Vec<String> = text
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l).to_string())
            .collect();
        let via_sets = parse_conf(b"", "fuzz.conf", &sets, false);
        let strict_sets = parse_conf(b"", "fuzz.conf", &sets, true);
        check(&via_sets, &strict_sets, "-s", sets.len());
        match (&lax, &via_sets) {
            (Ok((a, da)), Ok((b, db))) => {
                assert_eq!(a, b, "-s overrides built another configuration");
                assert_eq!(da.len(), db.len());
            }
            (Err(da), Err(db)) => assert_eq!(da.len(), db.len()),
            (a, b) => panic!("file {a:?} but -s {b:?}"),
        }
    }
});

type Parsed = Result<(Config, Vec<Diagnostic>), Vec<Diagnostic>>;

fn check(lax: &Parsed, strict: &Parsed, file: &str, lines: usize) {
    let lax_diags = match lax {
        Ok((cfg, d)) => {
            assert!(d.iter().all(|d| d.severity == Severity::Warning));
            assert_eq!(cfg.rtp_port_low % 2, 0);
            assert_eq!(cfg.rtp_port_high % 2, 0);
            assert!(cfg.rtp_port_low <= cfg.rtp_port_high);
            d
        }
        Err(d) => {
            assert!(d.iter().any(|d| d.severity == Severity::Error));
            assert!(strict.is_err(), "lax rejects but strict accepts");
            d
        }
    };
    match strict {
        Ok((_, d)) => assert!(d.is_empty(), "strict accepted with diagnostics"),
        Err(d) => {
            assert!(d.iter().all(|d| d.severity == Severity::Error));
            assert_eq!(d.len(), lax_diags.len(), "strict found other problems");
        }
    }
    for d in lax_diags {
        let _ = d.to_string();
        if d.file == file {
            assert!(
                d.line <= lines,
                "diagnostic line {} of {lines}: {d}",
                d.line
            );
        } else {
            assert!(d.line == 0 || d.file == "-s", "diagnostic for {:?}", d.file);
        }
    }
}
