//! Private network namespaces for tests, and a builder that holds a known mix of sockets in one.
//!
//! [`with_netns`] runs a test body on a fresh thread that first calls `unshare(CLONE_NEWNET)`: every
//! socket that thread creates, every `/proc/sys/net/...` file it opens and every child it spawns
//! (`ip`, `nft`, `ss`, conntrend itself) lives in that namespace. The namespace dies with the thread
//! and its sockets, so tests can run in parallel without seeing each other.
//!
//! [`Pool`] sets the namespace's port sysctls; [`NetNs::ss_socks`] reads its sockets back through
//! `ss`; [`mix::Mix`] builds and holds a recorded socket mix in it.

pub mod mix;

use std::io::{BufRead, BufReader, Write};
use std::marker::PhantomData;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::util::{Run, run};

/// Handle to the current thread's private network namespace. Not `Send`: it only means something
/// on the thread that created the namespace.
pub struct NetNs {
    _on_this_thread: PhantomData<*const ()>,
}

/// Runs `body` on a new thread inside a brand-new network namespace with `lo` up (127.0.0.1 and
/// ::1 usable), and returns its result. Panics in `body` fail the calling test with their message.
/// Fails loudly, never skips, when the namespace cannot be created.
pub fn with_netns<T: Send + 'static>(body: impl FnOnce(&NetNs) -> T + Send + 'static) -> T {
    let name = std::thread::current().name().unwrap_or("test").to_string();
    let handle = std::thread::Builder::new()
        .name(format!("{name} [netns]"))
        .spawn(move || {
            // SAFETY: unshare(2) takes no pointers; CLONE_NEWNET only moves this thread.
            if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                let err = std::io::Error::last_os_error();
                panic!(
                    "unshare(CLONE_NEWNET) failed: {err}. These tests build sockets in \
                     private network namespaces and need root (CAP_SYS_ADMIN): run them as \
                     root, or as a user under `unshare -rn cargo test --test it`."
                );
            }
            let ns = NetNs {
                _on_this_thread: PhantomData,
            };
            ns.lo_up();
            body(&ns)
        })
        .expect("spawn the namespace thread");
    match handle.join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// A namespace kept alive on its own thread (see [`park_netns`]) while the caller works outside it,
/// e.g. runs conntrend from the host namespace with `--netns path`. Dropping it lets the thread end.
pub struct Parked<T> {
    /// Where other threads and processes can open the namespace ([`NetNs::path`]).
    pub path: String,
    /// What the body handed out with the namespace.
    pub info: T,
    done: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Runs `body` in a new namespace (as [`with_netns`]) on a background thread. Once its sockets are in
/// place, `body` calls `park(info)`: that hands the namespace's path and `info` to the caller and
/// blocks until the returned [`Parked`] is dropped, so whatever `body` holds stays alive until then.
pub fn park_netns<T: Send + 'static>(
    body: impl FnOnce(&NetNs, &mut dyn FnMut(T)) + Send + 'static,
) -> Parked<T> {
    let (tx, rx) = mpsc::channel();
    let (done, wait) = mpsc::channel::<()>();
    let name = std::thread::current().name().unwrap_or("test").to_string();
    let thread = std::thread::Builder::new()
        .name(name)
        .spawn(move || {
            with_netns(move |ns| {
                let path = ns.path();
                let mut park = |info: T| {
                    tx.send((path.clone(), info))
                        .expect("hand the namespace out");
                    let _ = wait.recv();
                };
                body(ns, &mut park);
            })
        })
        .expect("spawn the parking thread");
    match rx.recv() {
        Ok((path, info)) => Parked {
            path,
            info,
            done: Some(done),
            thread: Some(thread),
        },
        Err(_) => match thread.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => panic!("park_netns: the body ended without calling park"),
        },
    }
}

impl<T> Drop for Parked<T> {
    fn drop(&mut self) {
        drop(self.done.take());
        let ended = self.thread.take().map(|t| t.join());
        if let Some(Err(panic)) = ended
            && !std::thread::panicking()
        {
            std::panic::resume_unwind(panic);
        }
    }
}

impl NetNs {
    /// This namespace as a path other threads and processes can open while this thread lives:
    /// `/proc/<pid>/task/<tid>/ns/net`.
    pub fn path(&self) -> String {
        // SAFETY: getpid(2) and gettid(2) take no arguments and cannot fail.
        let (pid, tid) = unsafe { (libc::getpid(), libc::gettid()) };
        format!("/proc/{pid}/task/{tid}/ns/net")
    }

    /// Brings `lo` up and checks both loopback addresses are there.
    pub fn lo_up(&self) {
        self.stdout(&["ip", "link", "set", "lo", "up"]);
        let addrs = self.stdout(&["ip", "-o", "addr", "show", "dev", "lo"]);
        for want in ["inet 127.0.0.1/8", "inet6 ::1/128"] {
            assert!(
                addrs.contains(want),
                "lo lacks {want} after `ip link set lo up`:\n{addrs}"
            );
        }
    }

    /// Reads `/proc/sys/net/ipv4/<name>` of this namespace, trimmed.
    pub fn sysctl(&self, name: &str) -> String {
        let path = format!("/proc/sys/net/ipv4/{name}");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
        text.trim().to_string()
    }

    fn set_sysctl(&self, name: &str, value: &str) {
        let path = format!("/proc/sys/net/ipv4/{name}");
        std::fs::write(&path, value).unwrap_or_else(|e| panic!("write {value:?} to {path}: {e}"));
    }

    /// Sets `ip_local_port_range` (inclusive) and checks it took.
    pub fn set_port_range(&self, lo: u16, hi: u16) {
        self.set_sysctl("ip_local_port_range", &format!("{lo} {hi}"));
        assert_eq!(self.sysctl("ip_local_port_range"), format!("{lo}\t{hi}"));
    }

    /// Sets `ip_local_reserved_ports` (kernel syntax, e.g. `40010-40019,40050`) and checks it took.
    pub fn set_reserved_ports(&self, spec: &str) {
        self.set_sysctl("ip_local_reserved_ports", spec);
        assert_eq!(self.sysctl("ip_local_reserved_ports"), spec);
    }

    /// Applies an nftables script (`nft -f -`), panicking with nft's complaint if it is rejected.
    pub fn nft(&self, script: &str) {
        let nft = if std::path::Path::new("/usr/sbin/nft").exists() {
            "/usr/sbin/nft"
        } else {
            "nft"
        };
        let mut child = Command::new(nft)
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run nft ({e}); install it: apt-get install -y nftables")
            });
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(script.as_bytes()).expect("feed nft");
        drop(stdin);
        let out = child.wait_with_output().expect("wait for nft");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "nft rejected:\n{script}\n{err}");
    }

    /// Runs `cmd` to completion inside this namespace.
    pub fn run(&self, cmd: Command) -> Run {
        run(cmd)
    }

    /// Starts `cmd` inside this namespace without waiting for it.
    pub fn spawn(&self, cmd: &mut Command) -> Child {
        cmd.spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"))
    }

    /// Runs `cmd` to completion inside this namespace, calling `change` as soon as it has written its
    /// first sample line (a line that is neither a `#` comment nor the JSON header). Gives up, killing
    /// it, when it writes nothing for 20 s.
    pub fn run_changing(&self, mut cmd: Command, change: impl FnOnce()) -> Run {
        let cmdline = format!("{cmd:?}");
        let mut child = self.spawn(cmd.stdout(Stdio::piped()).stderr(Stdio::piped()));
        let (tx, rx) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (mut text, mut change) = (String::new(), Some(change));
        loop {
            match rx.recv_timeout(Duration::from_secs(20)) {
                Ok(line) => {
                    let sample = !line.starts_with('#') && !line.contains("\"header\"");
                    text.push_str(&line);
                    text.push('\n');
                    if let Some(f) = change.take_if(|_| sample) {
                        f();
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                Err(_) => {
                    let _ = child.kill();
                    panic!("{cmdline} wrote no line for 20 s; output so far:\n{text}");
                }
            }
        }
        reader.join().expect("stdout reader");
        let mut output = child.wait_with_output().expect("wait for the child");
        output.stdout = text.into_bytes();
        let run = Run { cmdline, output };
        assert!(
            change.is_none(),
            "no sample line appeared\n{}",
            run.describe()
        );
        run
    }

    /// Runs `argv` inside this namespace; panics unless it succeeds; returns its stdout.
    pub fn stdout(&self, argv: &[&str]) -> String {
        let mut cmd = Command::new(argv[0]);
        cmd.args(&argv[1..]);
        let r = run(cmd);
        assert!(
            r.output.status.success(),
            "helper command failed\n{}",
            r.describe()
        );
        r.stdout()
    }

    /// `ss -tanH` and `ss -uanH` of this namespace, raw (for failure messages).
    pub fn ss_text(&self) -> String {
        let tcp = self.stdout(&["ss", "-tanH"]);
        let udp = self.stdout(&["ss", "-uanH"]);
        format!("--- ss -tanH ---\n{tcp}--- ss -uanH ---\n{udp}")
    }

    /// Every TCP and UDP socket `ss` shows in this namespace, sorted. `ss` (iproute2 6.1) cannot show
    /// bound-only TCP sockets, so [`State::Bound`] never appears here.
    pub fn ss_socks(&self) -> Vec<Sock> {
        let mut socks = Vec::new();
        for (proto, flag) in [(Proto::Tcp, "-tanH"), (Proto::Udp, "-uanH")] {
            for line in self.stdout(&["ss", flag]).lines() {
                socks.push(parse_ss_line(proto, line));
            }
        }
        socks.sort();
        socks
    }

    /// Polls `ok` every 25 ms, at most 400 times and 10 s; panics naming `what` (with `ss`) if it
    /// never holds.
    pub fn wait_until(&self, what: &str, mut ok: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        for _ in 0..400 {
            if ok() {
                return;
            }
            if Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("timed out waiting for {what}\n{}", self.ss_text());
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Proto {
    Tcp,
    Udp,
}

/// A socket state as `ss` names it; `Bound` is a TCP socket that is bound but neither listening
/// nor connecting (the kernel dumps it only when asked for TCP_BOUND_INACTIVE).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    Listen,
    Estab,
    SynSent,
    SynRecv,
    TimeWait,
    FinWait1,
    FinWait2,
    CloseWait,
    LastAck,
    Closing,
    Bound,
    /// UDP without a peer.
    Unconn,
}

/// One socket: protocol, family, local port, peer port (None when there is no peer), state.
/// A connected UDP socket has state `Estab`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Sock {
    pub proto: Proto,
    pub v6: bool,
    pub port: u16,
    pub peer: Option<u16>,
    pub state: State,
}

fn parse_ss_line(proto: Proto, line: &str) -> Sock {
    let f: Vec<&str> = line.split_whitespace().collect();
    assert!(f.len() >= 5, "unexpected ss line: {line}");
    let state = match f[0] {
        "LISTEN" => State::Listen,
        "ESTAB" => State::Estab,
        "SYN-SENT" => State::SynSent,
        "SYN-RECV" => State::SynRecv,
        "TIME-WAIT" => State::TimeWait,
        "FIN-WAIT-1" => State::FinWait1,
        "FIN-WAIT-2" => State::FinWait2,
        "CLOSE-WAIT" => State::CloseWait,
        "LAST-ACK" => State::LastAck,
        "CLOSING" => State::Closing,
        "UNCONN" => State::Unconn,
        other => panic!("unknown ss state {other:?} in: {line}"),
    };
    let port = |s: &str| {
        let (_, p) = s
            .rsplit_once(':')
            .unwrap_or_else(|| panic!("no port in {s:?}: {line}"));
        (p != "*").then(|| {
            p.parse::<u16>()
                .unwrap_or_else(|_| panic!("bad port: {line}"))
        })
    };
    Sock {
        proto,
        v6: f[3].starts_with('['),
        port: port(f[3]).unwrap_or_else(|| panic!("no local port: {line}")),
        peer: port(f[4]).filter(|p| *p != 0),
        state,
    }
}

/// The port pool as the kernel sees it: `lo..=hi` minus reserved ranges.
#[derive(Clone, Debug)]
pub struct Pool {
    pub lo: u16,
    pub hi: u16,
    pub reserved: Vec<(u16, u16)>,
}

impl Pool {
    pub fn new(lo: u16, hi: u16, reserved: &str) -> Self {
        let reserved = reserved
            .split(',')
            .filter(|r| !r.is_empty())
            .map(|r| match r.split_once('-') {
                Some((a, b)) => (a.parse().unwrap(), b.parse().unwrap()),
                None => (r.parse().unwrap(), r.parse().unwrap()),
            })
            .collect();
        Pool { lo, hi, reserved }
    }

    pub fn contains(&self, p: u16) -> bool {
        (self.lo..=self.hi).contains(&p)
            && !self.reserved.iter().any(|(a, b)| (*a..=*b).contains(&p))
    }

    pub fn total(&self) -> u64 {
        (self.lo..=self.hi).filter(|p| self.contains(*p)).count() as u64
    }

    /// Applies this pool's sysctls to the namespace.
    pub fn apply(&self, ns: &NetNs) {
        ns.set_port_range(self.lo, self.hi);
        let spec: Vec<String> = self
            .reserved
            .iter()
            .map(|(a, b)| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}-{b}")
                }
            })
            .collect();
        ns.set_reserved_ports(&spec.join(","));
    }
}
