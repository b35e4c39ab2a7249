//! Running a `--dst`/`--netns` sample and checking its CSV or JSON (read by the one stream parser).

use std::process::Command;

use crate::stream::{Fields, Stream};
use crate::util::{COLUMNS, Run, conntrend, parse_csv, parse_json, run};

const DST: [&str; 3] = ["worst_dst", "worst_dst_used", "worst_dst_free"];

/// What --dst must show: (worst_dst, worst_dst_used, worst_dst_free), `None` with no destination.
pub(super) type Worst = Option<(String, u64, u64)>;

/// Runs `cmd` (on the calling thread, so in its namespace) plus `args`, in CSV or JSON; expects
/// exit 0 and an empty stderr. Returns the parsed output and the run's description for messages.
pub(super) fn ct(cmd: Command, args: &[&str], json: bool) -> (Stream, String) {
    let mut cmd = cmd;
    cmd.args(args);
    if json {
        cmd.args(["--format", "json"]);
    }
    let r: Run = run(cmd);
    let d = r.describe();
    r.expect_code(0);
    assert!(r.stderr().is_empty(), "stderr not empty\n{d}");
    let out = if json {
        parse_json(&r.stdout())
    } else {
        parse_csv(&r.stdout())
    };
    (out, d)
}

fn dst_of(f: &Fields) -> [Option<String>; 3] {
    DST.map(|k| {
        f.get(k)
            .unwrap_or_else(|| panic!("no {k} in {f:?}"))
            .clone()
    })
}

fn want_of(w: &Worst) -> [Option<String>; 3] {
    match w {
        None => [None, None, None],
        Some((d, u, f)) => [Some(d.clone()), Some(u.to_string()), Some(f.to_string())],
    }
}

/// Checks a `--dst` run: 15 columns, each sample's three fields against `wants`, and the summary's
/// peak (the sample with the highest worst_dst_used; the tests never tie it).
pub(super) fn check_dst(out: &Stream, wants: &[Worst], d: &str) {
    let mut cols: Vec<&str> = COLUMNS.to_vec();
    cols.extend(DST);
    assert_eq!(out.columns, cols, "columns\n{d}");
    assert_eq!(out.samples.len(), wants.len(), "samples\n{d}");
    for (i, (s, w)) in out.fields.iter().zip(wants).enumerate() {
        assert_eq!(
            dst_of(s),
            want_of(w),
            "sample {i}: left conntrend, right expected\n{d}"
        );
    }
    let peak = wants.iter().flatten().max_by_key(|w| w.1);
    let got = ["peak_dst_used", "peak_dst"].map(|k| out.summary_fields.get(k).cloned().flatten());
    let want = [peak.map(|p| p.1.to_string()), peak.map(|p| p.0.clone())];
    assert_eq!(got, want, "summary peak_dst_used, peak_dst\n{d}");
    if out.header.is_string() {
        let tail: Vec<&str> = out
            .summary_keys
            .iter()
            .rev()
            .take(3)
            .map(String::as_str)
            .collect();
        assert_eq!(
            tail,
            ["peak_dst", "peak_dst_used", "max_total_port"],
            "summary order\n{d}"
        );
    }
}

/// `conntrend -c 1 --dst` in this namespace, CSV and JSON: the worst destination is `want` and
/// tcp_used is `tcp_used`.
pub(super) fn snapshot(want: &Worst, tcp_used: u64) {
    for json in [false, true] {
        let (out, d) = ct(conntrend(), &["-c", "1", "--dst"], json);
        check_dst(&out, std::slice::from_ref(want), &d);
        assert_eq!(out.samples[0]["tcp_used"], Some(tcp_used), "tcp_used\n{d}");
    }
}

/// The standard twelve columns of the single sample of `out`, epoch_ms aside, as numbers.
pub(super) fn counts(out: &Stream) -> Vec<(String, Option<u64>)> {
    let s = &out.samples[0];
    COLUMNS[1..]
        .iter()
        .map(|k| (k.to_string(), s[*k]))
        .collect()
}

pub(super) fn want_counts(v: [u64; 11]) -> Vec<(String, Option<u64>)> {
    COLUMNS[1..]
        .iter()
        .zip(v)
        .map(|(k, n)| (k.to_string(), Some(n)))
        .collect()
}
