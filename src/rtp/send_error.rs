//! What a failed relay `sendto` means for the stream (behaviour §5.4 "Forwarding").

use std::io;

/// Whether the shell should keep the stream after `sendto` failed with `err` (the datagram is
/// lost either way). siproxd ignores ECONNREFUSED (an ICMP port-unreachable from an earlier
/// datagram) and ENOBUFS (queue full); a full send buffer (EAGAIN) is the same condition on a
/// non-blocking socket. Any other error closes the half ([`super::Table::close`]).
pub fn send_error_is_transient(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::WouldBlock
    ) || err.raw_os_error() == Some(libc::ENOBUFS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_nobufs_and_wouldblock_keep_the_stream() {
        for code in [libc::ECONNREFUSED, libc::ENOBUFS, libc::EAGAIN] {
            assert!(
                send_error_is_transient(&io::Error::from_raw_os_error(code)),
                "{code}"
            );
        }
    }

    #[test]
    fn other_errors_close_it() {
        for code in [libc::EBADF, libc::EINVAL, libc::EACCES, libc::EMSGSIZE] {
            assert!(
                !send_error_is_transient(&io::Error::from_raw_os_error(code)),
                "{code}"
            );
        }
        assert!(!send_error_is_transient(&io::Error::other("x")));
    }
}
