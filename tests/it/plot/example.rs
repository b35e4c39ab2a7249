//! docs/example-load.sh, the README's recipe for the example log, run with stand-ins for
//! `unshare`, `ip`, `sysctl`, `python3` and conntrend (no root, no load, no 70 s): it writes a
//! fresh log where it is told, or in a new temporary directory, never into docs/ (conntrend
//! appends, so writing the committed docs/example.csv made it a two-run log), and refuses a file
//! that exists.

use std::os::unix::fs::PermissionsExt as _;

use super::*;

/// A stand-in script named `name` in `bin`.
fn stub(bin: &Path, name: &str, body: &str) {
    let p = bin.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Runs the script from the repository root with the stand-ins first on PATH; the stand-in
/// conntrend writes a header to its `-o` file only inside `dir` and records every `-o` it gets.
fn load(dir: &Path, args: &[&Path]) -> Run {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    stub(&bin, "unshare", "shift; exec \"$@\"");
    stub(&bin, "ip", "exit 0");
    stub(&bin, "sysctl", "exit 0");
    stub(&bin, "python3", "cat >/dev/null");
    let record = dir.join("targets");
    stub(
        &bin,
        "conntrend",
        &format!(
            "while [ $# -gt 0 ]; do [ \"$1\" = -o ] && out=$2; shift; done\n\
             echo \"$out\" >> '{}'\n\
             case \"$out\" in '{}'/*) printf '# conntrend stand-in\\n' >> \"$out\";; *) exit 1;; esac",
            record.display(),
            dir.display()
        ),
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let mut cmd = Command::new("bash");
    cmd.current_dir(root)
        .env("PATH", path)
        .env("TMPDIR", dir)
        .env("CONNTREND", bin.join("conntrend"))
        .arg(root.join("docs/example-load.sh"))
        .args(args);
    run(cmd)
}

/// The `-o` targets the stand-in conntrend was given.
fn targets(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("targets"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn the_example_load_writes_a_fresh_log_and_never_docs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let committed = std::fs::read(root.join("docs/example.csv")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // To a file given.
    let out = d.join("mine.csv");
    let r = load(d, &[&out]);
    r.expect_code(0);
    assert_eq!(targets(d), [out.display().to_string()], "{}", r.describe());
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "# conntrend stand-in\n"
    );
    assert!(r.stdout().contains("plot it with:"), "{}", r.describe());
    // Again to the same file: refused, the log left as it was (not a second run appended).
    let r = load(d, &[&out]);
    assert_ne!(r.code(), Some(0), "{}", r.describe());
    assert!(r.stderr().contains("exists"), "{}", r.describe());
    assert_eq!(targets(d).len(), 1);
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "# conntrend stand-in\n"
    );
    // Without one: a new file in a new directory under TMPDIR, named on standard output.
    for _ in 0..2 {
        load(d, &[]).expect_code(0);
    }
    let all = targets(d);
    assert_eq!(all.len(), 3);
    assert_ne!(all[1], all[2], "a fresh file each time");
    for t in &all[1..] {
        assert!(t.starts_with(&d.display().to_string()), "{t}");
        assert_eq!(
            std::fs::read_to_string(t).unwrap(),
            "# conntrend stand-in\n"
        );
    }
    assert_eq!(
        std::fs::read(root.join("docs/example.csv")).unwrap(),
        committed,
        "docs/example.csv changed"
    );
}
