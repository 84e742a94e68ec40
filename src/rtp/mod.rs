//! RTP relay (to be written).
