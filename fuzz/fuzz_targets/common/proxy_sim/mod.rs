//! A simulated LAN and Internet around the whole proxy core, driven by bytes: shared by the
//! `proxy_core` fuzz target and `tests/proxy_core_props.rs` (both include this folder with
//! `#[path]`).
//!
//! - `adapter`: the only code that calls the core's API (build, messages, timers, DNS, drain);
//! - `steps`: decodes bytes into steps (messages built from templates, replies to what the
//!   proxy sent, raw messages, clock and DNS steps) and runs them, checking every output;
//! - `leak`: the check that nothing sent towards the Internet carries a LAN address.
#![allow(dead_code)]

pub mod adapter;
pub mod leak;
pub mod steps;
