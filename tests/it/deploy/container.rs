//! The Dockerfile and the README's `docker run` lines. Docker cannot run here (no daemon, no
//! registry), so: hadolint on the Dockerfile; the dependency layer's step run in a scratch
//! directory holding only Cargo.toml and Cargo.lock; and the image's command and each README
//! line run as the container would run them — the binary as the image's USER (or the line's
//! --user), with the capabilities Docker would leave it (none for a non-root user, whatever
//! --cap-add says; for root, exactly the --cap-add list after --cap-drop ALL), in a namespace
//! standing for the host's.

use std::os::fd::OwnedFd;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{
    as_user, bin, first_sample_line, open_tempdir, read, repo, signal, silent_success,
    spawn_logged, venv, wait_for, words, write,
};
use crate::netns::{Pool, park_netns, with_netns};
use crate::util::run;

/// The Dockerfile's instructions, continuation lines joined, comments out: (KEYWORD, rest).
fn instructions(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        let t = line.trim();
        if cur.is_empty() && (t.is_empty() || t.starts_with('#')) {
            continue;
        }
        match t.strip_suffix('\\') {
            Some(part) => {
                cur.push_str(part);
                cur.push(' ');
            }
            None => {
                cur.push_str(t);
                let (k, rest) = cur.split_once(' ').unwrap_or((&cur, ""));
                out.push((k.to_uppercase(), rest.trim().to_string()));
                cur.clear();
            }
        }
    }
    out
}

fn dockerfile() -> Vec<(String, String)> {
    instructions(&read("Dockerfile"))
}

fn one<'a>(ins: &'a [(String, String)], key: &str) -> &'a str {
    let found: Vec<&str> = ins
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(found.len(), 1, "one {key}");
    found[0]
}

/// The image's USER, numeric.
fn image_uid() -> u32 {
    let user = one(&dockerfile(), "USER").to_string();
    let (uid, gid) = user.split_once(':').expect("USER uid:gid");
    assert_eq!(uid, gid);
    let uid: u32 = uid.parse().expect("a numeric USER");
    assert_ne!(uid, 0, "the image runs as an unprivileged user");
    uid
}

fn hadolint(path: &std::path::Path) -> Command {
    let mut cmd = Command::new(venv("hadolint"));
    cmd.arg("--no-color").arg(path);
    cmd
}

#[test]
fn the_dockerfile_is_lint_clean() {
    silent_success(hadolint(&repo().join("Dockerfile")));
    // hadolint must not pass everything: an image that ends as root is refused.
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("Dockerfile");
    write(&broken, &format!("{}USER root\n", read("Dockerfile")));
    let r = run(hadolint(&broken));
    assert!(
        r.code() != Some(0) && r.stdout().contains("DL3002"),
        "{}",
        r.describe()
    );
}

/// The build image is the exact toolchain the repository builds with (not a moving tag), the
/// runtime the same Debian release; EXPOSE is serve's default port; the layers put the
/// dependencies before the sources.
#[test]
fn the_dockerfile_pins_its_build_image_and_exposes_serve() {
    let ins = dockerfile();
    let froms: Vec<&str> = ins
        .iter()
        .filter(|(k, _)| k == "FROM")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(froms.len(), 2, "{froms:?}");
    let rustc = run({
        let mut c = Command::new("rustc");
        c.arg("--version");
        c
    });
    rustc.expect_code(0);
    let version = rustc
        .stdout()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    let build = froms[0].strip_suffix(" AS build").expect("FROM … AS build");
    let tag = build.strip_prefix("rust:").expect("the rust image");
    let (v, flavour) = tag.split_once('-').expect("rust:VERSION-FLAVOUR");
    assert_eq!(
        v, version,
        "the build image's toolchain is the one the tests were built with"
    );
    let codename = flavour.rsplit('-').next().unwrap();
    assert_eq!(
        froms[1],
        format!("debian:{codename}-slim"),
        "the runtime is the same Debian release"
    );
    // EXPOSE: the port `serve` listens on by default.
    let mut cmd = Command::new(bin());
    cmd.args(["serve", "--help"]);
    let help = run(cmd).stdout();
    let port = help
        .split("[default: 127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split(']').next())
        .expect("serve's default --listen");
    assert_eq!(one(&ins, "EXPOSE"), port);
    // Dependencies first: the manifest, a build, then the sources and the real build.
    let pos = |pred: &dyn Fn(&(String, String)) -> bool| ins.iter().position(pred).unwrap();
    let manifest = pos(&|(k, v)| k == "COPY" && v == "Cargo.toml Cargo.lock ./");
    let deps = pos(&|(k, v)| k == "RUN" && v.contains("cargo build"));
    let src = pos(&|(k, v)| k == "COPY" && v == "src ./src");
    let last = ins
        .iter()
        .rposition(|(k, v)| k == "RUN" && v.contains("cargo build"))
        .unwrap();
    assert!(manifest < deps && deps < src && src < last, "{ins:#?}");
    image_uid();
    let entry: Vec<String> = serde_json::from_str(one(&ins, "ENTRYPOINT")).unwrap();
    assert!(
        ins.iter()
            .any(|(k, v)| k == "COPY" && v.ends_with(&format!(" {}", entry[0])))
    );
}

/// The dependency layer's RUN, in a directory holding only what the Dockerfile copied before it
/// (Cargo.toml, Cargo.lock), with its `cargo build --release` swapped for a `cargo check` of
/// the same target (a release LTO build would take minutes): the stand-in sources it writes
/// make a package cargo builds, one for every target Cargo.toml names.
#[test]
fn the_dependency_layer_builds_from_the_manifest_alone() {
    let ins = dockerfile();
    let run_deps = ins
        .iter()
        .find(|(k, v)| k == "RUN" && v.contains("cargo build"))
        .map(|(_, v)| v.clone())
        .unwrap();
    let build = "cargo build --release --locked --bin conntrend";
    assert!(run_deps.contains(build), "{run_deps}");
    let dir = tempfile::tempdir().unwrap();
    for f in ["Cargo.toml", "Cargo.lock"] {
        std::fs::copy(repo().join(f), dir.path().join(f)).unwrap();
    }
    // Stop before the clean-up so the stand-ins can be looked at; then run the clean-up too.
    let (before, cleanup) = run_deps.split_once(build).unwrap();
    let mut cmd = Command::new("sh");
    cmd.arg("-ec")
        .arg(format!(
            "{before} cargo check --offline --locked --bin conntrend"
        ))
        .current_dir(dir.path())
        .env("CARGO_TARGET_DIR", repo().join("target/deploy-dockerfile"));
    let r = run(cmd);
    r.expect_code(0);
    let manifest = read("Cargo.toml");
    let benches: Vec<&str> = manifest
        .split("[[bench]]")
        .skip(1)
        .map(|s| {
            s.split("name = \"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
        })
        .collect();
    assert!(benches.len() >= 4, "{benches:?}");
    for b in &benches {
        let stand_in = dir.path().join(format!("benches/{b}.rs"));
        assert!(stand_in.exists(), "no stand-in for bench {b}");
    }
    let mut cmd = Command::new("sh");
    cmd.arg("-ec")
        .arg(format!("true {cleanup}"))
        .current_dir(dir.path());
    run(cmd).expect_code(0);
    assert!(!dir.path().join("src").exists() && !dir.path().join("benches").exists());
    // What the later COPY lines bring is all the manifest needs beyond that.
    let copies: Vec<&str> = ins
        .iter()
        .filter(|(k, _)| k == "COPY")
        .map(|(_, v)| v.as_str())
        .collect();
    assert!(
        copies.contains(&"src ./src") && copies.contains(&"benches ./benches"),
        "{copies:?}"
    );
}

/// `docker run conntrend` with nothing after the image: the ENTRYPOINT and CMD as the image's
/// USER, no capability: samples, and ends with 0 on SIGTERM (`docker stop`).
#[test]
fn the_image_s_default_command_runs_as_its_user() {
    let ins = dockerfile();
    let mut argv: Vec<String> = serde_json::from_str(one(&ins, "ENTRYPOINT")).unwrap();
    let cmd: Vec<String> = serde_json::from_str(one(&ins, "CMD")).unwrap();
    argv[0] = bin().to_string();
    argv.extend(cmd);
    with_netns(move |_ns| {
        let dir = open_tempdir();
        let mut child = spawn_logged(as_user(image_uid(), &[], false, &argv), dir.path(), "cmd");
        let line = first_sample_line(&mut child.0);
        assert_eq!(line.split(',').count(), 12, "{line}");
        signal(child.0.id(), libc::SIGTERM);
        assert_eq!(
            wait_for(&mut child.0, Duration::from_secs(10)),
            Some(0),
            "{}",
            super::log(dir.path(), "cmd")
        );
    });
}

/// Docker's default capabilities for a root container (what --cap-drop ALL removes).
const DOCKER_DEFAULT: [&str; 14] = [
    "chown",
    "dac_override",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
    "setpcap",
    "net_bind_service",
    "net_raw",
    "sys_chroot",
    "mknod",
    "audit_write",
    "setfcap",
];

/// A README `docker run` line, as the container's process would be started.
struct DockerRun {
    line: String,
    uid: u32,
    caps: Vec<String>,
    network_host: bool,
    pid_host: bool,
    args: Vec<String>,
}

impl DockerRun {
    fn parse(line: &str) -> DockerRun {
        let w = words(line);
        assert_eq!(w[..2], ["docker", "run"], "{line}");
        let (mut uid, mut caps, mut network_host, mut pid_host) = (
            image_uid(),
            DOCKER_DEFAULT.map(String::from).to_vec(),
            false,
            false,
        );
        let mut i = 2;
        while i < w.len() && w[i].starts_with('-') {
            let value = w.get(i + 1).cloned().unwrap_or_default();
            match w[i].as_str() {
                "--rm" | "-d" | "-it" => i += 1,
                "--name" | "-v" | "-p" | "--security-opt" => i += 2,
                "--user" => {
                    uid = value
                        .split(':')
                        .next()
                        .unwrap()
                        .parse()
                        .expect("a numeric --user");
                    i += 2;
                }
                "--cap-drop" => {
                    assert_eq!(value, "ALL", "{line}");
                    caps.clear();
                    i += 2;
                }
                "--cap-add" => {
                    caps.push(value.to_lowercase());
                    i += 2;
                }
                "--network" => {
                    network_host = value == "host";
                    i += 2;
                }
                "--pid" => {
                    pid_host = value == "host";
                    i += 2;
                }
                other => panic!("{line}: a flag this test does not know: {other}"),
            }
        }
        assert_eq!(w[i], "conntrend", "{line}: the image");
        if uid != 0 {
            caps.clear(); // a non-root user keeps none across exec
        }
        DockerRun {
            line: line.to_string(),
            uid,
            caps,
            network_host,
            pid_host,
            args: w[i + 1..].to_vec(),
        }
    }

    fn command(&self, args: &[String]) -> Command {
        let mut argv = vec![bin().to_string()];
        argv.extend(args.iter().cloned());
        let caps: Vec<&str> = self.caps.iter().map(String::as_str).collect();
        as_user(self.uid, &caps, false, &argv)
    }

    /// The same line without its --cap-add flags.
    fn without_caps(&self) -> DockerRun {
        DockerRun {
            line: format!("{} (without --cap-add)", self.line),
            uid: self.uid,
            caps: Vec::new(),
            network_host: self.network_host,
            pid_host: self.pid_host,
            args: self.args.clone(),
        }
    }
}

/// The `docker run` lines of the containers page (docs/containers.md, linked from the README).
fn readme_lines() -> Vec<DockerRun> {
    let page = read("docs/containers.md");
    page.lines()
        .filter(|l| l.starts_with("docker run "))
        .map(DockerRun::parse)
        .collect()
}

fn pick<'a>(
    lines: &'a [DockerRun],
    what: &str,
    pred: impl Fn(&DockerRun) -> bool,
) -> &'a DockerRun {
    let found: Vec<&DockerRun> = lines.iter().filter(|l| pred(l)).collect();
    assert_eq!(found.len(), 1, "one README docker run line for {what}");
    found[0]
}

#[test]
fn the_readme_s_serve_and_timeline_lines_run_unprivileged() {
    let lines = readme_lines();
    let serve = pick(&lines, "serve", |l| {
        l.args.first().is_some_and(|a| a == "serve")
    });
    let timeline = pick(&lines, "the timeline", |l| {
        l.args.first().is_some_and(|a| a == "-i")
    });
    for l in [serve, timeline] {
        assert!(
            l.network_host,
            "{}: the host's sockets need --network host",
            l.line
        );
        assert!(l.uid != 0 && l.caps.is_empty(), "{}: no privilege", l.line);
    }
    let listen = serve.args.iter().position(|a| a == "--listen").unwrap();
    let port: u16 = serve.args[listen + 1]
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let serve_cmd = serve.command(&serve.args);
    let timeline_cmd = timeline.command(&timeline.args);
    with_netns(move |_ns| {
        let dir = open_tempdir();
        let mut child = spawn_logged(serve_cmd, dir.path(), "serve");
        let (status, body) = super::get(port, "/metrics");
        assert_eq!(status, 200, "{body}\n{}", super::log(dir.path(), "serve"));
        assert!(
            body.contains("conntrend_conntrack_entries ")
                && body.contains("conntrend_pool_free_ports ")
        );
        signal(child.0.id(), libc::SIGTERM);
        assert_eq!(wait_for(&mut child.0, Duration::from_secs(10)), Some(0));
        let mut child = spawn_logged(timeline_cmd, dir.path(), "timeline");
        assert_eq!(first_sample_line(&mut child.0).split(',').count(), 12);
        signal(child.0.id(), libc::SIGTERM);
        assert_eq!(wait_for(&mut child.0, Duration::from_secs(10)), Some(0));
    });
}

/// A process of another user (uid 10002, `sleep`) holds a pool port. `top` as the README runs
/// it names that process; without the line's capabilities it can only say "(not visible)".
#[test]
fn the_readme_s_top_line_sees_other_users_processes_with_its_capabilities() {
    let lines = readme_lines();
    let top = pick(&lines, "top", |l| {
        l.args.first().is_some_and(|a| a == "top")
    });
    assert!(
        top.network_host && top.pid_host,
        "{}: top needs --network host and --pid host",
        top.line
    );
    let (with, without) = (
        top.command(&top.args),
        top.without_caps().command(&top.args),
    );
    with_netns(move |_ns| {
        let server = std::net::TcpListener::bind("127.0.0.1:45000").unwrap();
        let client = std::net::TcpStream::connect("127.0.0.1:45000").unwrap();
        let _accepted = server.accept().unwrap();
        let mut sleep = as_user(
            10002,
            &[],
            false,
            &["/bin/sleep".to_string(), "30".to_string()],
        );
        sleep.stdin(Stdio::from(OwnedFd::from(client)));
        let _holder = super::Reaped(sleep.spawn().unwrap());
        std::thread::sleep(Duration::from_millis(200));
        let r = run(with);
        r.expect_code(0);
        let seen = r
            .stdout()
            .lines()
            .any(|l| l.contains(" sleep 30 ") && l.contains("10002"));
        assert!(
            seen && !r.stdout().contains("(not visible)"),
            "{}",
            r.describe()
        );
        let r = run(without);
        r.expect_code(0);
        assert!(
            r.stdout().contains("(not visible)") && !r.stdout().contains("sleep 30"),
            "{}",
            r.describe()
        );
    });
}

/// `--pid PID` from a container: the namespace of a process of the host (here one in a parked
/// namespace with a 1,000-port pool) is sampled with SYS_ADMIN and SYS_PTRACE; without them the
/// run fails and says what it needs.
#[test]
fn the_readme_s_pid_line_samples_another_namespace_with_its_capabilities() {
    let lines = readme_lines();
    let line = pick(&lines, "--pid", |l| l.args.iter().any(|a| a == "--pid"));
    assert!(
        line.pid_host,
        "{}: --pid needs the host's pids (--pid host)",
        line.line
    );
    let parked = park_netns(|ns, park| {
        Pool::new(41000, 41999, "").apply(ns);
        let sleep = as_user(
            10002,
            &[],
            false,
            &["/bin/sleep".to_string(), "60".to_string()],
        );
        let mut sleep = sleep;
        let child = super::Reaped(sleep.spawn().unwrap());
        park(child.0.id());
    });
    let pid = parked.info.to_string();
    let placeholder = line.args.iter().position(|a| a == "--pid").unwrap() + 1;
    let mut args = line.args.clone();
    args[placeholder] = pid;
    let (with, without) = (line.command(&args), line.without_caps().command(&args));
    with_netns(move |_ns| {
        let dir = open_tempdir();
        let mut child = spawn_logged(with, dir.path(), "pid");
        let sample = first_sample_line(&mut child.0);
        assert_eq!(sample.split(',').nth(1), Some("1000"), "{sample}");
        signal(child.0.id(), libc::SIGTERM);
        assert_eq!(wait_for(&mut child.0, Duration::from_secs(10)), Some(0));
        let mut cmd = without;
        cmd.stdout(Stdio::piped());
        let r = run(cmd);
        r.expect_code(1);
        assert!(r.stderr().contains("CAP_SYS_ADMIN"), "{}", r.describe());
    });
    drop(parked);
}

/// `conntrack` (ctnetlink) from a container: the entries with NET_ADMIN; without it, exit 1
/// and a line naming CAP_NET_ADMIN.
#[test]
fn the_readme_s_conntrack_line_lists_entries_with_net_admin() {
    let lines = readme_lines();
    let line = pick(&lines, "conntrack", |l| {
        l.args.first().is_some_and(|a| a == "conntrack")
    });
    assert!(line.network_host, "{}", line.line);
    let (with, without) = (
        line.command(&line.args),
        line.without_caps().command(&line.args),
    );
    with_netns(move |ns| {
        ns.nft(
            "table inet tracking {\n chain out {\n type filter hook output priority 0;\n \
             ct state new accept\n }\n}\n",
        );
        let server = std::net::TcpListener::bind("127.0.0.1:45000").unwrap();
        let _client = std::net::TcpStream::connect("127.0.0.1:45000").unwrap();
        let _accepted = server.accept().unwrap();
        let r = run(with);
        r.expect_code(0);
        let row = |l: &str| l.to_lowercase().contains("tcp") && l.contains("45000");
        assert!(r.stdout().lines().any(row), "{}", r.describe());
        let r = run(without);
        r.expect_code(1);
        assert!(r.stderr().contains("CAP_NET_ADMIN"), "{}", r.describe());
    });
}
