//! Installing like a real CLI: every command has a man page that renders without warnings and
//! every page a page names exists, bash completes the flags and the values clap cannot know, and
//! `make install` puts the binary, every page and the completions where they belong.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::netns::with_netns;
use crate::util::{conntrend, run};

fn generated(kind: &str) -> String {
    let r = run({
        let mut c = conntrend();
        c.args(["--generate", kind]);
        c
    });
    r.expect_code(0);
    assert!(r.output.stderr.is_empty(), "{}", r.describe());
    r.stdout()
}

/// Every `--generate` value, as the binary lists them when given a wrong one.
fn kinds() -> Vec<String> {
    let r = run({
        let mut c = conntrend();
        c.args(["--generate", "nonsense"]);
        c
    });
    r.expect_code(2);
    let err = r.stderr();
    let list = err
        .split_once("[possible values: ")
        .and_then(|(_, rest)| rest.split_once(']'))
        .unwrap_or_else(|| panic!("no value list\n{}", r.describe()))
        .0;
    list.split(", ").map(str::to_string).collect()
}

/// Every man page, by the name its title gives it (`conntrend-conntrack-show`).
fn pages() -> BTreeMap<String, String> {
    kinds()
        .iter()
        .filter(|k| k.starts_with("man"))
        .map(|k| {
            let page = generated(k);
            let name = page
                .lines()
                .find_map(|l| l.strip_prefix(".TH "))
                .and_then(|t| t.split_whitespace().next())
                .unwrap_or_else(|| panic!("{k}: no .TH"))
                .to_string();
            (name, page)
        })
        .collect()
}

/// Renders a roff page with every warning on; the rendered text.
fn render(page: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("page.1");
    std::fs::write(&path, page).unwrap();
    let out = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww"])
        .arg(&path)
        .output()
        .expect("groff (groff-base; make test installs it)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.is_empty(), "groff: {stderr}");
    man_l(&path, 80)
}

/// `man -l FILE` at `width` columns, with every warning on; the text.
fn man_l(path: &Path, width: u32) -> String {
    let man = Command::new("man")
        .env("MANWIDTH", width.to_string())
        .args(["--warnings", "-l"])
        .arg(path)
        .output()
        .expect("man (man-db; make test installs it)");
    let stderr = String::from_utf8_lossy(&man.stderr);
    assert!(
        man.status.success() && stderr.is_empty(),
        "man -l {}: {stderr}",
        path.display()
    );
    String::from_utf8_lossy(&man.stdout).into_owned()
}

/// The page `kind` renders without warnings and its text holds every one of `wants`.
fn page_shows(kind: &str, wants: &[&str]) {
    let text = render(&generated(kind));
    for want in wants {
        assert!(text.contains(want), "{kind}: {want} missing from\n{text}");
    }
}

#[test]
fn man_pages_render_without_warnings() {
    page_shows(
        "man",
        &[
            "NAME",
            "SYNOPSIS",
            "--format",
            "--dst",
            "--generate",
            "conntrend-top(1)",
            "COLUMNS",
            "worst_dst_free (with --dst)",
            "FLAGS ACROSS MODES",
            "EXAMPLES",
            "EXIT STATUS",
            "--exit-on-alert:",
        ],
    );
    page_shows(
        "man-top",
        &[
            "conntrend-top",
            "--rows",
            "--sort",
            "close_wait",
            "EXAMPLES",
            "SEE ALSO",
        ],
    );
    page_shows(
        "man-states",
        &[
            "conntrend-states",
            "--all",
            "--pretty",
            "--proc-root",
            "EXAMPLES",
        ],
    );
    page_shows(
        "man-conns",
        &[
            "conntrend-conns",
            "--no-loopback",
            "--parsable",
            "retranssegs",
            "inunorderbytes",
            "EXAMPLES",
            "-o names the fields to print",
        ],
    );
    page_shows(
        "man-conntrack",
        &[
            "conntrend-conntrack",
            "flush",
            "stats",
            "early_drop",
            "EXAMPLES",
        ],
    );
    page_shows(
        "man-conntrack-events",
        &[
            "conntrend-conntrack-events",
            "--event-mask",
            "--buffer-size",
        ],
    );
    page_shows(
        "man-rtt",
        &[
            "conntrend-rtt",
            "--interface",
            "--max-flows",
            "seq_rtt",
            "EXAMPLES",
            "-i is the interface to capture on",
        ],
    );
    page_shows(
        "man-serve",
        &[
            "conntrend-serve",
            "--listen",
            "--min-interval",
            "9959",
            "EXAMPLES",
            "--exit-on-alert:",
        ],
    );
    page_shows(
        "man-plot",
        &["conntrend-plot", "--series", "--local", "EXAMPLES"],
    );
}

/// Every page a SUBCOMMANDS or SEE ALSO section names is one of the generated set, and man finds
/// it by that name (the conntrack page named conntrend-conntrack-show(1) and three more, which
/// were neither generated nor installed: "No manual entry").
#[test]
fn every_page_a_page_names_exists() {
    let dir = tempfile::tempdir().unwrap();
    let man1 = dir.path().join("man1");
    std::fs::create_dir(&man1).unwrap();
    let pages = pages();
    for (name, page) in &pages {
        std::fs::write(man1.join(format!("{name}.1")), page).unwrap();
    }
    let mut named = 0;
    for name in pages.keys() {
        // Wide enough that no name is broken across lines.
        let text = man_l(&man1.join(format!("{name}.1")), 300);
        let mut rest = text.as_str();
        while let Some(at) = rest.find("conntrend") {
            let tail = &rest[at..];
            let len = tail
                .find(|c: char| !(c.is_ascii_lowercase() || c == '-'))
                .unwrap_or(tail.len());
            rest = &tail[len..];
            if !rest.starts_with("(1)") || tail[..len] == *name {
                continue;
            }
            let target = &tail[..len];
            assert!(
                pages.contains_key(target),
                "{name} names {target}(1): not generated"
            );
            let found = Command::new("man")
                .arg("-M")
                .arg(dir.path())
                .args(["-w", target])
                .output()
                .unwrap();
            assert!(
                found.status.success(),
                "man cannot find {target}(1), named by {name}"
            );
            named += 1;
        }
        let see_also = text.split_once("SEE ALSO").map(|(_, s)| s);
        assert_eq!(see_also.is_some(), name != "conntrend", "{name}\n{text}");
    }
    // conntrend(1) names its 7 modes; conntrack(1) its 6 commands, config(1) its 2; the 15 other
    // pages name 1 to 3 pages each in SEE ALSO.
    assert!(named >= 7 + 6 + 2 + 15, "{named}");
}

/// What bash's completion offers at the end of `line`, with `script` sourced and readline's
/// word split as bash splits it (at = and :); `wrap` runs the bash program (a mount namespace).
fn bash_complete_in(
    script: &Path,
    line: &str,
    wrap: impl FnOnce(String) -> Command,
) -> Vec<String> {
    let mut words: Vec<&str> = line.split(' ').collect();
    if words.len() < 2 {
        words.push("");
    }
    let word = words[words.len() - 1];
    let readline_word = word.rsplit(['=', ':']).next().unwrap_or("");
    let program = format!(
        "source /usr/share/bash-completion/bash_completion; source {}; \
         COMP_WORDS=({line}); COMP_CWORD={}; COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}; \
         fn=$(complete -p conntrend | sed 's/.*-F \\([^ ]*\\) .*/\\1/'); \
         $fn conntrend '{readline_word}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        words.len() - 1,
        words[words.len() - 2],
    );
    let out = wrap(program).output().unwrap();
    assert!(
        out.status.success(),
        "{line}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

fn bash_script(dir: &Path) -> std::path::PathBuf {
    let script = dir.join("conntrend.bash");
    std::fs::write(&script, generated("complete-bash")).unwrap();
    script
}

fn bash(script: &Path, line: &str) -> Vec<String> {
    bash_complete_in(script, line, |program| {
        let mut c = Command::new("bash");
        c.args(["-c", &program]);
        c
    })
}

#[test]
fn bash_completes_long_flags() {
    let dir = tempfile::tempdir().unwrap();
    let script = bash_script(dir.path());
    assert_eq!(bash(&script, "conntrend --form"), ["--format"]);
    assert_eq!(bash(&script, "conntrend --fo"), ["--format", "--forecast"]);
    let formats = bash(&script, "conntrend --format ");
    assert!(formats.iter().any(|l| l == "json"), "{formats:?}");
    assert_eq!(bash(&script, "conntrend top --so"), ["--sort", "--source"]);
    assert_eq!(
        bash(&script, "conntrend states --pr"),
        ["--pretty", "--proc-root"]
    );
    assert_eq!(bash(&script, "conntrend --gen"), ["--generate"]);
}

/// `ct` is completed as `conntrack` (it offered the top level's flags).
#[test]
fn bash_completes_the_ct_alias_as_conntrack() {
    let dir = tempfile::tempdir().unwrap();
    let script = bash_script(dir.path());
    let ct = bash(&script, "conntrend ct ");
    assert_eq!(ct, bash(&script, "conntrend conntrack "));
    for want in [
        "show", "config", "delete", "events", "flush", "stats", "--proto",
    ] {
        assert!(ct.iter().any(|w| w == want), "{want}: {ct:?}");
    }
    assert!(
        !ct.iter().any(|w| w == "--interval-sec" || w == "top"),
        "{ct:?}"
    );
    assert_eq!(bash(&script, "conntrend ct show --pr"), ["--proto"]);
    assert_eq!(bash(&script, "conntrend ct config s"), ["show", "set"]);
}

/// `conns -o` and `-F` complete field names, element by element of a comma-separated list: the
/// fields `conns --help` lists (which src/cli's tests check against the code's table).
#[test]
fn bash_completes_conns_field_lists() {
    let dir = tempfile::tempdir().unwrap();
    let script = bash_script(dir.path());
    let help = run({
        let mut c = conntrend();
        c.args(["conns", "--help"]);
        c
    })
    .stdout();
    let fields: Vec<String> = help
        .split_once("Fields for -o")
        .and_then(|(_, rest)| rest.split_once(":\n"))
        .unwrap()
        .1
        .lines()
        .take_while(|l| !l.trim_start().starts_with("Units:"))
        .flat_map(str::split_whitespace)
        .map(str::to_string)
        .collect();
    assert!(fields.len() > 40, "{help}");
    let mut want = vec!["all".to_string()];
    want.extend(fields);
    assert_eq!(bash(&script, "conntrend conns -o "), want);
    assert_eq!(bash(&script, "conntrend conns --output "), want);
    assert_eq!(
        bash(&script, "conntrend conns -e -o laddr,rp"),
        ["laddr,rport"]
    );
    assert_eq!(
        bash(&script, "conntrend conns -F "),
        ["laddr=", "lport=", "raddr=", "rport=", "state="]
    );
    assert_eq!(
        bash(&script, "conntrend conns -F laddr=10.0.0.0/8,rp"),
        ["10.0.0.0/8,rport="]
    );
    // -o elsewhere is an output file.
    for line in ["conntrend -o ", "conntrend states -o "] {
        let got = bash(&script, line);
        assert!(!got.iter().any(|w| w == "laddr"), "{line}: {got:?}");
    }
}

/// `--netns` completes the names `ip netns list` shows (/run/netns), in every mode; a path is
/// still completed as a file.
#[test]
fn bash_completes_namespace_names() {
    let dir = tempfile::tempdir().unwrap();
    let script = bash_script(dir.path());
    // A private /run with two named namespaces' files.
    let in_ns = |line: &str| {
        bash_complete_in(&script, line, |program| {
            let mut c = Command::new("unshare");
            c.args(["--mount", "--propagation", "private", "sh", "-c"])
                .arg(
                    "mount -t tmpfs tmpfs /run && mkdir /run/netns && \
                     touch /run/netns/blue /run/netns/green && exec bash -c \"$0\"",
                )
                .arg(program);
            c
        })
    };
    assert_eq!(in_ns("conntrend --netns "), ["blue", "green"]);
    assert_eq!(in_ns("conntrend top --netns g"), ["green"]);
    assert_eq!(in_ns("conntrend ct show --netns b"), ["blue"]);
    assert_eq!(in_ns("conntrend rtt -r x --netns "), ["blue", "green"]);
    assert_eq!(in_ns("conntrend --netns /pro"), ["/proc"]);
}

/// `rtt -i` completes the namespace's interfaces; the other modes' -i is the interval.
#[test]
fn bash_completes_rtt_interfaces() {
    let dir = tempfile::tempdir().unwrap();
    let script = bash_script(dir.path());
    let got = with_netns(move |ns| {
        let add = "ip link add cltest0 type veth peer name cltest1";
        ns.stdout(&add.split(' ').collect::<Vec<_>>());
        [
            bash(&script, "conntrend rtt -i "),
            bash(&script, "conntrend rtt -r x --interface clt"),
            bash(&script, "conntrend -i "),
            bash(&script, "conntrend top -i "),
        ]
    });
    let sorted = |v: &Vec<String>| {
        let mut v = v.clone();
        v.sort();
        v
    };
    assert_eq!(sorted(&got[0]), ["cltest0", "cltest1", "lo"]);
    assert_eq!(sorted(&got[1]), ["cltest0", "cltest1"]);
    for other in &got[2..] {
        assert!(!other.iter().any(|w| w == "cltest0"), "{other:?}");
    }
}

#[test]
fn zsh_and_fish_scripts_know_the_flags() {
    for kind in ["complete-zsh", "complete-fish"] {
        let text = generated(kind);
        for want in [
            "format",
            "interval-sec",
            "netns",
            "conntrend_interfaces",
            "inunordersegs",
        ] {
            assert!(text.contains(want), "{kind}: {want}\n{text}");
        }
    }
}

#[test]
fn make_install_puts_everything_in_place() {
    let prefix = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The Makefile's own recipe, with the binary under test (`-o build`: not rebuilt here).
    let out = Command::new("make")
        .current_dir(root)
        .args(["-s", "-o", "build", "install"])
        .arg(format!("PREFIX={}", prefix.path().display()))
        .arg(format!("BIN={}", env!("CARGO_BIN_EXE_conntrend")))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for file in [
        "bin/conntrend",
        "share/bash-completion/completions/conntrend",
        "share/zsh/site-functions/_conntrend",
        "share/fish/vendor_completions.d/conntrend.fish",
    ] {
        let path = prefix.path().join(file);
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        assert!(len > 0, "{} missing or empty", path.display());
    }
    // Every page the binary generates is installed, as generated, and nothing else.
    let man1 = prefix.path().join("share/man/man1");
    let mut installed: Vec<String> = std::fs::read_dir(&man1)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    installed.sort();
    let pages = pages();
    let mut want: Vec<String> = pages.keys().map(|n| format!("{n}.1")).collect();
    want.sort();
    assert_eq!(installed, want);
    for (name, page) in &pages {
        let got = std::fs::read_to_string(man1.join(format!("{name}.1"))).unwrap();
        assert!(got == *page, "{name}.1 differs from --generate's");
    }
    let out = Command::new("make")
        .current_dir(root)
        .args(["-s", "uninstall"])
        .arg(format!("PREFIX={}", prefix.path().display()))
        .output()
        .unwrap();
    assert!(out.status.success());
    // uninstall removes every file install wrote.
    let left: Vec<_> = walk(prefix.path());
    assert!(left.is_empty(), "left after uninstall: {left:?}");
}

/// The files under `dir`, recursively.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
