//! The exact CSV and JSON Lines shapes, how -i/-d/-c shape a run, and -p.

use super::*;

#[test]
fn csv_exact_shape_and_three_samples_in_three_seconds() {
    let now = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
    };
    let before = now();
    let (r, csv, d) = csv_ok(&["-i", "1", "-d", "3"]);
    let after = now();
    let out = r.stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert_header(lines[0], 1, "3s", None, &d);
    let columns = format!("# columns: {}", COLUMNS.join(","));
    assert_eq!(lines[1], columns, "\n{d}");
    for row in &lines[2..lines.len() - 2] {
        let fields: Vec<&str> = row.split(',').collect();
        assert_eq!(fields.len(), 12, "row width: {row}\n{d}");
        let numeric = |f: &&str| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit());
        assert!(fields.iter().all(numeric), "non-numeric: {row}\n{d}");
    }
    let summary_keys: Vec<&str> = lines[lines.len() - 1]["# summary: ".len()..]
        .split(',')
        .map(|kv| kv.split('=').next().unwrap())
        .collect();
    assert_eq!(
        summary_keys.join(","),
        SUMMARY_KEYS,
        "summary key order\n{d}"
    );
    assert_eq!(csv.samples.len(), 3, "\n{d}");
    assert_eq!(csv.summary["elapsed_sec"], Some(3), "\n{d}");
    let start = csv.summary["start_ms"].unwrap();
    let ok = start + 1000 >= before && start <= after;
    assert!(ok, "start_ms is not now\n{d}");
    check_consistency(&csv.samples, &csv.summary, true, true, &d);
}

#[test]
fn count_limits_the_run_and_shows_in_the_header() {
    let (_, csv, d) = csv_ok(&["-i", "1", "-c", "2"]);
    assert_header(csv.header.as_str().unwrap(), 1, "", Some(2), &d);
    assert_eq!(csv.samples.len(), 2, "\n{d}");
    assert_eq!(csv.summary["elapsed_sec"], Some(1), "\n{d}");
    check_consistency(&csv.samples, &csv.summary, true, true, &d);

    let (_, csv, d) = csv_ok(&["-c", "1", "-d", "60"]);
    assert_header(csv.header.as_str().unwrap(), 5, "60s", Some(1), &d);
    assert_eq!(csv.samples.len(), 1, "\n{d}");
    // Ends right after its one sample, not at -d 60 (0, or 1 on a very busy machine).
    assert!(csv.summary["elapsed_sec"] <= Some(1), "\n{d}");

    let (_, csv, d) = csv_ok(&["-i", "1", "-d", "0", "-c", "1"]);
    assert_header(csv.header.as_str().unwrap(), 1, "", Some(1), &d);
    assert_eq!(csv.samples.len(), 1, "\n{d}");
}

/// Runs jq with `filter` over `text`; returns its output lines (jq must accept the input).
fn jq(filter: &str, text: &str, d: &str) -> Vec<String> {
    let mut child = Command::new("/usr/bin/jq")
        .args(["-c", filter])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("jq must be installed at /usr/bin/jq (.ci/run installs it)");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(text.as_bytes()).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let ok = out.status.success();
    assert!(ok, "jq '{filter}' rejected it: {err}\n{d}");
    let lines = String::from_utf8(out.stdout).unwrap();
    lines.lines().map(str::to_string).collect()
}

#[test]
fn json_exact_shape_and_jq_accepts_it() {
    let r = ct(&["--format", "json", "-i", "1", "-d", "2"]);
    let d = r.describe();
    r.expect_code(0);
    assert!(r.stderr().is_empty(), "stderr not empty\n{d}");
    let out = r.stdout();
    let js = parse_json(&out);
    let h = js.header.as_object().expect("header is an object");
    let mut keys: Vec<&str> = h.keys().map(String::as_str).collect();
    keys.sort_unstable();
    // `source` is there when a source other than netlink ran: BPF's counts, where they load.
    let documented = match crate::util::auto_source() {
        "" => "columns count duration_sec protocol range_init sampling_sec version",
        _ => "columns count duration_sec protocol range_init sampling_sec source version",
    };
    assert_eq!(keys.join(" "), documented, "header keys\n{d}");
    assert_eq!(h["version"], "0.1.0", "\n{d}");
    assert_eq!(h["sampling_sec"], 1, "\n{d}");
    assert_eq!(h["duration_sec"], 2, "\n{d}");
    assert!(h["count"].is_null(), "count\n{d}");
    assert_eq!(h["protocol"], "all", "\n{d}");
    assert!(h["range_init"].as_str().is_some_and(is_range), "\n{d}");
    assert_eq!(h["columns"], serde_json::json!(COLUMNS), "\n{d}");
    for line in [out.lines().next(), out.lines().last()] {
        let v: serde_json::Value = serde_json::from_str(line.unwrap()).unwrap();
        let n = v.as_object().unwrap().len();
        assert_eq!(n, 1, "header/summary: one key\n{d}");
    }
    assert_eq!(js.samples.len(), 2, "\n{d}");
    assert_eq!(js.summary["elapsed_sec"], Some(2), "\n{d}");
    check_consistency(&js.samples, &js.summary, true, true, &d);
    let samples = jq("select(.epoch_ms)", &out, &d);
    assert_eq!(samples.len(), 2, "jq samples\n{d}");
    let summary = jq("select(.summary) | .summary", &out, &d);
    assert_eq!(summary.len(), 1, "jq summary\n{d}");

    let r = ct(&["--format", "json", "-d", "0", "-c", "1", "-p", "tcp"]);
    let d = r.describe();
    r.expect_code(0);
    let js = parse_json(&r.stdout());
    assert_eq!(js.header["duration_sec"], 0, "\n{d}");
    assert_eq!(js.header["count"], 1, "\n{d}");
    assert_eq!(js.header["protocol"], "tcp", "\n{d}");
    check_consistency(&js.samples, &js.summary, true, false, &d);
}

#[test]
fn protocol_filter_leaves_unsampled_fields_empty() {
    let (r, csv, d) = csv_ok(&["-p", "tcp", "-c", "1"]);
    let out = r.stdout();
    let row: Vec<&str> = out.lines().nth(2).unwrap().split(',').collect();
    assert_eq!(row[4], "", "udp_used must be empty with -p tcp\n{d}");
    check_consistency(&csv.samples, &csv.summary, true, false, &d);

    let (r, csv, d) = csv_ok(&["-p", "udp", "-c", "1"]);
    let out = r.stdout();
    let row: Vec<&str> = out.lines().nth(2).unwrap().split(',').collect();
    let ok = row[5..].iter().all(|f| f.is_empty());
    assert!(ok, "TCP fields not empty\n{d}");
    let ok = out.lines().last().unwrap().contains(",peak_time_wait=,");
    assert!(ok, "peak_time_wait not empty\n{d}");
    check_consistency(&csv.samples, &csv.summary, false, true, &d);

    let r = ct(&["--format", "json", "-p", "udp", "-c", "1"]);
    r.expect_code(0);
    let js = parse_json(&r.stdout());
    check_consistency(&js.samples, &js.summary, false, true, &r.describe());
}
