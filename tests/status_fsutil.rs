//! `fsutil::atomic_write` and `read_limited` on a real filesystem (a private directory under
//! the system temp dir).
#![allow(clippy::unwrap_used)] // test helpers: a failed set-up panics, as a test should

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use siproxd_rs::fsutil::{atomic_write, atomic_write_mode, read_limited};

mod tempdir;

use tempdir::TempDir;

fn temp_name(target: &Path) -> PathBuf {
    let mut name = target.file_name().unwrap().to_os_string();
    name.push(format!(".tmp.{}", std::process::id()));
    target.with_file_name(name)
}

#[test]
fn creates_then_replaces_the_content_and_leaves_no_temp_file() {
    let dir = TempDir::new("replace");
    let file = dir.path("registrations");
    atomic_write(&file, b"first version, rather long\n").unwrap();
    assert_eq!(fs::read(&file).unwrap(), b"first version, rather long\n");
    atomic_write(&file, b"second\n").unwrap();
    // Shorter content leaves nothing of the old one behind.
    assert_eq!(fs::read(&file).unwrap(), b"second\n");
    atomic_write(&file, b"").unwrap();
    assert_eq!(fs::read(&file).unwrap(), b"");
    assert_eq!(dir.entries(), vec!["registrations".to_owned()]);
}

#[test]
fn missing_directory_is_an_error_and_creates_nothing() {
    let dir = TempDir::new("nodir");
    let file = dir.path("missing/status.json");
    let err = atomic_write(&file, b"{}").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(dir.entries().is_empty());
}

#[test]
fn failed_rename_removes_the_temp_file_and_keeps_the_target() {
    let dir = TempDir::new("rename");
    // A non-empty directory where the file should go: the rename must fail.
    let target = dir.path("status.json");
    fs::create_dir(&target).unwrap();
    fs::write(target.join("keep"), b"kept").unwrap();
    assert!(atomic_write(&target, b"new content").is_err());
    assert_eq!(dir.entries(), vec!["status.json".to_owned()]);
    assert_eq!(fs::read(target.join("keep")).unwrap(), b"kept");
}

#[test]
fn a_symlink_at_the_temp_name_is_not_followed() {
    let dir = TempDir::new("symlink");
    let victim = dir.path("victim");
    fs::write(&victim, b"precious").unwrap();
    let target = dir.path("status.json");
    std::os::unix::fs::symlink(&victim, temp_name(&target)).unwrap();
    assert!(atomic_write(&target, b"attack").is_err());
    assert_eq!(fs::read(&victim).unwrap(), b"precious");
    assert!(!target.exists());
}

#[test]
fn mode_is_applied() {
    let dir = TempDir::new("mode");
    let file = dir.path("registrations");
    atomic_write_mode(&file, b"x", 0o600).unwrap();
    let mode = fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn readers_see_the_old_or_the_new_file_never_a_mix() {
    let dir = TempDir::new("readers");
    let file = dir.path("status.json");
    let a = vec![b'a'; 256 * 1024];
    let b = vec![b'b'; 128 * 1024];
    atomic_write(&file, &a).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (file, a, b, stop) = (file.clone(), a.clone(), b.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut reads = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let got = fs::read(&file).unwrap();
                assert!(got == a || got == b, "torn read of {} bytes", got.len());
                reads += 1;
            }
            reads
        })
    };
    for i in 0..40 {
        atomic_write(&file, if i % 2 == 0 { &b } else { &a }).unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
    assert_eq!(dir.entries(), vec!["status.json".to_owned()]);
}

#[test]
fn read_limited_refuses_larger_files() {
    let dir = TempDir::new("limited");
    let file = dir.path("f");
    fs::write(&file, b"0123456789").unwrap();
    assert_eq!(read_limited(&file, 10).unwrap(), b"0123456789");
    assert_eq!(
        read_limited(&file, 9).unwrap_err().kind(),
        ErrorKind::InvalidData
    );
    assert_eq!(
        read_limited(&dir.path("none"), 9).unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn parent_directory_is_created_with_its_mode() {
    let dir = TempDir::new("parent");
    let file = dir.path("run/siproxd-rs/status.json");
    siproxd_rs::fsutil::create_parent_dir(&file, 0o700).unwrap();
    let meta = fs::metadata(dir.path("run/siproxd-rs")).unwrap();
    assert!(meta.is_dir());
    assert_eq!(meta.permissions().mode() & 0o777, 0o700);
    // Existing is fine, and the file can then be written.
    siproxd_rs::fsutil::create_parent_dir(&file, 0o700).unwrap();
    atomic_write(&file, b"{}").unwrap();
    assert_eq!(fs::read(&file).unwrap(), b"{}");
}
