//! Registration table (to be written).
