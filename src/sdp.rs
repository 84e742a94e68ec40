//! SDP view and rewriter (to be written).
