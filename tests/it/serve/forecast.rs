//! `--forecast[=N]` on the timeline: `exhaust_in_sec` (and with `--dst` `dst_exhaust_in_sec`) is
//! empty below three samples, while the series does not fall, and while its fall is not
//! significant, and otherwise equals the least-squares fit over the last N rows the run itself
//! printed — recomputed here from the rule as the README states it.

use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::netns::mix::Mix;
use crate::netns::{Pool, with_netns};
use crate::stream::Fields;
use crate::util::{Run, conntrend, parse_csv, run};

/// Runs `cmd` (in the calling thread's namespace), calling `step(k)` as soon as its k-th sample
/// line (0-based) is read. Kills it and panics when it is silent for 20 s.
fn run_stepping(mut cmd: Command, mut step: impl FnMut(usize)) -> Run {
    let cmdline = format!("{cmd:?}");
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmdline}: {e}"));
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let (mut text, mut k) = (String::new(), 0);
    loop {
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) => {
                let sample = !line.starts_with('#')
                    && !line.starts_with("{\"header\"")
                    && !line.starts_with("{\"summary\"");
                text.push_str(&line);
                text.push('\n');
                if sample {
                    step(k);
                    k += 1;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            Err(_) => {
                let _ = child.kill();
                panic!("{cmdline} wrote no line for 20 s; output so far:\n{text}");
            }
        }
    }
    reader.join().unwrap();
    let mut output = child.wait_with_output().unwrap();
    output.stdout = text.into_bytes();
    Run { cmdline, output }
}

/// Student's t at 99.9 % (one-sided) for `df` degrees of freedom, from the printed tables; for a
/// df between rows, the row below.
fn t_999(df: usize) -> f64 {
    let rows = [
        (1, 318.309),
        (2, 22.327),
        (3, 10.215),
        (4, 7.173),
        (5, 5.893),
        (6, 5.208),
        (7, 4.785),
        (8, 4.501),
        (9, 4.297),
        (10, 4.144),
    ];
    rows.iter()
        .rev()
        .find(|r| r.0 <= df)
        .map_or(318.309, |r| r.1)
}

/// The forecast of a series as the README defines it: seconds until the last value reaches 0 at
/// the least-squares slope of the last `window` points (seconds, value); none below three points,
/// or when the slope is not below 0 by more than t(99.9 %, n-2) standard errors (the residual
/// variance taken as at least 1/12). A missing value restarts the window.
fn forecasts(points: &[(u64, Option<u64>)], window: usize) -> Vec<Option<u64>> {
    let mut kept: Vec<(f64, f64)> = Vec::new();
    let mut out = Vec::new();
    for &(ms, v) in points {
        let Some(v) = v else {
            kept.clear();
            out.push(None);
            continue;
        };
        kept.push((ms as f64 / 1000.0, v as f64));
        if kept.len() > window {
            kept.remove(0);
        }
        let last = v as f64;
        if last <= 0.0 {
            out.push(Some(0));
            continue;
        }
        if kept.len() < 3 {
            out.push(None);
            continue;
        }
        let n = kept.len() as f64;
        let t0 = kept[0].0;
        let mean_t = kept.iter().map(|&(t, _)| t - t0).sum::<f64>() / n;
        let mean_v = kept.iter().map(|&(_, v)| v).sum::<f64>() / n;
        let (mut cov, mut var) = (0.0, 0.0);
        for &(t, v) in &kept {
            let dt = t - t0 - mean_t;
            cov += dt * (v - mean_v);
            var += dt * dt;
        }
        let slope = cov / var;
        let ssr: f64 = kept
            .iter()
            .map(|&(t, v)| (v - mean_v - slope * (t - t0 - mean_t)).powi(2))
            .sum();
        let se = ((ssr / (n - 2.0)).max(1.0 / 12.0) / var).sqrt();
        let significant = slope < 0.0 && -slope > t_999(kept.len() - 2) * se;
        out.push(significant.then(|| (last / -slope).round() as u64));
    }
    out
}

fn column(fields: &[Fields], name: &str) -> Vec<Option<u64>> {
    fields
        .iter()
        .map(|f| {
            let v = f.get(name).unwrap_or_else(|| panic!("no column {name}"));
            v.as_ref()
                .map(|v| v.parse().unwrap_or_else(|_| panic!("{name}={v}")))
        })
        .collect()
}

#[test]
fn forecast_is_empty_for_two_samples_then_fits_the_falling_free() {
    with_netns(|ns| {
        let pool = Pool::new(40000, 40999, "");
        pool.apply(ns);
        let mut mix = Mix::new(ns);
        mix.listen(false, 45000); // outside the pool
        // After sample k: (UDP ports, connections toward 127.0.0.1:45000) added: a steady fall
        // that quickens, so a window of 5 and one of 12 tell apart.
        let steps = [(1u16, 2u16), (1, 2), (1, 2), (2, 3), (2, 3), (2, 3)];
        let (mut udp, mut client) = (40500u16, 40100u16);
        let mut cmd = conntrend();
        cmd.args(["-i", "1", "-c", "7", "--forecast=5", "--dst"]);
        let r = run_stepping(cmd, |k| {
            let Some(&(u, c)) = steps.get(k) else { return };
            for _ in 0..u {
                mix.udp(false, udp, None, false);
                udp += 1;
            }
            for _ in 0..c {
                mix.estab(false, client, 45000);
                client += 1;
            }
        });
        r.expect_code(0);
        let out = parse_csv(&r.stdout());
        let d = r.describe();
        let (n, m) = (out.columns.len(), &out.columns);
        assert_eq!(m[n - 2..], ["exhaust_in_sec", "dst_exhaust_in_sec"], "{d}");
        let free = column(&out.fields, "free");
        let dst_free = column(&out.fields, "worst_dst_free");
        // Each step takes one pool port per UDP socket and per connection's client.
        let want_free = [1000, 997, 994, 991, 986, 981, 976].map(Some);
        assert_eq!(free, want_free, "{d}");
        assert_eq!(
            dst_free,
            [
                None,
                Some(998),
                Some(996),
                Some(994),
                Some(991),
                Some(988),
                Some(985)
            ],
            "{d}"
        );
        let ms = column(&out.fields, "epoch_ms");
        let series = |v: &[Option<u64>]| -> Vec<(u64, Option<u64>)> {
            ms.iter()
                .map(|t| t.unwrap())
                .zip(v.iter().copied())
                .collect()
        };
        let exhaust = column(&out.fields, "exhaust_in_sec");
        let want = forecasts(&series(&free), 5);
        assert_eq!(
            want[..3],
            [None, None, None],
            "below three samples, then not yet significant"
        );
        assert!(want[4..].iter().all(Option::is_some), "{want:?}");
        assert_eq!(exhaust, want, "{d}");
        // Over the whole run (window 12) the last forecast would differ: the window is honoured.
        assert_ne!(
            forecasts(&series(&free), 12)[6],
            want[6],
            "choose steps that tell"
        );
        let dst_want = forecasts(&series(&dst_free), 5);
        assert_eq!(
            dst_want[..3],
            [None, None, None],
            "no destination in the first sample"
        );
        assert!(dst_want[5..].iter().all(Option::is_some), "{dst_want:?}");
        assert_eq!(column(&out.fields, "dst_exhaust_in_sec"), dst_want, "{d}");
    });
}

#[test]
fn forecast_is_empty_while_free_rises() {
    with_netns(|ns| {
        Pool::new(40000, 40999, "").apply(ns);
        let mut held: Vec<UdpSocket> = (40500..40506)
            .map(|p| UdpSocket::bind(("127.0.0.1", p)).unwrap())
            .collect();
        let mut cmd = conntrend();
        cmd.args(["-i", "1", "-c", "4", "--forecast"]);
        let r = run_stepping(cmd, |_| {
            held.truncate(held.len().saturating_sub(2));
        });
        r.expect_code(0);
        let out = parse_csv(&r.stdout());
        assert_eq!(
            out.columns.last().map(String::as_str),
            Some("exhaust_in_sec")
        );
        let free = column(&out.fields, "free");
        assert_eq!(free, [994, 996, 998, 1000].map(Some), "{}", r.describe());
        assert_eq!(
            column(&out.fields, "exhaust_in_sec"),
            [None; 4],
            "{}",
            r.describe()
        );
    });
}

#[test]
fn forecast_below_three_samples_exits_2() {
    for (args, says) in [
        (&["--forecast=2"][..], "a line needs at least 3 samples"),
        (&["--forecast=0"], "a line needs at least 3 samples"),
        (
            &["--forecast=x"],
            "a number of samples (at least 3) or a span",
        ),
        (
            &["serve", "--forecast=2"],
            "a line needs at least 3 samples",
        ),
    ] {
        let mut cmd = conntrend();
        cmd.args(args);
        let r = run(cmd);
        r.expect_code(2);
        let err = r.stderr();
        assert!(
            err.contains("--forecast") && err.contains(says),
            "{}",
            r.describe()
        );
    }
}
