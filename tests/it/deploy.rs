//! Issue 20: every file under deploy/, and the Dockerfile, exercised as it will be used.
//!
//! - systemd: `systemd-analyze verify` (silent) and `security`, `make install-systemd`, the
//!   sysusers/tmpfiles entries applied to a scratch root, and each unit's ExecStart run as the
//!   unit's unprivileged user under strace, against the unit's own SystemCallFilter= and
//!   RestrictAddressFamilies=.
//! - Kubernetes: kubernetes-validate against the API schemas, the PodMonitor (a CRD it lacks)
//!   checked against the DaemonSet it scrapes, and the DaemonSet's container run with its
//!   securityContext's user and capabilities, its probes answered.
//! - Prometheus: `promtool check rules` and `promtool test rules`.
//! - Grafana: every query parsed by promtool and answered by a real Prometheus that scrapes
//!   `conntrend serve` (run with the DaemonSet's arguments) and evaluates the rules.
//! - The container: hadolint, the dependency layer built from the manifest alone, and the image's
//!   default command and the README's `docker run` lines run with the user and capabilities
//!   they give (Docker itself cannot run here).
//!
//! The tools come from `.ci/deps test` (which `make test` runs first): Debian's systemd, strace
//! and prometheus, and a venv under target/ with kubernetes-validate and hadolint from PyPI. A
//! missing tool fails the test that needs it, naming it. Each checker is also shown a broken
//! copy and must reject it, so a checker that accepts anything cannot pass a test.

mod container;
mod dashboard;
mod kubernetes;
mod rules;
mod systemd;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{Run, run};

/// The repository's root.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The conntrend binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_conntrend")
}

/// A repository file's text.
pub fn read(rel: &str) -> String {
    let path = repo().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// A tool from Debian's packages; panics naming the package when it is missing.
pub fn tool(path: &'static str, package: &str) -> &'static str {
    assert!(
        Path::new(path).exists(),
        "{path} missing: apt-get install -y {package} (`.ci/deps test`, which make test runs, does)"
    );
    path
}

/// A program of the venv `.ci/deps test` makes under target/ (kubernetes-validate, hadolint).
pub fn venv(name: &str) -> PathBuf {
    let path = repo().join("target/deploy-venv/bin").join(name);
    assert!(
        path.exists(),
        "{} missing: `.ci/deps test` installs it from PyPI (make test runs that first)",
        path.display()
    );
    path
}

/// The YAML documents of `path` as JSON values (PyYAML from the venv: no YAML crate here).
pub fn yaml(path: &Path) -> Vec<Value> {
    let mut cmd = Command::new(venv("python"));
    cmd.args([
        "-c",
        "import json, sys, yaml\n\
         docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None]\n\
         print(json.dumps(docs))",
    ])
    .arg(path);
    let r = run(cmd);
    r.expect_code(0);
    match serde_json::from_str(&r.stdout()) {
        Ok(Value::Array(docs)) => docs,
        other => panic!("{}: {other:?}", path.display()),
    }
}

/// `cmd` run to completion; panics with everything it said unless it exits 0 and says nothing
/// on stdout or stderr (the contract of a silent checker).
pub fn silent_success(cmd: Command) -> Run {
    let r = run(cmd);
    assert!(
        r.output.status.success() && r.stdout().trim().is_empty() && r.stderr().trim().is_empty(),
        "expected success and no output\n{}",
        r.describe()
    );
    r
}

/// The entries of a systemd unit file as (section, key, value), comments and blank lines out.
pub fn unit_entries(text: &str) -> Vec<(String, String, String)> {
    let mut section = String::new();
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_string();
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("not KEY=VALUE: {line:?}"));
        out.push((section.clone(), k.trim().to_string(), v.trim().to_string()));
    }
    out
}

/// Every value `key` has in `entries` (in order: systemd accumulates some keys).
pub fn unit_values<'a>(entries: &'a [(String, String, String)], key: &str) -> Vec<&'a str> {
    entries
        .iter()
        .filter(|(_, k, _)| k == key)
        .map(|(_, _, v)| v.as_str())
        .collect()
}

/// A unit's ExecStart as argv (the deploy units quote nothing).
pub fn exec_start(unit: &str) -> Vec<String> {
    let entries = unit_entries(&read(unit));
    let starts = unit_values(&entries, "ExecStart");
    assert_eq!(starts.len(), 1, "{unit}: one ExecStart");
    starts[0].split_whitespace().map(str::to_string).collect()
}

/// A command that runs `argv` as `uid` (and group `uid`, no supplementary groups) with only
/// `caps` (setpriv names, e.g. `sys_ptrace`) in its bounding set, as Docker and Kubernetes start
/// a container's process: a non-root user keeps no capability across exec, so `caps` must be
/// empty unless `uid` is 0. `no_new_privs` as systemd's NoNewPrivileges= and Kubernetes'
/// allowPrivilegeEscalation: false.
pub fn as_user(uid: u32, caps: &[&str], no_new_privs: bool, argv: &[String]) -> Command {
    assert!(
        uid == 0 || caps.is_empty(),
        "a non-root user keeps no capability across exec"
    );
    let map = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
    let mapped = map.lines().any(|l| {
        let f: Vec<u64> = l
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        f.len() == 3 && (f[0]..f[0] + f[2]).contains(&u64::from(uid))
    });
    assert!(
        mapped,
        "uid {uid} is not mapped in this user namespace (uid_map: {map:?}): these tests run the \
         deploy files' users for real, so run them as root (sudo make test)"
    );
    let mut cmd = Command::new(tool("/usr/bin/setpriv", "util-linux"));
    let set = if caps.is_empty() {
        "-all".to_string()
    } else {
        format!(
            "-all,{}",
            caps.iter()
                .map(|c| format!("+{c}"))
                .collect::<Vec<_>>()
                .join(",")
        )
    };
    cmd.arg(format!("--reuid={uid}"))
        .arg(format!("--regid={uid}"))
        .arg("--clear-groups")
        .arg(format!("--inh-caps={set}"))
        .arg(format!("--bounding-set={set}"));
    if no_new_privs {
        cmd.arg("--no-new-privs");
    }
    cmd.args(argv);
    cmd
}

/// A child killed and reaped when dropped.
pub struct Reaped(pub Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends `signal` to `pid`.
pub fn signal(pid: u32, signal: libc::c_int) {
    let pid = libc::pid_t::try_from(pid).unwrap();
    // SAFETY: kill(2) takes no pointers.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "kill {pid}");
}

/// Waits at most `limit` for `child` to end; its exit code (None: killed by a signal).
pub fn wait_for(child: &mut Child, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status.code();
        }
        assert!(Instant::now() < deadline, "still running after {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A `GET path` answered by 127.0.0.1:`port`, once something listens there (10 s at most):
/// status and body.
pub fn get(port: u16, path: &str) -> (u16, String) {
    let addr = (std::net::Ipv4Addr::LOCALHOST, port).into();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
                .unwrap();
            let r = crate::serve::read_response(&mut s);
            return (r.status, r.body);
        }
        assert!(
            Instant::now() < deadline,
            "nothing listens on {addr} after 10 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The first line `child` writes on stdout that is a sample (not a `#` comment), within 20 s.
pub fn first_sample_line(child: &mut Child) -> String {
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if !line.starts_with('#') {
                let _ = tx.send(line);
                return;
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("no sample line within 20 s")
}

/// What `strace -f` saw a program do after it exec'd `binary`: system call names and the
/// address families of its socket() calls.
pub struct Trace {
    pub syscalls: BTreeSet<String>,
    pub families: BTreeSet<String>,
}

/// Starts `cmd` under `strace -f -qq -o trace` (strace itself as root, so that it traces a
/// setpriv that drops to another user); read the trace with [`read_trace`] once it ended.
pub fn strace(cmd: &Command, trace: &Path) -> Command {
    let mut s = Command::new(tool("/usr/bin/strace", "strace"));
    s.args(["-f", "-qq", "-o"])
        .arg(trace)
        .arg(cmd.get_program());
    s.args(cmd.get_args());
    s
}

/// The trace's calls from the exec of `binary` on (what setpriv did before is not the
/// service's).
pub fn read_trace(trace: &Path, binary: &str) -> Trace {
    let text = std::fs::read_to_string(trace).unwrap();
    let exec = format!("execve(\"{binary}\"");
    let start = text
        .lines()
        .position(|l| l.contains(&exec))
        .unwrap_or_else(|| panic!("no {exec} in the trace:\n{text}"));
    let mut t = Trace {
        syscalls: BTreeSet::new(),
        families: BTreeSet::new(),
    };
    for line in text.lines().skip(start) {
        // "PID  call(…": strace pads the pid.
        let rest = line.split_once(' ').map_or(line, |(_, r)| r).trim_start();
        if rest.starts_with('<') || rest.starts_with("+++") || rest.starts_with("---") {
            continue;
        }
        let Some((name, args)) = rest.split_once('(') else {
            continue;
        };
        if !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            continue;
        }
        t.syscalls.insert(name.to_string());
        if name == "socket" {
            let family = args.split([',', ')']).next().unwrap_or_default();
            t.families.insert(family.trim().to_string());
        }
    }
    t
}

/// The system calls a unit's SystemCallFilter= lines allow (an allow list, then `~` deny
/// lists), expanded with `systemd-analyze syscall-filter`.
pub fn allowed_syscalls(entries: &[(String, String, String)]) -> BTreeSet<String> {
    let mut cmd = Command::new(tool("/usr/bin/systemd-analyze", "systemd"));
    cmd.arg("syscall-filter");
    let r = run(cmd);
    r.expect_code(0);
    // "@group" at column 0, its members indented (calls and nested @groups), "#" comments.
    let mut groups: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let mut current = None;
    for line in r.stdout().lines() {
        if let Some(name) = line.strip_prefix('@') {
            current = Some(format!("@{}", name.trim()));
            groups.entry(current.clone().unwrap()).or_default();
        } else if line.starts_with('#') || line.trim().is_empty() {
            if !line.starts_with(' ') {
                current = None;
            }
        } else if let Some(g) = &current {
            let item = line.trim();
            if !item.starts_with('#') {
                groups.get_mut(g).unwrap().push(item.to_string());
            }
        }
    }
    fn expand(
        name: &str,
        groups: &std::collections::BTreeMap<String, Vec<String>>,
        out: &mut BTreeSet<String>,
    ) {
        if name.starts_with('@') {
            for m in groups
                .get(name)
                .unwrap_or_else(|| panic!("unknown group {name}"))
            {
                expand(m, groups, out);
            }
        } else {
            out.insert(name.to_string());
        }
    }
    let mut allowed = BTreeSet::new();
    let filters = unit_values(entries, "SystemCallFilter");
    assert!(!filters.is_empty(), "no SystemCallFilter=");
    assert!(
        !filters[0].starts_with('~'),
        "the first filter is an allow list"
    );
    for f in filters {
        let (deny, list) = match f.strip_prefix('~') {
            Some(rest) => (true, rest),
            None => (false, f),
        };
        let mut set = BTreeSet::new();
        for item in list.split_whitespace() {
            expand(item, &groups, &mut set);
        }
        if deny {
            allowed.retain(|c| !set.contains(c));
        } else {
            allowed.extend(set);
        }
    }
    allowed
}

/// Fails naming what `trace` did outside the unit's filters.
pub fn assert_within_filters(unit: &str, trace: &Trace) {
    let entries = unit_entries(&read(unit));
    let allowed = allowed_syscalls(&entries);
    let outside: Vec<&String> = trace.syscalls.difference(&allowed).collect();
    assert!(
        outside.is_empty(),
        "{unit}: system calls its SystemCallFilter= would kill the service for: {outside:?} \
         (all it made: {:?})",
        trace.syscalls
    );
    let families: BTreeSet<String> = unit_values(&entries, "RestrictAddressFamilies")
        .iter()
        .flat_map(|v| v.split_whitespace().map(str::to_string))
        .collect();
    let outside: Vec<&String> = trace.families.difference(&families).collect();
    assert!(
        outside.is_empty(),
        "{unit}: socket families RestrictAddressFamilies= refuses: {outside:?}"
    );
    assert!(
        trace.syscalls.len() > 20 && trace.families.contains("AF_NETLINK"),
        "{unit}: the trace looks empty: {:?}",
        trace.syscalls
    );
}

/// The child processes of `pid` (its main thread's).
pub fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Words of a shell-like line: whitespace-separated, `'…'` and `"…"` quoting (no escapes).
pub fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut quote, mut any) = (None, false);
    for c in line.chars() {
        match (quote, c) {
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (_, c) => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

/// Writes `text` to `path` (creating it), panicking with the path on failure.
pub fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// A scratch directory anyone may enter and write (for a test's unprivileged users).
pub fn open_tempdir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    dir
}

/// Spawns `cmd` with stdout piped and stderr to a file in `dir` (read back with `log`).
pub fn spawn_logged(mut cmd: Command, dir: &Path, name: &str) -> Reaped {
    let log = dir.join(format!("{name}.log"));
    cmd.stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap());
    Reaped(
        cmd.spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}")),
    )
}

/// What `spawn_logged` collected on stderr so far.
pub fn log(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default()
}
