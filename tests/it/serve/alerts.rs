//! `--alert 'COLUMN OP N'` on the timeline and on `serve`: one stderr line when an alert starts
//! and one when it clears (stamped with the sample's time), `--exit-on-alert` (exit 3 after the
//! summary), the `conntrend_alert` gauge, and bad expressions refused with exit 2.

use std::net::TcpListener;
use std::time::Duration;

use super::{Serve, get};
use crate::netns::mix::Mix;
use crate::netns::{NetNs, Pool, with_netns};
use crate::util::{Run, conntrend, parse_csv, parse_json, run};

/// 40000-40199: 200 ports, none reserved.
fn small_pool(ns: &NetNs) {
    let pool = Pool::new(40000, 40199, "");
    pool.apply(ns);
    assert_eq!(pool.total(), 200);
}

/// The `time` column of every sample.
fn times(fields: &[crate::stream::Fields]) -> Vec<String> {
    fields
        .iter()
        .map(|f| f["time"].clone().expect("a time"))
        .collect()
}

#[test]
fn alerts_start_and_clear_on_the_timeline() {
    with_netns(|ns| {
        small_pool(ns);
        let mut mix = Mix::new(ns);
        mix.listen(false, 45000); // outside the pool
        let mut cmd = conntrend();
        cmd.args(["-i", "1", "-c", "3", "--time", "iso"]).args([
            "--alert",
            "estab < 2",
            "--alert",
            "estab>=2",
            "--alert",
            "used_pct>0.5",
        ]);
        // After the first sample: two connections, 4 ESTABLISHED sockets, 2 of 200 ports (1%).
        let r = ns.run_changing(cmd, || {
            mix.estab(false, 40100, 45000).estab(false, 40101, 45000);
        });
        r.expect_code(0);
        let out = parse_csv(&r.stdout());
        let estab: Vec<_> = out.samples.iter().map(|s| s["estab"]).collect();
        assert_eq!(estab, [Some(0), Some(4), Some(4)], "{}", r.describe());
        let t = times(&out.fields);
        assert_eq!(
            r.stderr(),
            format!(
                "conntrend: ALERT {} estab<2 holds (estab=0)\n\
                 conntrend: alert cleared {} estab<2 (estab=4)\n\
                 conntrend: ALERT {} estab>=2 holds (estab=4)\n\
                 conntrend: ALERT {} used_pct>0.5 holds (used_pct=1)\n",
                t[0], t[1], t[1], t[1]
            ),
            "{}",
            r.describe()
        );
        assert_eq!(out.summary["alerts"], Some(3), "{}", r.describe());
        assert_eq!(out.summary["samples"], Some(3));
    });
}

/// The run ends at the sample where the alert starts: that sample and the summary are written,
/// and the exit status is 3.
#[test]
fn exit_on_alert_exits_3_with_the_summary() {
    with_netns(|ns| {
        small_pool(ns);
        let mut mix = Mix::new(ns);
        let mut cmd = conntrend();
        cmd.args(["-i", "1", "-c", "10", "--format", "json", "--time", "iso"])
            .args(["--alert", "tcp_used>=1", "--exit-on-alert"]);
        let r = ns.run_changing(cmd, || {
            mix.listen(false, 40100);
        });
        r.expect_code(3);
        let out = parse_json(&r.stdout());
        let used: Vec<_> = out.samples.iter().map(|s| s["tcp_used"]).collect();
        assert_eq!(used, [Some(0), Some(1)], "{}", r.describe());
        assert_eq!(out.summary["samples"], Some(2));
        assert_eq!(out.summary["alerts"], Some(1), "{}", r.describe());
        let t = times(&out.fields);
        assert_eq!(
            r.stderr(),
            format!("conntrend: ALERT {} tcp_used>=1 holds (tcp_used=1)\n", t[1]),
            "{}",
            r.describe()
        );
        // Holding from the first sample (the listener on 40100 is still there): one sample, the
        // CSV summary, exit 3.
        let mut cmd = conntrend();
        cmd.args(["-c", "5", "--alert", "free<=199", "--exit-on-alert"]);
        let r = run(cmd);
        r.expect_code(3);
        let out = parse_csv(&r.stdout());
        assert_eq!(out.samples.len(), 1, "{}", r.describe());
        assert_eq!(out.samples[0]["free"], Some(199));
        assert_eq!(out.summary["alerts"], Some(1));
        assert!(r.stdout().ends_with(",alerts=1\n"), "{}", r.describe());
    });
}

fn refused(r: &Run, names: &str) {
    r.expect_code(2);
    assert_eq!(r.stdout(), "", "{}", r.describe());
    let errors: Vec<_> = r
        .stderr()
        .lines()
        .filter(|l| l.starts_with("error:"))
        .map(str::to_string)
        .collect();
    assert_eq!(errors.len(), 1, "{}", r.describe());
    assert!(
        r.stderr().contains(names),
        "{names} not in:\n{}",
        r.stderr()
    );
}

#[test]
fn bad_alert_expressions_and_unknown_columns_exit_2_naming_them() {
    with_netns(|_ns| {
        let cases: [(&[&str], &str); 12] = [
            (&["--alert", "free"], "--alert 'free': no comparison"),
            (
                &["--alert", "free 1000"],
                "--alert 'free 1000': no comparison",
            ),
            (&["--alert", "fre<1"], "unknown column 'fre'"),
            (&["--alert", "<1"], "unknown column ''"),
            (&["--alert", "free<x"], "'x' is not a number"),
            (&["--alert", "free<inf"], "'inf' is not a number"),
            (&["--alert", "free=<1"], "unknown column 'free='"),
            (&["--alert", "free<1", "--alert", "bogus>1"], "'bogus'"),
            (
                &["--alert", "worst_dst_free<100"],
                "unknown column 'worst_dst_free'",
            ),
            (&["--alert", "ct_used>5"], "unknown column 'ct_used'"),
            (
                &["--alert", "exhaust_in_sec<60"],
                "unknown column 'exhaust_in_sec'",
            ),
            (&["--exit-on-alert", "-c", "1"], "--alert <EXPR>"),
        ];
        for (args, names) in cases {
            let mut cmd = conntrend();
            cmd.args(args);
            refused(&run(cmd), names);
        }
        for (args, names) in [
            (
                &["--alert", "worst_dst_free<1", "--dst-top", "0"][..],
                "'worst_dst_free'",
            ),
            (&["--alert", "ct_used>1"], "'ct_used'"),
            (
                &[
                    "--alert",
                    "dst_exhaust_in_sec<1",
                    "--forecast",
                    "--dst-top",
                    "0",
                ],
                "'dst_exhaust_in_sec'",
            ),
        ] {
            let mut cmd = conntrend();
            cmd.arg("serve").args(args);
            refused(&run(cmd), names);
        }
        // With the flag that brings the column, each is accepted.
        for args in [
            &["--dst", "--alert", "worst_dst_free<100"][..],
            &["--conntrack", "--alert", "ct_used>5"],
            &["--forecast", "--alert", "exhaust_in_sec<60"],
        ] {
            let mut cmd = conntrend();
            cmd.args(["-c", "1"]).args(args);
            run(cmd).expect_code(0);
        }
    });
}

#[test]
fn serve_alert_gauge_is_1_while_the_condition_holds() {
    with_netns(|ns| {
        let serve = Serve::start(
            ns,
            &[
                "--alert",
                "tcp_used >= 1",
                "--alert",
                "free<0",
                "--min-interval",
                "0",
            ],
        );
        let holds = "conntrend_alert{expr=\"tcp_used>=1\"}";
        let never = "conntrend_alert{expr=\"free<0\"}";
        // Scrape from ports above the default range: the exporter's own sockets hold no pool
        // port (its listener, 9959, is below the range's 32768).
        let m = serve.scrape_from(61000);
        assert_eq!(
            get(&m, "conntrend_pool_protocol_used_ports{protocol=\"tcp\"}"),
            0.0
        );
        assert_eq!((get(&m, holds), get(&m, never)), (0.0, 0.0));
        let held = TcpListener::bind("127.0.0.1:40000").unwrap();
        let m = serve.scrape_from(61001);
        assert_eq!(
            get(&m, "conntrend_pool_protocol_used_ports{protocol=\"tcp\"}"),
            1.0
        );
        assert_eq!((get(&m, holds), get(&m, never)), (1.0, 0.0));
        drop(held);
        let m = serve.scrape_from(61002);
        assert_eq!((get(&m, holds), get(&m, never)), (0.0, 0.0));
        let err = serve.stderr_lines(2);
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 2, "{err}");
        assert!(lines[0].starts_with("conntrend: ALERT 20"), "{err}");
        assert!(
            lines[0].ends_with("Z tcp_used>=1 holds (tcp_used=1)"),
            "{err}"
        );
        assert!(lines[1].starts_with("conntrend: alert cleared 20"), "{err}");
        assert!(lines[1].ends_with("Z tcp_used>=1 (tcp_used=0)"), "{err}");
    });
}

/// `serve --exit-on-alert`: the scrape that starts the alert is answered (gauge 1), then the
/// exporter ends with status 3.
#[test]
fn serve_exit_on_alert_answers_then_exits_3() {
    with_netns(|ns| {
        // A scrape is itself two ESTABLISHED sockets.
        let mut serve = Serve::start(ns, &["--alert", "estab>=2", "--exit-on-alert"]);
        let m = serve.scrape();
        assert_eq!(get(&m, "conntrend_alert{expr=\"estab>=2\"}"), 1.0);
        let status = serve.wait_exit(Duration::from_secs(5));
        assert_eq!(
            status.and_then(|s| s.code()),
            Some(3),
            "{status:?}\n{}",
            serve.stderr()
        );
        let err = serve.stderr_lines(1);
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 1, "{err}");
        assert!(lines[0].starts_with("conntrend: ALERT 20"), "{err}");
        assert!(lines[0].ends_with("Z estab>=2 holds (estab=2)"), "{err}");
    });
}
