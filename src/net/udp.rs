//! SIP UDP sockets: bound, non-blocking, with `sip_dscp`.

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

/// The TOS / traffic-class byte for a DSCP value (the low two ECN bits stay 0).
pub fn tos_byte(dscp: u8) -> u32 {
    u32::from(dscp & 0x3f) << 2
}

/// Opens a UDP socket on `addr` with SO_REUSEADDR (quick restart), non-blocking, and with the
/// DSCP set now, before privileges are dropped (decisions §6).
pub fn bind(addr: SocketAddr, dscp: u8) -> io::Result<mio::net::UdpSocket> {
    let sock = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    sock.set_reuse_address(true)?;
    if addr.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    if dscp != 0 {
        match addr {
            SocketAddr::V4(_) => sock.set_tos_v4(tos_byte(dscp))?,
            SocketAddr::V6(_) => sock.set_tclass_v6(tos_byte(dscp))?,
        }
    }
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())?;
    Ok(mio::net::UdpSocket::from_std(sock.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use socket2::SockRef;

    #[test]
    fn dscp_is_shifted_into_tos() {
        assert_eq!(tos_byte(46), 0xb8); // EF
        assert_eq!(tos_byte(0), 0);
        assert_eq!(tos_byte(0xff), 0xfc);
    }

    #[test]
    fn bound_socket_has_tos_and_is_non_blocking() {
        let sock = bind("127.0.0.1:0".parse().unwrap(), 46).unwrap();
        assert_eq!(SockRef::from(&sock).tos_v4().unwrap(), 0xb8);
        let mut buf = [0u8; 8];
        let err = sock.recv_from(&mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        // A datagram sent to it arrives.
        let local = sock.local_addr().unwrap();
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.send_to(b"ping", local).unwrap();
        let mut tries = 0;
        let (n, from) = loop {
            match sock.recv_from(&mut buf) {
                Ok(r) => break r,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && tries < 100 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(&buf[..n], b"ping");
        assert_eq!(from, tx.local_addr().unwrap());
    }
}
