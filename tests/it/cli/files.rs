//! -o files (appended, never truncated), unopenable or unwritable outputs, -v on stderr.

use super::*;

#[test]
fn output_file_is_appended_to() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.csv");
    std::fs::write(&out, "pre-existing line\n").unwrap();
    for _ in 0..2 {
        let r = ct(&["-c", "1", "-o", out.to_str().unwrap()]);
        r.expect_code(0);
        assert!(r.stdout().is_empty(), "stdout not empty\n{}", r.describe());
    }
    let text = std::fs::read_to_string(&out).unwrap();
    let rest = text.strip_prefix("pre-existing line\n").expect(&text);
    assert_eq!(rest.matches("# conntrend ").count(), 2, "{text}");
    assert_eq!(rest.matches("# summary: ").count(), 2, "{text}");
    let cut = rest.find("\n# conntrend ").expect(&text) + 1;
    for part in [&rest[..cut], &rest[cut..]] {
        let csv = parse_csv(part);
        check_consistency(&csv.samples, &csv.summary, true, true, &text);
    }
}

#[test]
fn unopenable_output_exits_1_with_os_reason() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("no-such-dir/x.csv");
    let path = out.to_str().unwrap();
    let r = ct(&["-c", "1", "-o", path]);
    let d = r.describe();
    r.expect_code(1);
    let err = r.stderr();
    assert!(err.contains(path), "stderr must name the path\n{d}");
    assert!(err.contains("No such file or directory"), "OS reason\n{d}");
    assert!(r.stdout().is_empty(), "\n{d}");
    assert!(!out.exists());
}

#[test]
fn write_error_exits_1_with_one_line() {
    let r = ct(&["-c", "1", "-o", "/dev/full"]);
    let d = r.describe();
    r.expect_code(1);
    let err = r.stderr();
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one stderr line\n{d}");
    assert!(lines[0].contains("/dev/full"), "names the file\n{d}");
    assert!(!err.contains("panicked"), "\n{d}");
}

#[test]
fn verbose_goes_to_stderr_only() {
    let r = ct(&["-v", "-i", "1", "-c", "2"]);
    let d = r.describe();
    r.expect_code(0);
    let csv = parse_csv(&r.stdout());
    assert_eq!(csv.samples.len(), 2, "\n{d}");
    assert!(!r.stderr().is_empty(), "-v printed no diagnostics\n{d}");
    let r = ct(&["-v", "--format", "json", "-c", "1"]);
    r.expect_code(0);
    let js = parse_json(&r.stdout());
    assert_eq!(js.samples.len(), 1, "\n{}", r.describe());
}
