//! The rewrite the proxy applies when it relays the media of a body (behaviour §5.3 with the
//! fixes of decisions §6): all streams or nothing.

use super::{Rewriter, Sdp, SdpError, Section};
use core::net::IpAddr;

/// Where the relay receives one media stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamRewrite {
    /// Address advertised in `c=` (and in `a=rtcp:` when that line carries one).
    pub address: IpAddr,
    pub rtp_port: u16,
    /// Relay RTCP port; `None` means RTP port + 1 (the relay allocates even/odd pairs).
    pub rtcp_port: Option<u16>,
}

impl<'a> Rewriter<'_, 'a> {
    /// Record the relay rewrite of the whole body; `streams[i]` is for media section `i`.
    ///
    /// - `o=` and a session `c=` get `session_address`;
    /// - every media section with a port other than 0 gets its stream's address in its own
    ///   `c=` (one is added when the section relied on a session `c=` with another address),
    ///   its RTP port in `m=` and its RTCP port in `a=rtcp:` (a line is added when the RTCP port
    ///   is not RTP + 1 and the section does not use rtcp-mux);
    /// - hold: a `c=0.0.0.0` (or `::`) stays, and the `m=` still gets the relay port, so
    ///   the stream keeps its relay across hold and resume (decisions §6, "hold passed through
    ///   with the relay port kept"); the same holds for an unspecified `a=rtcp:` address;
    /// - port-0 (disabled) sections are not relayed (their `streams` entry is ignored), but a
    ///   `c=` of theirs gets `session_address` too, and so does the address of an `a=rtcp:`
    ///   line (its port is kept), so no private address leaves in them;
    /// - `strip_ice`: ICE lines of the session and of every relayed section are removed.
    ///
    /// On error some edits may have been recorded: drop the rewriter, use the original body.
    pub fn relay(
        &mut self,
        session_address: IpAddr,
        streams: &[StreamRewrite],
        strip_ice: bool,
    ) -> Result<(), SdpError> {
        let sdp: &Sdp<'a> = self.sdp();
        if streams.len() != sdp.media_count() {
            return Err(SdpError::StreamCountMismatch {
                expected: sdp.media_count(),
                got: streams.len(),
            });
        }
        let session_c = sdp.connection().copied();
        if let Some(i) = sdp
            .media_sections()
            .position(|m| m.port != 0 && m.connection.is_none() && session_c.is_none())
        {
            return Err(SdpError::MissingConnection { media: i });
        }
        if sdp.origin().is_some() {
            self.set_origin_address(session_address)?;
        }
        for c in sdp.connections(Section::Session) {
            if !c.is_unspecified() {
                self.set_address(&c, session_address)?;
            }
        }
        if strip_ice {
            self.remove_ice(Section::Session)?;
        }
        for (i, (m, s)) in sdp.media_sections().zip(streams).enumerate() {
            if m.port == 0 {
                for c in sdp.connections(Section::Media(i)) {
                    if !c.is_unspecified() {
                        self.set_address(&c, session_address)?;
                    }
                }
                if let Some(r) = m.rtcp {
                    if r.address.is_some_and(|a| !a.is_unspecified()) {
                        self.set_rtcp(i, r.port, Some(session_address))?;
                    }
                }
                if strip_ice {
                    self.remove_ice(Section::Media(i))?;
                }
                continue;
            }
            if m.connection.is_some() {
                for c in sdp.connections(Section::Media(i)) {
                    if !c.is_unspecified() {
                        self.set_address(&c, s.address)?;
                    }
                }
            } else if session_c.is_some_and(|c| !c.is_unspecified()) && s.address != session_address
            {
                self.add_connection(i, s.address)?;
            }
            self.set_media_port(i, s.rtp_port)?;
            let rtcp_port = match s.rtcp_port {
                Some(p) => p,
                None => s
                    .rtp_port
                    .checked_add(1)
                    .ok_or(SdpError::RtcpPortOverflow { media: i })?,
            };
            match m.rtcp {
                Some(r) => {
                    let ip = r.address.filter(|a| !a.is_unspecified()).map(|_| s.address);
                    self.set_rtcp(i, rtcp_port, ip)?;
                }
                None if !m.rtcp_mux && Some(rtcp_port) != s.rtp_port.checked_add(1) => {
                    self.add_rtcp(i, rtcp_port)?;
                }
                None => {}
            }
            if strip_ice {
                self.remove_ice(Section::Media(i))?;
            }
        }
        Ok(())
    }
}

/// Rewrite `sdp` for the relay into `out` and return the length written; all streams or an
/// error (never a half-rewritten body). See [`Rewriter::relay`].
pub fn rewrite_for_relay(
    sdp: &Sdp<'_>,
    session_address: IpAddr,
    streams: &[StreamRewrite],
    strip_ice: bool,
    out: &mut [u8],
) -> Result<usize, SdpError> {
    let mut rw = Rewriter::new(sdp);
    let result = rw
        .relay(session_address, streams, strip_ice)
        .and_then(|()| rw.emit(out));
    match result {
        Ok(n) => log::debug!(
            target: crate::logging::SIP,
            "SDP relay rewrite: {} media, {} edits, {} -> {n} bytes",
            streams.len(),
            rw.edit_count(),
            sdp.body().len()
        ),
        Err(e) => log::debug!(target: crate::logging::SIP, "SDP relay rewrite failed: {e}"),
    }
    result
}
