//! The event-loop shell: mio poll, SIP UDP sockets and TCP listeners/connections, timers,
//! signals, interface addresses.
//!
//! Everything here touches the OS; the proxy logic stays in the sans-IO modules and is reached
//! through [`EventLoop::on_sip_datagram`].

pub mod debug_port;
pub mod event_loop;
pub mod iface;
pub mod netlink;
pub mod relay;
pub mod setup;
pub mod signals;
pub mod tcp;
pub mod timer;
pub mod udp;
pub mod upkeep;

pub use event_loop::{EventLoop, Exit, NetStats, StartError};
