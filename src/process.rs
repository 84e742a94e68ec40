//! Process handling: daemonizing, the PID file, chroot and dropping privileges
//! (behaviour §1.2, §1.4; decisions §7).

use std::ffi::CString;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Detaches from the terminal: fork (the parent exits 0), setsid, fork again (so the daemon
/// can never reacquire a terminal), chdir /, stdin/stdout/stderr on /dev/null. Returns in the
/// daemon only. Call it while the process has a single thread.
pub fn daemonize() -> io::Result<()> {
    fork_and_exit_parent()?;
    // SAFETY: plain syscall; the child is not a group leader after fork, so setsid succeeds.
    if unsafe { libc::setsid() } < 0 {
        return Err(io::Error::last_os_error());
    }
    fork_and_exit_parent()?;
    std::env::set_current_dir("/")?;
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    for fd in 0..=2 {
        use std::os::fd::AsRawFd;
        // SAFETY: both descriptors are open; dup2 atomically replaces fd.
        if unsafe { libc::dup2(null.as_raw_fd(), fd) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

fn fork_and_exit_parent() -> io::Result<()> {
    // SAFETY: the process is single-threaded here, so the child may run arbitrary code.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(()),
        // SAFETY: _exit skips atexit handlers and stdio flushing that belong to the child now.
        _ => unsafe { libc::_exit(0) },
    }
}

/// A PID file written at start and removed at exit.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
}

impl PidFile {
    /// Replaces any old file with this process's pid followed by a newline.
    pub fn create(path: &Path) -> io::Result<PidFile> {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        std::fs::write(path, format!("{}\n", std::process::id()))?;
        Ok(PidFile {
            path: path.to_owned(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Deletes the file (after a chroot or a user change this may fail; the error says why).
    pub fn remove(self) -> io::Result<()> {
        std::fs::remove_file(&self.path)
    }
}

/// Why privileges could not be dropped; each is fatal (decisions §7).
#[derive(Debug)]
pub enum PrivError {
    UnknownUser(String),
    Chroot(String, io::Error),
    Drop(&'static str, io::Error),
}

impl fmt::Display for PrivError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrivError::UnknownUser(u) => write!(f, "user = {u}: no such user"),
            PrivError::Chroot(d, e) => write!(f, "chrootjail = {d}: cannot chroot: {e}"),
            PrivError::Drop(what, e) => write!(f, "cannot drop privileges ({what}): {e}"),
        }
    }
}

impl std::error::Error for PrivError {}

/// What [`secure`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secured {
    /// Not root: `user` and `chrootjail` do not apply.
    NotRoot,
    /// Root: chrooted (if set) and running as the user (if set).
    Done,
}

pub fn is_root() -> bool {
    // SAFETY: plain syscalls without arguments.
    unsafe { libc::getuid() == 0 || libc::geteuid() == 0 }
}

/// uid and primary gid of `name`.
pub fn lookup_user(name: &str) -> Result<(libc::uid_t, libc::gid_t), PrivError> {
    let unknown = || PrivError::UnknownUser(name.to_owned());
    let cname = CString::new(name).map_err(|_| unknown())?;
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: zeroed passwd is a valid out-parameter.
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid and buf.len() is its size.
    let rc = unsafe {
        libc::getpwnam_r(
            cname.as_ptr(),
            &mut pw,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() {
        return Err(unknown());
    }
    Ok((pw.pw_uid, pw.pw_gid))
}

/// Only when running as root: look up `user` (before the jail hides /etc/passwd), chroot into
/// `chrootjail`, then setgroups/setgid/setuid permanently. Call after every socket is open.
pub fn secure(user: Option<&str>, chrootjail: Option<&str>) -> Result<Secured, PrivError> {
    if !is_root() {
        return Ok(Secured::NotRoot);
    }
    let ids = user.map(lookup_user).transpose()?;
    if let Some(jail) = chrootjail {
        let chroot_err = |e| PrivError::Chroot(jail.to_owned(), e);
        let cjail =
            CString::new(jail).map_err(|_| chroot_err(io::ErrorKind::InvalidInput.into()))?;
        // SAFETY: cjail is a valid C string.
        if unsafe { libc::chroot(cjail.as_ptr()) } != 0 {
            return Err(chroot_err(io::Error::last_os_error()));
        }
        std::env::set_current_dir("/").map_err(chroot_err)?;
    }
    if let Some((uid, gid)) = ids {
        let last = || io::Error::last_os_error();
        // SAFETY: one gid from a valid pointer.
        if unsafe { libc::setgroups(1, &gid) } != 0 {
            return Err(PrivError::Drop("setgroups", last()));
        }
        // SAFETY: plain syscalls.
        if unsafe { libc::setgid(gid) } != 0 {
            return Err(PrivError::Drop("setgid", last()));
        }
        // SAFETY: plain syscall; as root setuid sets real, effective and saved uid.
        if unsafe { libc::setuid(uid) } != 0 {
            return Err(PrivError::Drop("setuid", last()));
        }
        // SAFETY: plain syscall; must fail now unless the user is root itself.
        if uid != 0 && unsafe { libc::setuid(0) } == 0 {
            return Err(PrivError::Drop(
                "root could be regained",
                io::ErrorKind::Other.into(),
            ));
        }
    }
    Ok(Secured::Done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_user_exists_and_unknown_users_are_errors() {
        assert_eq!(lookup_user("root").unwrap(), (0, 0));
        let err = lookup_user("no-such-user-siproxd").unwrap_err();
        assert_eq!(err.to_string(), "user = no-such-user-siproxd: no such user");
    }

    #[test]
    fn pid_file_replaces_old_content_and_is_removed() {
        let dir = std::env::temp_dir().join(format!("siproxd-rs-pid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("p.pid");
        std::fs::write(&path, "99999999\nold\n").unwrap();
        let pid = PidFile::create(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{}\n", std::process::id())
        );
        pid.remove().unwrap();
        assert!(!path.exists());
        std::fs::remove_dir(&dir).unwrap();
    }

    #[test]
    fn pid_file_in_missing_directory_is_an_error() {
        assert!(PidFile::create(Path::new("/nonexistent-dir-siproxd/x.pid")).is_err());
    }
}
