//! Zero-copy SIP message view and editor (to be written).
