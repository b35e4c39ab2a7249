//! deploy/grafana: the dashboard is well formed, every query in it parses (promtool, through a
//! generated rules file), and a real Prometheus that scrapes `conntrend serve` (with the
//! DaemonSet's arguments) and evaluates deploy/prometheus's rules answers every query with data.
//!
//! The sampled namespace drains on purpose: a client connects every 200 ms to a server that
//! closes at once, so each connection holds a pool port in CLOSE_WAIT, until 94 of the pool's
//! 100 ports are used. That gives the forecast queries a falling `free`, the CLOSE_WAIT query a
//! rise, the destination queries a destination, and the alerts panel a pending alert (the pool
//! over 90% used). As in tests/it/serve/prometheus.rs, `serve` and Prometheus live in another
//! namespace (`--netns`), so their own connections take no port from that pool.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::kubernetes::daemonset_args;
use super::rules::{RULES, groups, promtool};
use super::{read, repo, tool, write};
use crate::netns::{Pool, park_netns, with_netns};
use crate::serve::{Killed, PORT, Serve};

const DASHBOARD: &str = "deploy/grafana/conntrend-dashboard.json";
const WEB_PORT: u16 = 9090;

fn dashboard() -> Value {
    serde_json::from_str(&read(DASHBOARD)).expect("the dashboard is JSON")
}

/// Every panel, rows' nested panels included.
fn panels(d: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().unwrap() {
        out.push(p.clone());
        if let Some(inner) = p["panels"].as_array() {
            out.extend(inner.iter().cloned());
        }
    }
    out
}

/// (panel title, refId, expr) of every query.
pub fn queries() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for p in panels(&dashboard()) {
        for t in p["targets"].as_array().into_iter().flatten() {
            out.push((
                p["title"].as_str().unwrap().to_string(),
                t["refId"].as_str().unwrap().to_string(),
                t["expr"]
                    .as_str()
                    .expect("a target without expr")
                    .to_string(),
            ));
        }
    }
    out
}

/// `expr` with the dashboard's variables as Prometheus would receive them: every host,
/// `window` for $window and `rate` for $__rate_interval. Panics on any other variable.
fn substitute(expr: &str, window: &str, rate: &str) -> String {
    let e = expr
        .replace("$__rate_interval", rate)
        .replace("$window", window)
        .replace("$instance", ".*");
    assert!(!e.contains('$'), "an unknown variable in {expr}");
    e
}

#[test]
fn the_dashboard_is_well_formed() {
    let d = dashboard();
    assert!(d["uid"].is_string() && d["title"].is_string());
    let vars: BTreeMap<String, Value> = d["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["name"].as_str().unwrap().to_string(), v.clone()))
        .collect();
    assert_eq!(
        vars.keys().cloned().collect::<Vec<_>>(),
        ["datasource", "instance", "window"]
    );
    assert_eq!(vars["datasource"]["type"], "datasource");
    assert_eq!(vars["datasource"]["query"], "prometheus");
    assert_eq!(vars["instance"]["allValue"], ".*");
    assert_eq!(vars["window"]["current"]["value"], "30m");
    let mut ids = BTreeSet::new();
    let mut kinds = BTreeSet::new();
    for p in panels(&d) {
        assert!(
            ids.insert(p["id"].as_u64().unwrap()),
            "panel id {} twice",
            p["id"]
        );
        let g = &p["gridPos"];
        let (x, w) = (g["x"].as_u64().unwrap(), g["w"].as_u64().unwrap());
        assert!(
            x + w <= 24 && g["h"].as_u64().unwrap() > 0,
            "{}: {g}",
            p["title"]
        );
        let kind = p["type"].as_str().unwrap();
        kinds.insert(kind.to_string());
        if kind == "row" {
            continue;
        }
        assert_eq!(p["datasource"]["uid"], "${datasource}", "{}", p["title"]);
        let targets = p["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{}", p["title"]);
        let refs: BTreeSet<&str> = targets
            .iter()
            .map(|t| t["refId"].as_str().unwrap())
            .collect();
        assert_eq!(refs.len(), targets.len(), "{}: refIds", p["title"]);
        for t in targets {
            assert_eq!(t["datasource"]["uid"], "${datasource}");
        }
    }
    for k in &kinds {
        assert!(
            ["row", "stat", "timeseries", "bargauge", "table"].contains(&k.as_str()),
            "{k}"
        );
    }
    // What the issue asks to see.
    let titles: Vec<String> = panels(&d)
        .iter()
        .map(|p| p["title"].as_str().unwrap().to_lowercase())
        .collect();
    for want in [
        "pool used",
        "free",
        "states",
        "worst destinations",
        "conntrack",
        "exhausted",
    ] {
        assert!(
            titles.iter().any(|t| t.contains(want)),
            "no panel about {want}: {titles:?}"
        );
    }
}

/// The queries, with the variables at their defaults, as recording rules for promtool.
fn as_rules(exprs: &[String]) -> String {
    let mut text = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, e) in exprs.iter().enumerate() {
        let quoted = serde_json::to_string(e).unwrap();
        text.push_str(&format!(
            "      - record: dashboard:query_{i}\n        expr: {quoted}\n"
        ));
    }
    text
}

#[test]
fn every_dashboard_query_parses() {
    let mut exprs: Vec<String> = queries()
        .iter()
        .map(|(_, _, e)| substitute(e, "30m", "1m"))
        .collect();
    let d = dashboard();
    let var = d["templating"]["list"][1]["query"]["query"]
        .as_str()
        .unwrap();
    let metric = var
        .strip_prefix("label_values(")
        .and_then(|r| r.split(',').next())
        .expect("label_values(METRIC, instance)");
    exprs.push(metric.to_string());
    assert!(exprs.len() >= 15, "{exprs:?}");
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("dashboard.yml"), &as_rules(&exprs));
    let r = promtool(&["check", "rules", "dashboard.yml"], dir.path());
    r.expect_code(0);
    assert!(
        r.stdout()
            .contains(&format!("SUCCESS: {} rules found", exprs.len())),
        "{}",
        r.describe()
    );
    // The same route refuses a broken query.
    exprs.push("sum by (instance (conntrend_pool_ports)".to_string());
    write(&dir.path().join("dashboard.yml"), &as_rules(&exprs));
    let r = promtool(&["check", "rules", "dashboard.yml"], dir.path());
    assert_ne!(r.code(), Some(0), "{}", r.describe());
}

/// `GET path` from Prometheus's web port, if it answers: status and body.
fn api(path: &str) -> Option<(u16, String)> {
    let addr: SocketAddr = (Ipv4Addr::LOCALHOST, WEB_PORT).into();
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    s.write_all(request.as_bytes()).ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    Some((head.split(' ').nth(1)?.parse().ok()?, body.to_string()))
}

fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An instant query's result; panics unless Prometheus accepts the query.
fn query(q: &str) -> Vec<Value> {
    let Some((status, body)) = api(&format!("/api/v1/query?query={}", encode(q))) else {
        return Vec::new();
    };
    if status == 503 {
        return Vec::new(); // listening, not ready yet (the TSDB is opening)
    }
    assert_eq!(status, 200, "{q}: {body}");
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(v["status"], "success", "{body}");
    v["data"]["result"].as_array().cloned().unwrap_or_default()
}

/// Every rule's health and last error, by name, once Prometheus has evaluated them.
fn rule_health() -> BTreeMap<String, (String, String)> {
    let Some((200, body)) = api("/api/v1/rules") else {
        return BTreeMap::new();
    };
    let v: Value = serde_json::from_str(&body).unwrap();
    let mut out = BTreeMap::new();
    for g in v["data"]["groups"].as_array().into_iter().flatten() {
        for r in g["rules"].as_array().unwrap() {
            out.insert(
                r["name"].as_str().unwrap().to_string(),
                (
                    r["health"].as_str().unwrap_or_default().to_string(),
                    r["lastError"].as_str().unwrap_or_default().to_string(),
                ),
            );
        }
    }
    out
}

/// The `conntrend_…` metric names an expression reads.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let b = expr.as_bytes();
    let mut i = 0;
    while let Some(at) = expr[i..].find("conntrend_") {
        let start = i + at;
        let prev = start.checked_sub(1).map(|p| b[p]);
        let mut end = start;
        while end < b.len() && (b[end].is_ascii_alphanumeric() || b[end] == b'_') {
            end += 1;
        }
        if !matches!(prev, Some(c) if c.is_ascii_alphanumeric() || c == b'_' || c == b':') {
            out.insert(expr[start..end].to_string());
        }
        i = end;
    }
    out
}

#[test]
fn prometheus_answers_every_dashboard_query_and_evaluates_the_rules() {
    let prometheus = tool("/usr/bin/prometheus", "prometheus");
    // The sampled namespace: a 100-port pool and a server that closes what it accepts.
    let stop = Arc::new(AtomicBool::new(false));
    let stop_in = stop.clone();
    let parked = park_netns(move |ns, park| {
        Pool::new(40000, 40099, "").apply(ns);
        let server = TcpListener::bind((Ipv4Addr::LOCALHOST, 45000)).unwrap();
        let grower = std::thread::spawn(move || {
            let mut held = Vec::new();
            while held.len() < 94 && !stop_in.load(Ordering::Relaxed) {
                let c = TcpStream::connect((Ipv4Addr::LOCALHOST, 45000)).unwrap();
                drop(server.accept().unwrap().0);
                held.push(c);
                std::thread::sleep(Duration::from_millis(200));
            }
            while !stop_in.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
            }
            drop(held);
        });
        park(());
        grower.join().expect("the grower");
    });
    let path = parked.path.clone();
    // Declared after `parked`, so dropped before it, even when a panic unwinds: the grower
    // must stop before the parked namespace's thread joins it.
    let _stop = StopOnDrop(stop);
    with_netns(move |ns| {
        let mut args = daemonset_args();
        assert_eq!(
            args[..3],
            ["serve", "--listen", &format!("127.0.0.1:{PORT}")]
        );
        args.extend(["--netns".to_string(), path]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let serve = Serve::start(ns, &args[1..]);
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(repo().join(RULES), dir.path().join("rules.yml")).unwrap();
        write(
            &dir.path().join("prometheus.yml"),
            &format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
                 rule_files: [rules.yml]\n\
                 scrape_configs:\n  - job_name: conntrend\n    static_configs:\n      \
                 - targets: ['127.0.0.1:{PORT}']\n"
            ),
        );
        let log = dir.path().join("prometheus.log");
        let mut cmd = Command::new(prometheus);
        cmd.arg(format!(
            "--config.file={}",
            dir.path().join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{WEB_PORT}"))
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
        let mut prom = Killed(ns.spawn(&mut cmd));
        let log_text = || std::fs::read_to_string(&log).unwrap_or_default();

        // Each query until it has data: the dashboard's (the windows short enough for a test
        // that lasts seconds), each recording rule, and each metric the rules and panels read.
        let mut pending: BTreeMap<String, String> = BTreeMap::new();
        let mut names = BTreeSet::new();
        for (title, refid, expr) in queries() {
            names.extend(metric_names(&expr));
            pending.insert(
                substitute(&expr, "1m", "10s"),
                format!("panel {title:?} {refid}"),
            );
        }
        let mut records = Vec::new();
        for g in groups() {
            for r in g["rules"].as_array().unwrap() {
                names.extend(metric_names(r["expr"].as_str().unwrap()));
                if let Some(record) = r["record"].as_str() {
                    records.push(record.to_string());
                    pending.insert(record.to_string(), "recording rule".to_string());
                }
            }
        }
        for n in &names {
            pending.insert(
                n.clone(),
                "a metric the rules or the dashboard read".to_string(),
            );
        }
        // The pool over 90% used: the first alert pending (it would fire after 5 minutes).
        let pending_alert =
            "ALERTS{alertname=\"ConntrendEphemeralPortsNearlyExhausted\",alertstate=\"pending\"}";
        pending.insert(
            pending_alert.to_string(),
            "an alert of the rules".to_string(),
        );
        let deadline = Instant::now() + Duration::from_secs(50);
        let mut health;
        loop {
            pending.retain(|q, _| query(q).is_empty());
            health = rule_health();
            let healthy = !health.is_empty() && health.values().all(|(h, _)| h == "ok");
            if pending.is_empty() && healthy {
                break;
            }
            if let Ok(Some(status)) = prom.0.try_wait() {
                panic!("prometheus ended ({status})\n{}", log_text());
            }
            assert!(
                Instant::now() < deadline,
                "after 50 s, no data for:\n{pending:#?}\nrules: {health:#?}\n{}\n{}",
                log_text(),
                serve.stderr()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
        assert_eq!(
            health.len(),
            groups()
                .iter()
                .map(|g| g["rules"].as_array().unwrap().len())
                .sum::<usize>()
        );
        drop(prom);
    });
}

/// Sets the flag when dropped.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}
