//! Installing like a real CLI: the man pages render without warnings, bash completes the flags,
//! and `make install` puts the binary, the pages and the completions where they belong.

use std::path::Path;
use std::process::Command;

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
    let man = Command::new("man")
        .env("MANWIDTH", "80")
        .args(["--warnings", "-l"])
        .arg(&path)
        .output()
        .expect("man (man-db; make test installs it)");
    let stderr = String::from_utf8_lossy(&man.stderr);
    assert!(
        man.status.success() && stderr.is_empty(),
        "man -l: {stderr}"
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
            "conntrend-top(1)",
            "COLUMNS",
            "worst_dst_free (with --dst)",
            "EXAMPLES",
            "EXIT STATUS",
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
        "man-rtt",
        &[
            "conntrend-rtt",
            "--interface",
            "--max-flows",
            "seq_rtt",
            "EXAMPLES",
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
        ],
    );
    page_shows(
        "man-plot",
        &["conntrend-plot", "--series", "--local", "EXAMPLES"],
    );
}

#[test]
fn bash_completes_long_flags() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("conntrend.bash");
    std::fs::write(&script, generated("complete-bash")).unwrap();
    let complete = |line: &str| {
        let words: Vec<&str> = line.split(' ').collect();
        let program = format!(
            "source /usr/share/bash-completion/bash_completion; source {}; \
             COMP_WORDS=({line}); COMP_CWORD={}; COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}; \
             fn=$(complete -p conntrend | sed 's/.*-F \\([^ ]*\\) .*/\\1/'); \
             $fn conntrend '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display(),
            words.len() - 1,
            words[words.len() - 1],
            words[words.len() - 2],
        );
        let out = Command::new("bash")
            .args(["-c", &program])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(complete("conntrend --form").trim(), "--format");
    let fo = complete("conntrend --fo");
    assert_eq!(
        fo.split_whitespace().collect::<Vec<_>>(),
        ["--format", "--forecast"],
        "{fo}"
    );
    let formats = complete("conntrend --format ");
    assert!(formats.lines().any(|l| l == "json"), "{formats}");
    let top = complete("conntrend top --so");
    assert_eq!(
        top.split_whitespace().collect::<Vec<_>>(),
        ["--sort", "--source"],
        "{top}"
    );
    let states = complete("conntrend states --pr");
    assert_eq!(
        states.split_whitespace().collect::<Vec<_>>(),
        ["--pretty", "--proc-root"]
    );
}

#[test]
fn zsh_and_fish_scripts_know_the_flags() {
    for kind in ["complete-zsh", "complete-fish"] {
        let text = generated(kind);
        assert!(
            text.contains("format") && text.contains("interval-sec"),
            "{kind}:\n{text}"
        );
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
        "share/man/man1/conntrend.1",
        "share/man/man1/conntrend-top.1",
        "share/man/man1/conntrend-states.1",
        "share/man/man1/conntrend-conns.1",
        "share/man/man1/conntrend-conntrack.1",
        "share/man/man1/conntrend-rtt.1",
        "share/man/man1/conntrend-serve.1",
        "share/man/man1/conntrend-plot.1",
        "share/bash-completion/completions/conntrend",
        "share/zsh/site-functions/_conntrend",
        "share/fish/vendor_completions.d/conntrend.fish",
    ] {
        let path = prefix.path().join(file);
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        assert!(len > 0, "{} missing or empty", path.display());
    }
    let out = Command::new("make")
        .current_dir(root)
        .args(["-s", "uninstall"])
        .arg(format!("PREFIX={}", prefix.path().display()))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(!prefix.path().join("bin/conntrend").exists());
}
