//! The bench's private network namespace: a fresh one per load point, with `lo` up and the
//! sysctls a few hundred thousand loopback sockets need. Only this namespace's sysctls are written;
//! the host's are never touched.

use std::io;
use std::process::{Command, Stdio};

/// Moves the calling thread (the bench's main thread) into a brand-new network namespace. Threads
/// and children started afterwards inherit it; the previous namespace dies with its last socket.
pub fn enter_fresh() -> io::Result<()> {
    // SAFETY: unshare(2) takes no pointers; CLONE_NEWNET only moves this thread.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(
            e.kind(),
            format!(
                "unshare(CLONE_NEWNET): {e}. The benchmark builds its sockets in a private network \
                 namespace: run it as root, or as a user under `unshare -rn`"
            ),
        ));
    }
    let status = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .stdin(Stdio::null())
        .status()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run `ip` (iproute2): {e}")))?;
    if !status.success() {
        return Err(io::Error::other(format!(
            "`ip link set lo up` failed: {status}"
        )));
    }
    // Every port above the privileged ones, so each source address holds tens of thousands.
    sysctl("ipv4/ip_local_port_range", "1024 65535")?;
    // Room for 500k TIME_WAIT sockets (the default is half the established hash size).
    sysctl("ipv4/tcp_max_tw_buckets", "2000000")?;
    // Loopback connections may otherwise recycle TIME_WAIT 4-tuples and shrink the load.
    sysctl("ipv4/tcp_tw_reuse", "0")?;
    // Connections are made in batches that wait in the accept queue.
    sysctl("core/somaxconn", "8192")?;
    Ok(())
}

/// Writes `/proc/sys/net/<name>` of the current namespace.
pub fn sysctl(name: &str, value: &str) -> io::Result<()> {
    let path = format!("/proc/sys/net/{name}");
    std::fs::write(&path, value)
        .map_err(|e| io::Error::new(e.kind(), format!("write {value:?} to {path}: {e}")))
}

/// Raises RLIMIT_NOFILE (soft and, as far as allowed, hard) to at least `want`; returns the
/// soft limit now in force (without CAP_SYS_RESOURCE it cannot pass the hard limit).
pub fn raise_nofile(want: u64) -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write the one struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return Err(io::Error::last_os_error());
        }
        if lim.rlim_cur >= want {
            return Ok(lim.rlim_cur);
        }
        let raised = libc::rlimit {
            rlim_cur: want,
            rlim_max: lim.rlim_max.max(want),
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) != 0 {
            // Without CAP_SYS_RESOURCE only the soft limit can move, up to the hard one.
            let soft = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &soft) != 0 {
                return Err(io::Error::last_os_error());
            }
            return Ok(lim.rlim_max);
        }
    }
    Ok(want)
}
