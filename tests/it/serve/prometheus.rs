//! A real Prometheus server scrapes `conntrend serve` and its HTTP API reports what the test's
//! sockets make. The sockets live in one namespace, sampled with `--netns`; `serve` and
//! Prometheus live in another, so Prometheus's own connections (scrapes, API queries) hold no
//! port in the sampled pool and the values can be exact.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::values::{expected, pool_and_mix};
use super::{Killed, Metrics, PORT, Serve};
use crate::netns::{park_netns, with_netns};

const PROMETHEUS: &str = "/usr/bin/prometheus";
const WEB_PORT: u16 = 9090;

/// `GET path` from Prometheus's web port, if it answers (it may not listen yet): status, body.
fn api(path: &str) -> Option<(u16, String)> {
    let addr: SocketAddr = (Ipv4Addr::LOCALHOST, WEB_PORT).into();
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    // HTTP/1.0: a plain body, then the server closes.
    let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    s.write_all(request.as_bytes()).ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// Percent-encodes a query parameter.
fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An instant query: each result's labels (without `__name__`, `job`, `instance`) as written in
/// the exposition, `name{k="v",...}`, and its value. Empty until the first scrape is stored.
fn query(q: &str) -> Metrics {
    let Some((status, body)) = api(&format!("/api/v1/query?query={}", encode(q))) else {
        return Metrics::new();
    };
    assert_eq!(status, 200, "{q}: {body}");
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(v["status"], "success", "{body}");
    let mut out = Metrics::new();
    for r in v["data"]["result"].as_array().unwrap() {
        let labels = r["metric"].as_object().unwrap();
        let name = labels["__name__"].as_str().unwrap().to_string();
        let rest: Vec<String> = labels
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "__name__" | "job" | "instance"))
            .map(|(k, v)| format!("{k}=\"{}\"", v.as_str().unwrap()))
            .collect();
        let series = if rest.is_empty() {
            name
        } else {
            format!("{name}{{{}}}", rest.join(","))
        };
        let value: f64 = r["value"][1].as_str().unwrap().parse().unwrap();
        out.insert(series, value);
    }
    out
}

fn only(m: &Metrics, family: &str) -> Metrics {
    m.iter()
        .filter(|(k, _)| k.as_str() == family || k.starts_with(&format!("{family}{{")))
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

#[test]
fn prometheus_scrapes_serve_and_its_api_shows_the_test_s_sockets() {
    assert!(
        std::path::Path::new(PROMETHEUS).exists(),
        "{PROMETHEUS} missing: apt-get install -y prometheus"
    );
    let parked = park_netns(|ns, park| {
        let (pool, mix) = pool_and_mix(ns);
        park(expected(&mix.socks, &pool, 5));
        drop(mix);
    });
    let (path, want) = (parked.path.clone(), parked.info.clone());
    with_netns(move |ns| {
        let serve = Serve::start(ns, &["--netns", &path]);
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
                 scrape_configs:\n  - job_name: conntrend\n    static_configs:\n      \
                 - targets: ['127.0.0.1:{PORT}']\n"
            ),
        )
        .unwrap();
        let log = dir.path().join("prometheus.log");
        let mut cmd = Command::new(PROMETHEUS);
        cmd.arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{WEB_PORT}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        let mut prom = Killed(ns.spawn(&mut cmd));
        let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
        // Bounded: the first scrape is due a second after Prometheus starts.
        let deadline = Instant::now() + Duration::from_secs(30);
        let tcp_used = "conntrend_pool_protocol_used_ports{protocol=\"tcp\"}";
        let got = loop {
            let got = query(tcp_used);
            if !got.is_empty() {
                break got;
            }
            if let Ok(Some(status)) = prom.0.try_wait() {
                panic!("prometheus ended ({status})\n{}", log_text());
            }
            assert!(
                Instant::now() < deadline,
                "no conntrend series in Prometheus after 30 s\n{}\n{}",
                log_text(),
                serve.stderr()
            );
            std::thread::sleep(Duration::from_millis(250));
        };
        assert_eq!(got.get(tcp_used), want.get(tcp_used), "{want:#?}");
        assert_eq!(want.get(tcp_used), Some(&11.0), "the calculator");
        assert_eq!(query("up{job=\"conntrend\"}").get("up"), Some(&1.0));
        for family in [
            "conntrend_pool_used_ports",
            "conntrend_pool_protocol_used_ports",
            "conntrend_pool_free_ports",
            "conntrend_pool_ports",
            "conntrend_tcp_sockets",
            "conntrend_udp_sockets",
            "conntrend_destination_used_ports",
            "conntrend_destination_min_free_ports",
        ] {
            assert_eq!(query(family), only(&want, family), "{family}");
        }
        // OpenMetrics counters arrive under their _total names.
        let samples = query("conntrend_samples_total");
        assert!(
            samples
                .get("conntrend_samples_total")
                .is_some_and(|&n| n >= 1.0),
            "{samples:?}"
        );
        drop(prom);
    });
    drop(parked);
}
