//! Notification of interface address and link changes (rtnetlink multicast groups), so a
//! dynamic `if_outbound` (PPP reconnect, DHCP renewal) is followed at once, without a timer
//! and without idle wake-ups.
//!
//! The messages are not parsed: any notification triggers a fresh `iface::lookup`, which is
//! cheap and keeps one source of truth.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use mio::event::Source;
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

/// A NETLINK_ROUTE socket subscribed to link and IPv4/IPv6 address changes.
#[derive(Debug)]
pub struct AddrWatch {
    fd: OwnedFd,
}

impl AddrWatch {
    pub fn open() -> io::Result<AddrWatch> {
        // SAFETY: plain syscall; the descriptor is owned right after.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: raw is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: a zeroed sockaddr_nl is valid (pid 0 = let the kernel choose).
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        sa.nl_groups =
            (libc::RTMGRP_LINK | libc::RTMGRP_IPV4_IFADDR | libc::RTMGRP_IPV6_IFADDR) as u32;
        let len = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
        // SAFETY: sa is a valid sockaddr_nl of the given length.
        if unsafe { libc::bind(fd.as_raw_fd(), std::ptr::addr_of!(sa).cast(), len) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(AddrWatch { fd })
    }

    /// Reads every pending notification; returns whether anything (possibly) changed.
    /// An overflow (ENOBUFS) lost notifications, so it counts as a change too.
    pub fn drain(&self) -> bool {
        let mut buf = [0u8; 4096];
        let mut changed = false;
        loop {
            // SAFETY: buf is valid for buf.len() bytes.
            let n =
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n > 0 {
                changed = true;
                continue;
            }
            let err = io::Error::last_os_error();
            match err.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => return changed,
                _ => return n < 0 || changed,
            }
        }
    }
}

impl Source for AddrWatch {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        SourceFd(&self.fd.as_raw_fd()).register(r, t, i)
    }
    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        SourceFd(&self.fd.as_raw_fd()).reregister(r, t, i)
    }
    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        SourceFd(&self.fd.as_raw_fd()).deregister(r)
    }
}
