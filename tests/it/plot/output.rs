//! `plot -o PATH` by the kind of PATH: a regular file is replaced whole (a temporary file renamed
//! over it); a device, FIFO or socket is written straight through and stays what it was; a
//! symlink is followed and its target replaced, the link left in place; a directory is a one-line
//! error. No failure leaves the temporary file behind, and a failed write leaves the old file.

use std::ffi::CString;
use std::io::Read as _;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
use std::path::Path;

use super::*;

/// A short log: a small SVG (about 20 KB).
fn small_log(dir: &Path) -> std::path::PathBuf {
    let log = dir.join("log.csv");
    std::fs::write(&log, csv_run(1_000_000, 60, |i| 10 + i)).unwrap();
    log
}

fn plot_to(log: &Path, out: &Path) -> Run {
    let mut cmd = conntrend();
    cmd.arg("plot").arg(log).arg("-o").arg(out);
    run(cmd)
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn cpath(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap()
}

/// A character device node at `p` (needs CAP_MKNOD).
fn mknod_char(p: &Path, major: u32, minor: u32) {
    // SAFETY: a valid NUL-terminated path.
    let rc = unsafe {
        libc::mknod(
            cpath(p).as_ptr(),
            libc::S_IFCHR | 0o666,
            libc::makedev(major, minor),
        )
    };
    assert_eq!(
        rc,
        0,
        "mknod {}: {}",
        p.display(),
        std::io::Error::last_os_error()
    );
}

#[test]
fn a_device_is_written_through_and_stays_a_device() {
    if !is_root() {
        eprintln!("skipped: mknod needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let log = small_log(dir.path());
    // Copies of /dev/null and /dev/full: the real ones are never put at risk.
    let (null, full) = (dir.path().join("null"), dir.path().join("full"));
    mknod_char(&null, 1, 3);
    mknod_char(&full, 1, 7);
    let r = plot_to(&log, &null);
    r.expect_code(0);
    let kind = std::fs::symlink_metadata(&null).unwrap().file_type();
    assert!(
        kind.is_char_device(),
        "-o null: {kind:?}, no longer a device\n{}",
        r.describe()
    );
    // A device that cannot take the bytes: one line naming it, the device left as it was.
    let r = plot_to(&log, &full);
    r.expect_code(1);
    let lines = stderr_lines(&r);
    assert_eq!(lines.len(), 1, "{}", r.describe());
    assert!(
        lines[0].contains(&*full.to_string_lossy()),
        "{}",
        r.describe()
    );
    assert!(
        lines[0].contains("No space left on device"),
        "{}",
        r.describe()
    );
    let kind = std::fs::symlink_metadata(&full).unwrap().file_type();
    assert!(kind.is_char_device(), "-o full: {kind:?}\n{}", r.describe());
    assert_eq!(
        names(dir.path()),
        ["full", "log.csv", "null"],
        "nothing left behind"
    );
}

#[test]
fn a_fifo_is_written_through_and_stays_a_fifo() {
    let dir = tempfile::tempdir().unwrap();
    let log = small_log(dir.path());
    let fifo = dir.path().join("fifo");
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(cpath(&fifo).as_ptr(), 0o600) }, 0);
    // The read end is open before plot starts (its open for writing does not wait) and does not
    // block (a plot that never opens the FIFO cannot hang the test); the SVG fits in the pipe.
    let mut reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .unwrap();
    let r = plot_to(&log, &fifo);
    r.expect_code(0);
    let mut svg = Vec::new();
    match reader.read_to_end(&mut svg) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        Err(e) => panic!("reading the FIFO: {e}"),
    }
    let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
    assert!(
        kind.is_fifo(),
        "-o fifo: {kind:?}, no longer a FIFO\n{}",
        r.describe()
    );
    let svg = String::from_utf8(svg).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.ends_with("</svg>\n"),
        "read {} bytes",
        svg.len()
    );
    assert_eq!(
        names(dir.path()),
        ["fifo", "log.csv"],
        "nothing left behind"
    );
}

#[test]
fn a_symlink_is_followed_and_left_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let log = small_log(dir.path());
    let real = dir.path().join("real");
    std::fs::create_dir(&real).unwrap();
    std::fs::write(real.join("chart.svg"), "old").unwrap();
    let link = dir.path().join("link.svg");
    std::os::unix::fs::symlink("real/chart.svg", &link).unwrap();
    let r = plot_to(&log, &link);
    r.expect_code(0);
    let meta = std::fs::symlink_metadata(&link).unwrap();
    assert!(
        meta.file_type().is_symlink(),
        "the link was replaced\n{}",
        r.describe()
    );
    assert_eq!(
        std::fs::read_link(&link).unwrap(),
        Path::new("real/chart.svg")
    );
    let svg = std::fs::read_to_string(real.join("chart.svg")).unwrap();
    assert!(svg.starts_with("<svg"), "the target has the chart");
    assert_eq!(names(dir.path()), ["link.svg", "log.csv", "real"]);
    assert_eq!(names(&real), ["chart.svg"], "nothing left behind");
    // A dangling link: its target is made, as `>` would.
    let dangling = dir.path().join("dangling.svg");
    std::os::unix::fs::symlink("real/new.svg", &dangling).unwrap();
    let r = plot_to(&log, &dangling);
    r.expect_code(0);
    assert!(
        std::fs::symlink_metadata(&dangling)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        std::fs::read_to_string(real.join("new.svg"))
            .unwrap()
            .starts_with("<svg")
    );
    assert_eq!(names(&real), ["chart.svg", "new.svg"]);
}

#[test]
fn a_directory_is_a_one_line_error_and_nothing_is_left_behind() {
    let dir = tempfile::tempdir().unwrap();
    let log = small_log(dir.path());
    let adir = dir.path().join("adir");
    std::fs::create_dir(&adir).unwrap();
    let r = plot_to(&log, &adir);
    r.expect_code(1);
    let lines = stderr_lines(&r);
    assert_eq!(lines.len(), 1, "{}", r.describe());
    assert!(
        lines[0].contains(&format!("cannot write '{}'", adir.display()))
            && lines[0].contains("is a directory"),
        "{}",
        r.describe()
    );
    assert_eq!(
        names(dir.path()),
        ["adir", "log.csv"],
        "nothing left behind"
    );
    assert!(names(&adir).is_empty());
}

#[test]
fn a_write_that_fails_leaves_the_old_file_and_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let log = small_log(dir.path());
    let out = dir.path().join("out.svg");
    std::fs::write(&out, "old").unwrap();
    // A file size limit makes the write of the temporary file fail (EFBIG) part way.
    let mut cmd = conntrend();
    cmd.arg("plot").arg(&log).arg("-o").arg(&out);
    // SAFETY: setrlimit and signal are async-signal-safe; nothing is allocated.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 4096,
                rlim_max: 4096,
            };
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let r = run(cmd);
    r.expect_code(1);
    let lines = stderr_lines(&r);
    assert_eq!(lines.len(), 1, "{}", r.describe());
    assert!(
        lines[0].contains(&format!("cannot write '{}'", out.display())),
        "{}",
        r.describe()
    );
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "old",
        "the old file is intact"
    );
    assert_eq!(
        names(dir.path()),
        ["log.csv", "out.svg"],
        "nothing left behind"
    );
}

#[test]
fn a_full_disk_leaves_the_old_file_and_no_temporary_file() {
    // A 16 KB tmpfs in a private mount namespace: the temporary file fills it.
    if !is_root() {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // 2,000 samples: an SVG of ~200 KB.
    let log = dir.path().join("log.csv");
    std::fs::write(&log, csv_run(0, 2000, |i| 10 + i % 300)).unwrap();
    let disk = dir.path().join("disk");
    std::fs::create_dir(&disk).unwrap();
    let script = r#"mount -t tmpfs -o size=16k tmpfs "$1" || exit 99
printf old > "$1/out.svg"
"$2" plot "$3" -o "$1/out.svg"
echo "rc=$?"
ls -A "$1"
cat "$1/out.svg""#;
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "sh", "-c", script, "sh"])
        .arg(&disk)
        .arg(env!("CARGO_BIN_EXE_conntrend"))
        .arg(&log);
    let r = run(cmd);
    if r.code() == Some(99) || r.stderr().contains("unshare:") {
        eprintln!("skipped: cannot mount a tmpfs here\n{}", r.describe());
        return;
    }
    let out = r.stdout();
    let (rc, rest) = out
        .split_once('\n')
        .unwrap_or_else(|| panic!("{}", r.describe()));
    assert_eq!(rc, "rc=1", "{}", r.describe());
    assert_eq!(
        rest,
        "out.svg\nold",
        "only the old file, intact\n{}",
        r.describe()
    );
    let lines = stderr_lines(&r);
    assert_eq!(lines.len(), 1, "{}", r.describe());
    assert!(
        lines[0].contains("No space left on device"),
        "{}",
        r.describe()
    );
}
