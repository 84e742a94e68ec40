//! How tests start the `siproxd-rs` binary: directly, or through the emulator named in
//! `SIPROXD_RS_TEST_RUNNER` (the cross gate runs a PowerPC build under qemu; there is no
//! binfmt_misc to do it implicitly).
#![allow(dead_code)]

use std::process::Command;

pub const BIN: &str = env!("CARGO_BIN_EXE_siproxd-rs");

/// A `Command` for the binary under test.
pub fn command() -> Command {
    match std::env::var("SIPROXD_RS_TEST_RUNNER") {
        Ok(runner) if !runner.trim().is_empty() => {
            let mut parts = runner.split_whitespace();
            let mut cmd = Command::new(parts.next().unwrap_or("env"));
            cmd.args(parts).arg(BIN);
            cmd
        }
        _ => Command::new(BIN),
    }
}
