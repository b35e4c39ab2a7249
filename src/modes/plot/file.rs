//! `-o PATH`: the SVG written by what PATH is.
//!
//! - A regular file, or nothing yet: replaced whole, so that a viewer never sees half a picture —
//!   a temporary dot-file in the same directory (created exclusively: a planted file or link is
//!   never written through), written, fsynced, renamed over PATH. A file it replaces keeps its
//!   permission bits. On any failure the temporary file is removed and PATH is left as it was.
//! - A symlink: followed on purpose. Its target is replaced as above (the rename goes over the
//!   target, in the target's directory) and the link stays; a dangling link gets its target made,
//!   as the shell's `>` would.
//! - A character or block device, a FIFO or a socket: written straight through (opened for
//!   writing, without O_CREAT or O_TRUNC), so `-o /dev/null` and `-o /dev/stdout` work and the node
//!   stays what it was.
//! - A directory: an error.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Symlinks followed before giving up (the kernel's own limit).
const MAX_LINKS: usize = 40;

/// Writes `bytes` to `path` by what `path` is (see the module's doc).
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    let what = || format!("cannot write '{}'", path.display());
    match fs::metadata(path) {
        Ok(m) if m.is_dir() => bail!("{}: it is a directory", what()),
        Ok(m) if m.is_file() => replace(
            &target(path).with_context(what)?,
            Some(m.permissions()),
            bytes,
        )
        .with_context(what),
        Ok(_) => write_through(path, bytes).with_context(what),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            replace(&target(path).with_context(what)?, None, bytes).with_context(what)
        }
        Err(e) => Err(e).with_context(what),
    }
}

/// The file `path` names once symlinks are followed: `path` itself when it is not a link; for a
/// dangling link, the path its target would have.
fn target(path: &Path) -> io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let to = fs::read_link(&p)?;
                p = match p.parent() {
                    Some(dir) if to.is_relative() => dir.join(to),
                    _ => to,
                };
            }
            Ok(_) => return Ok(p),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(p),
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::from_raw_os_error(libc::ELOOP))
}

fn write_through(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = OpenOptions::new().write(true).open(path)?;
    f.write_all(bytes)?;
    f.flush()
}

/// Replaces the regular file (or nothing) at `path` with `bytes`, through a temporary file.
fn replace(path: &Path, mode: Option<Permissions>, bytes: &[u8]) -> io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?
        .to_string_lossy()
        .into_owned();
    let (tmp, mut f) = create_temporary(path, &name)?;
    let written = (|| {
        if let Some(mode) = mode {
            f.set_permissions(mode)?;
        }
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// `.NAME.PID.N.tmp` beside `path`, created exclusively (O_EXCL: never through a planted link).
fn create_temporary(path: &Path, name: &str) -> io::Result<(PathBuf, File)> {
    let pid = std::process::id();
    let mut last = None;
    for n in 0..16 {
        let tmp = path.with_file_name(format!(".{name}.{pid}.{n}.tmp"));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o666)
            .open(&tmp)
        {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.expect("the loop ran"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_follow_links_relative_to_their_directory() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("sub")).unwrap();
        std::os::unix::fs::symlink("sub/b", d.join("a")).unwrap();
        std::os::unix::fs::symlink("c.svg", d.join("sub/b")).unwrap();
        assert_eq!(target(&d.join("a")).unwrap(), d.join("sub/c.svg"));
        assert_eq!(target(&d.join("plain.svg")).unwrap(), d.join("plain.svg"));
        std::os::unix::fs::symlink("loop", d.join("loop")).unwrap();
        assert_eq!(
            target(&d.join("loop")).unwrap_err().raw_os_error(),
            Some(libc::ELOOP)
        );
    }

    #[test]
    fn a_replaced_file_keeps_its_mode() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.svg");
        std::fs::write(&p, "old").unwrap();
        std::fs::set_permissions(&p, Permissions::from_mode(0o640)).unwrap();
        write(&p, b"new").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
