//! Every command block the docs mark as a recipe (```` ```sh recipe ````) is run as written, in a
//! private network namespace with a small load, so a recipe cannot rot: `conntrend` is the binary
//! under test, `awk` is Debian's mawk (which buffers a pipe unless told not to), `sudo` runs its
//! arguments (the tests run as root), and `/var/tmp` is a private tmpfs. The docs are the README
//! and every page of docs/.
//!
//! A block marked `recipe` must end by itself within [`FINITE`] with status 0 and print something;
//! one marked `recipe stream` runs until interrupted, so it must print something within
//! [`FIRST_LINE`] (a recipe that buffers prints nothing: that is the failure this catches), and
//! is then stopped.
//!
//! The same runner runs every other command the docs show ([`shown`]) and every example `--help`
//! shows ([`help`]), with the [`stand_ins`] they name.

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::netns::mix::Mix;
use crate::netns::{NetNs, Pool, with_netns};

mod help;
mod shown;

/// How long a finite recipe may take.
const FINITE: Duration = Duration::from_secs(30);
/// How long a streaming recipe may take to print its first line.
const FIRST_LINE: Duration = Duration::from_secs(12);

/// The documents whose commands are run: the README and every page of docs/, as paths from the
/// repository's root.
fn docs() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages: Vec<String> = fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("docs/{n}"))
        .collect();
    pages.sort();
    pages.insert(0, "README.md".into());
    pages
}

/// A recipe as the docs show it.
#[derive(Debug, Clone)]
struct Recipe {
    /// `README.md:123`: where its block starts.
    at: String,
    script: String,
    stream: bool,
    /// How long a stream may stay silent before it is stopped.
    wait: Duration,
}

/// The blocks fenced with ```` ```sh recipe ```` (or `recipe stream`) in `text`.
fn recipes(name: &str, text: &str) -> Vec<Recipe> {
    let mut found = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((n, line)) = lines.next() {
        let Some(info) = line.strip_prefix("```sh ") else {
            continue;
        };
        let words: Vec<&str> = info.split_whitespace().collect();
        if words.first() != Some(&"recipe") {
            continue;
        }
        let script: Vec<&str> = lines
            .by_ref()
            .map(|(_, l)| l)
            .take_while(|l| !l.starts_with("```"))
            .collect();
        found.push(Recipe {
            at: format!("{name}:{}", n + 1),
            script: script.join("\n") + "\n",
            stream: words.contains(&"stream"),
            wait: FIRST_LINE,
        });
    }
    found
}

/// A directory of shims put first on PATH: the binary under test, mawk as `awk`, and `sudo`.
fn shims() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let link = |target: &str, name: &str| {
        std::os::unix::fs::symlink(target, dir.path().join(name)).unwrap();
    };
    link(env!("CARGO_BIN_EXE_conntrend"), "conntrend");
    let mawk = ["/usr/bin/mawk", "/bin/mawk"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("mawk must be installed (.ci/deps installs it): the recipes are run under it");
    link(mawk, "awk");
    let sudo = dir.path().join("sudo");
    fs::write(&sudo, "#!/bin/sh\nexec \"$@\"\n").unwrap();
    fs::set_permissions(&sudo, fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// What one recipe did.
struct Ran {
    stdout: String,
    stderr: String,
    /// `None`: stopped by us (a stream), or killed for taking too long.
    status: Option<i32>,
    /// A finite recipe that did not end in time.
    overran: bool,
}

/// Runs `recipe` with `bin` first on PATH, in the calling thread's network namespace, its own
/// mount namespace (a tmpfs on /var/tmp) and its own process group.
fn run(recipe: &Recipe, bin: &Path) -> Ran {
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "--"])
        .args([
            "sh",
            "-c",
            "mount -t tmpfs tmpfs /var/tmp && exec bash -c \"$0\"",
        ])
        .arg(&recipe.script)
        .env("PATH", path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn().expect("unshare (util-linux) runs the recipes");
    let pgid = child.id() as libc::pid_t;
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    // Read both as they come, so a stream is stopped as soon as it has spoken (on either).
    let (tx, rx) = std::sync::mpsc::channel();
    let err_tx = tx.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut all = Vec::new();
        while let Ok(n) = err.read(&mut buf) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
            let _ = err_tx.send(());
        }
        String::from_utf8_lossy(&all).into_owned()
    });
    let stdout_reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut all = Vec::new();
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
            let _ = tx.send(());
        }
        String::from_utf8_lossy(&all).into_owned()
    });
    let start = Instant::now();
    let limit = if recipe.stream { recipe.wait } else { FINITE };
    let mut overran = false;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            // What it left running in the background (a `&` job) still holds the output open.
            // SAFETY: kill(2) on the process group we made.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
            break s.code();
        }
        let spoke = rx.try_recv().is_ok();
        if (recipe.stream && spoke) || start.elapsed() > limit {
            if recipe.stream && spoke {
                // Let the line's neighbours arrive, then stop it as a person would (Ctrl-C).
                std::thread::sleep(Duration::from_millis(300));
            } else {
                overran = !recipe.stream;
            }
            // SAFETY: kill(2) on the process group we made.
            unsafe { libc::kill(-pgid, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(5);
            while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ran {
        stdout: stdout_reader.join().unwrap(),
        stderr: reader.join().unwrap(),
        status,
        overran,
    }
}

/// A small load: a 1000-port range (so `free < 1000`), connections in several states, a UDP
/// socket and 120 CLOSE_WAIT sockets held by this process.
fn load(ns: &NetNs) -> Mix<'_> {
    Pool::new(40000, 40999, "").apply(ns);
    let mut mix = Mix::new(ns);
    mix.listen(false, 5000).listen(true, 5001);
    for p in 0..5 {
        mix.estab(false, 40010 + p, 5000)
            .estab(true, 40020 + p, 5001);
        mix.time_wait(false, 40030 + p, 5000);
    }
    for p in 0..120 {
        mix.fin_wait2(false, 40100 + p, 5000);
    }
    mix.udp(false, 40500, None, false);
    mix.settle();
    mix
}

/// Runs `all` in one namespace with [`load`] (and, with `tracking`, connection tracking on), and
/// gives what went wrong, one message each.
fn run_all(all: Vec<Recipe>, tracking: bool, must_print: bool) -> Vec<String> {
    with_netns(move |ns| {
        let _mix = load(ns);
        if tracking {
            ns.nft(
                "table inet tracking {\n chain out {\n type filter hook output priority 0;\n \
                 ct state new accept\n }\n}\n",
            );
        }
        let bin = shims();
        all.iter()
            .flat_map(|recipe| troubles(recipe, &run(recipe, bin.path()), must_print))
            .collect()
    })
}

/// What went wrong with a run of `recipe`. `must_print`: a recipe of the docs must show something;
/// a `--help` example (which may write a file instead) must only not fail.
fn troubles(recipe: &Recipe, ran: &Ran, must_print: bool) -> Vec<String> {
    let silent = ran.stdout.trim().is_empty() && ran.stderr.trim().is_empty();
    let checks = [
        (ran.overran, "did not end in time"),
        (!recipe.stream && ran.status != Some(0), "did not exit 0"),
        (
            !must_print && recipe.stream && ran.status.is_some_and(|s| s != 0),
            "failed",
        ),
        (must_print && silent, "printed nothing"),
        (
            ran.stderr.contains("command not found"),
            "names a missing command",
        ),
        (ran.stderr.contains("error:"), "reported an error"),
    ];
    // A --help example's script starts with its stand-ins: not worth repeating.
    let script = if must_print {
        recipe.script.as_str()
    } else {
        ""
    };
    checks
        .iter()
        .filter(|(bad, _)| *bad)
        .map(|(_, what)| {
            format!(
                "{} {what} (status {:?})\n{script}--- stdout ---\n{}--- stderr ---\n{}",
                recipe.at, ran.status, ran.stdout, ran.stderr
            )
        })
        .collect()
}

#[test]
fn every_recipe_in_the_docs_runs_and_prints() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let all: Vec<Recipe> = docs()
        .iter()
        .flat_map(|d| recipes(d, &fs::read_to_string(root.join(d)).unwrap()))
        .collect();
    assert!(all.len() >= 10, "only {} recipes found", all.len());
    let failures = run_all(all, false, true);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn recipe_blocks_are_found_with_their_kind() {
    let text = "x\n```sh recipe\nconntrend -c 1\n```\n```sh\nnot a recipe\n```\n\
                ```sh recipe stream\nconntrend -i 1 -d 0 | cat\nsecond\n```\n";
    let found = recipes("doc.md", text);
    assert_eq!(found.len(), 2);
    assert_eq!((found[0].at.as_str(), found[0].stream), ("doc.md:2", false));
    assert_eq!(found[0].script, "conntrend -c 1\n");
    assert_eq!(found[1].script, "conntrend -i 1 -d 0 | cat\nsecond\n");
    assert!(found[1].stream);
}

/// The rule the recipes test enforces, on mawk itself: a pipe into plain `awk` prints nothing
/// for a long time, `awk -W interactive` at once.
#[test]
fn mawk_buffers_a_pipe_unless_interactive() {
    let bin = shims();
    let once = |awk: &str| {
        let recipe = Recipe {
            at: "here".into(),
            script: format!(
                "while :; do echo row; sleep 0.2; done | {awk} '{{ print; fflush() }}'\n"
            ),
            stream: true,
            wait: FIRST_LINE,
        };
        run(&recipe, bin.path()).stdout
    };
    assert!(
        once("awk").is_empty(),
        "mawk printed at once: the premise is wrong"
    );
    assert!(once("awk -W interactive").starts_with("row"));
}

/// The stand-ins an example of `--help` or a command the docs show needs beyond the load: its
/// files (a capture, a saved /proc, a log `ports.csv`, the repository's `deploy/`), a namespace
/// `blue` with a process in it (`$web`, a container's pid), a window `$from`..`$to` around the
/// log's samples, `page-someone`, traffic on loopback, and a `make` that runs the Makefile's own
/// recipes with the binary under test into a DESTDIR of its own (as tests/it/generate.rs does).
/// Written into the command's script before it, in its own directory.
fn stand_ins() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    format!(
        "set -e\n\
         cd \"$(mktemp -d)\"\n\
         mkdir -p /run/netns && mount -t tmpfs tmpfs /run/netns && ip netns add blue\n\
         ip netns exec blue sleep 300 &\n\
         web=$!\n\
         cp {f}/rtt/v4.pcap capture.pcap\n\
         cp {f}/rtt/both.pcapng capture.pcapng\n\
         mkdir sos && cp -r {f}/network-connections/6.8.0-45-generic sos/proc\n\
         ln -s {r}/deploy deploy\n\
         mkdir bin destdir\n\
         printf '#!/bin/sh\\nexec %s -s -C {r} -o build BIN=%s DESTDIR=%s \"$@\"\\n' \
         \"$(command -v make)\" \"$(command -v conntrend)\" \"$PWD/destdir\" >bin/make\n\
         chmod +x bin/make\n\
         PATH=$PWD/bin:$PATH\n\
         conntrend --dst -i 1 -c 2 -o ports.csv\n\
         from=$(date -u -d '-1 min' +%FT%TZ) to=$(date -u -d '+1 min' +%FT%TZ)\n\
         page-someone() {{ echo \"paged: $*\"; }}\n\
         (for i in $(seq 300); do exec 3<>/dev/tcp/127.0.0.1/5000 && echo x >&3 && exec 3>&-; \
         sleep 0.05; done) >/dev/null 2>&1 &\n\
         set +e\n",
        f = root.join("tests/fixtures").display(),
        r = root.display(),
    )
}

/// Whether `command` runs until interrupted: a stream (`-d 0`), a server, a live capture, or a
/// refreshing report (`-i` without `-c` or `-d`).
fn until_interrupted(command: &str) -> bool {
    command.contains("-d 0")
        || command.contains("serve")
        || command.contains(" -i lo")
        || (command.contains(" -i ") && !command.contains(" -c ") && !command.contains(" -d "))
}
