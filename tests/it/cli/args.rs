//! Bad input, both spellings of long flags, --help and -V.

use super::*;

#[test]
fn bad_input_exits_2_names_the_flag_and_creates_no_file() {
    let cases: [(&[&str], &[&str]); 10] = [
        (&["-i", "0"], &["interval", "-i"]),
        (&["-i", "-1"], &["interval", "-i"]),
        (&["-i", "abc"], &["interval", "-i"]),
        (&["-d", "-5"], &["duration", "-d"]),
        (&["-d", "x"], &["duration", "-d"]),
        (&["-c", "0"], &["count", "-c"]),
        (&["-c", "-1"], &["count", "-c"]),
        (&["-p", "icmp"], &["protocol", "-p"]),
        (&["--format", "xml"], &["format"]),
        (&["--bogus"], &["--bogus"]),
    ];
    for (bad, names) in cases {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.csv");
        let mut args = vec!["-o", out.to_str().unwrap()];
        args.extend_from_slice(bad);
        let r = ct(&args);
        let d = r.describe();
        r.expect_code(2);
        let err = r.stderr();
        let first = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        let ok = names.iter().any(|n| first.contains(n));
        assert!(ok, "1st line lacks {names:?}\n{d}");
        assert!(!err.contains("panicked"), "panic\n{d}");
        assert!(r.stdout().is_empty(), "stdout not empty\n{d}");
        assert!(!out.exists(), "-o file created for {bad:?}\n{d}");
    }
}

#[test]
fn dash_and_underscore_aliases_are_accepted() {
    for [i, d] in [
        ["--interval-sec", "--duration-sec"],
        ["--interval_sec", "--duration_sec"],
    ] {
        let (_, csv, d) = csv_ok(&[i, "1", d, "1"]);
        assert_header(csv.header.as_str().unwrap(), 1, "1s", None, &d);
        assert_eq!(csv.samples.len(), 1, "\n{d}");
    }
}

#[test]
fn help_and_version() {
    let r = ct(&["--help"]);
    let d = r.describe();
    r.expect_code(0);
    let help = r.stdout();
    let flags = "-i -d -c -o -p -v --interval --duration --count --output --protocol --format";
    for flag in flags.split(' ').chain(["--help", "--version"]) {
        assert!(help.contains(flag), "--help lacks {flag}\n{d}");
    }
    let r = ct(&["-V"]);
    r.expect_code(0);
    assert_eq!(r.stdout().trim(), "conntrend 0.1.0", "\n{}", r.describe());
}
