//! `siproxd-rs` command line and start-up (to be written).

fn main() {
    println!("siproxd-rs {}", env!("CARGO_PKG_VERSION"));
}
