//! The event-loop shell: mio poll, sockets, timers, signals (to be written).
