//! Process handling: daemonizing, the PID file, chroot and dropping privileges
//! (behaviour §1.2, §1.4; decisions §7).
