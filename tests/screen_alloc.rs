//! The checks in front of the pipeline allocate nothing: datagrams from a blacklisted source
//! and requests over `wan_request_rate_limit` are dropped without a heap allocation (and the
//! proxy's drain after each input allocates nothing either).
#![allow(clippy::unwrap_used)] // tests: a failed step panics, as a test should

mod alloc;
mod lab;

use std::net::SocketAddr;

use alloc::allocations_during;
use lab::*;
use siproxd_rs::plugins::blacklist::Manual;
use siproxd_rs::proxy::{DropReason, Origin};
use siproxd_rs::sansio::{Output, Transport};

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

#[test]
fn blacklisted_and_rate_limited_datagrams_are_dropped_without_allocating() {
    let mut cfg = Lab::config();
    cfg.load_plugin = vec!["blacklist".into()];
    cfg.wan_request_rate_limit = 10;
    let mut lab = Lab::with(cfg);
    lab.proxy.blacklist_mut().unwrap().set_manual(vec![Manual {
        ip: "198.51.100.66".parse().unwrap(),
        prefix: 32,
        dropped: 0,
    }]);
    let msg = crlf(&request(
        "OPTIONS sip:203.0.113.5 SIP/2.0",
        "Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKa\nMax-Forwards: 70\nFrom: <sip:a@b>;tag=1\nTo: <sip:c@d>\nCall-ID: x@y\nCSeq: 1 OPTIONS\n",
        "",
    ));
    let origin = |src: &str| Origin {
        transport: Transport::Udp,
        src: sa(src),
        local: SocketAddr::new(ip(O), 5060),
        connection: None,
    };
    let (blocked, flooder) = (origin("198.51.100.66:5060"), origin("198.51.100.7:5060"));
    let mut buf = vec![0u8; siproxd_rs::limits::SIP_SEND_BUFFER];
    let mut drain =
        |lab: &mut Lab| while !matches!(lab.proxy.poll_output(&mut buf), Output::Timeout(_)) {};
    // Warm-up: the flooder's allowance (answered, may allocate), the first drop of each kind.
    for _ in 0..12 {
        lab.proxy
            .handle_message(lab.now, flooder, &msg, &mut lab.media);
        lab.proxy
            .handle_message(lab.now, blocked, &msg, &mut lab.media);
        drain(&mut lab);
    }
    let before = lab.proxy.counters().dropped(DropReason::RateLimited);
    let (n, ()) = allocations_during(|| {
        for _ in 0..10_000 {
            lab.proxy
                .handle_message(lab.now, blocked, &msg, &mut lab.media);
            lab.proxy
                .handle_message(lab.now, flooder, &msg, &mut lab.media);
            drain(&mut lab);
        }
    });
    assert_eq!(n, 0, "allocations while dropping");
    assert_eq!(
        lab.proxy.counters().dropped(DropReason::RateLimited) - before,
        10_000
    );
    assert_eq!(
        lab.proxy.counters().dropped(DropReason::Blacklisted),
        10_012
    );
}
