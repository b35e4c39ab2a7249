//! The exporter's HTTP with raw sockets: wrong methods and paths, oversized and garbage requests,
//! stalled clients beside a prompt one, and fifty scrapers sharing one sample.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use super::{Serve, connect, exchange, get, read_response};
use crate::netns::with_netns;

#[test]
fn serve_wrong_methods_and_paths_are_refused_without_a_sample() {
    with_netns(|ns| {
        let serve = Serve::start(ns, &["--min-interval", "0"]);
        for request in [
            "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
            "DELETE / HTTP/1.1\r\n\r\n",
        ] {
            let r = serve.raw(request.as_bytes());
            assert_eq!(r.status, 405, "{request:?}: {r:?}");
            assert_eq!(r.header("allow"), Some("GET, HEAD"), "{r:?}");
            assert_eq!(r.body, "method not allowed\n");
        }
        for path in ["/nope", "/metrics/", "/metricsx", "/favicon.ico"] {
            let r = serve.get(path);
            assert_eq!(r.status, 404, "{path}: {r:?}");
            assert_eq!(r.body, "not found: try /metrics\n");
        }
        let index = serve.get("/");
        assert_eq!(index.status, 200, "{index:?}");
        assert_eq!(
            index.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        assert!(index.body.contains("<a href=\"/metrics\">"), "{index:?}");
        assert_eq!(index.header("connection"), Some("close"));
        // None of the above took a sample: the first scrape is the first dump.
        let m = serve.scrape();
        assert_eq!(get(&m, "conntrend_samples_total"), 1.0);
        assert_eq!(get(&m, "conntrend_scrape_errors_total"), 0.0);
        // A query string is ignored; HEAD answers the head alone (and, min-interval 0, samples).
        let q = serve.get("/metrics?name[]=x");
        assert_eq!(q.status, 200, "{q:?}");
        assert_eq!(
            get(&super::metrics(&q.body), "conntrend_samples_total"),
            2.0
        );
        // HTTP/1.0 with bare line feeds is understood too.
        let old = serve.raw(b"GET /metrics HTTP/1.0\n\n");
        assert_eq!(old.status, 200, "{old:?}");
        let old = super::metrics(&old.body);
        assert_eq!(get(&old, "conntrend_samples_total"), 3.0);
        let head = serve.raw(b"HEAD /metrics HTTP/1.1\r\n\r\n");
        assert_eq!(head.status, 200, "{head:?}");
        assert_eq!(head.body, "", "HEAD has no body");
        let len: usize = head.header("content-length").unwrap().parse().unwrap();
        assert!(len > 1000, "{head:?}");
        assert_eq!(get(&serve.scrape(), "conntrend_samples_total"), 5.0);
    });
}

/// Sends `request`, then reads the answer. The server refuses after reading 8 KiB and closes
/// with bytes unread, which can reset the connection: the answer must still have arrived first.
fn refused(serve: &Serve, request: &[u8]) -> super::Response {
    let mut stream = connect(serve.addr, None);
    // The server may stop reading (and reset) while the test still writes: only the answer
    // counts.
    let _ = stream.write_all(request);
    read_response(&mut stream)
}

#[test]
fn serve_oversized_heads_get_431_and_64_headers_still_pass() {
    with_netns(|ns| {
        let serve = Serve::start(ns, &[]);
        // One header line past 8 KiB, never finished.
        let mut big = b"GET /metrics HTTP/1.1\r\nX-Big: ".to_vec();
        big.resize(8 * 1024 + 100, b'a');
        let r = refused(&serve, &big);
        assert_eq!(r.status, 431, "{r:?}");
        assert_eq!(r.body, "request head too large\n");
        // A whole head of 9 KiB, ended properly.
        let mut whole = format!(
            "GET /metrics HTTP/1.1\r\nX-Big: {}\r\n\r\n",
            "b".repeat(9000)
        );
        let r = refused(&serve, whole.as_bytes());
        assert_eq!(r.status, 431, "{r:?}");
        // 65 small headers (under 8 KiB): too many; 64 are fine.
        whole = format!("GET /metrics HTTP/1.1\r\n{}\r\n", "X: y\r\n".repeat(65));
        assert_eq!(serve.raw(whole.as_bytes()).status, 431);
        whole = format!("GET /metrics HTTP/1.1\r\n{}\r\n", "X: y\r\n".repeat(64));
        let r = serve.raw(whole.as_bytes());
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(
            get(&super::metrics(&r.body), "conntrend_samples_total"),
            1.0
        );
    });
}

#[test]
fn serve_garbage_gets_400_and_the_server_goes_on() {
    with_netns(|ns| {
        let serve = Serve::start(ns, &[]);
        let garbage: [&[u8]; 12] = [
            b"GET\r\n\r\n",
            b"get /metrics HTTP/1.1\r\n\r\n",
            b"GET metrics HTTP/1.1\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nX: a\rb\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nX: a\x00b\r\n\r\n",
            b"GET /met\x01rics HTTP/1.1\r\n\r\n",
            b"GET /metrics HTTP/1.1 extra\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nBad Name: v\r\n\r\n",
            b"\xff\xfe\x00\x01\x80garbage\r\n\r\n",
            b"\r\n\r\n",
        ];
        for bytes in garbage {
            let r = serve.raw(bytes);
            assert_eq!(r.status, 400, "{bytes:?}: {r:?}");
            assert_eq!(r.body, "malformed request\n");
        }
        // A TLS ClientHello's first bytes, then the client half-closes: no end of head ever comes.
        let mut tls = connect(serve.addr, None);
        tls.write_all(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
            .unwrap();
        tls.shutdown(Shutdown::Write).unwrap();
        assert_eq!(read_response(&mut tls).status, 400);
        // A client that connects and leaves without a byte gets nothing, and nothing breaks.
        drop(connect(serve.addr, None));
        let m = serve.scrape();
        assert_eq!(get(&m, "conntrend_samples_total"), 1.0);
        assert_eq!(get(&m, "conntrend_scrape_errors_total"), 0.0);
    });
}

#[test]
fn serve_stalled_clients_do_not_hold_up_a_scraper_and_are_dropped_after_2_or_5_s() {
    with_netns(|ns| {
        let serve = Serve::start(ns, &[]);
        let opened = Instant::now();
        // (what it sends, when it is dropped): 2 s to send a first byte, 5 s for the whole head.
        let stalled: Vec<_> = [
            (&b""[..], 2),
            (b"GET /metr", 5),
            (b"GET /metrics HTTP/1.1\r\nHost: x\r\n", 5), // no blank line
        ]
        .iter()
        .map(|&(half, after)| {
            let mut s = connect(serve.addr, None);
            s.write_all(half).unwrap();
            (s, after)
        })
        .collect();
        std::thread::sleep(Duration::from_millis(200));
        let asked = Instant::now();
        let m = serve.scrape();
        let took = asked.elapsed();
        assert!(
            took < Duration::from_secs(2),
            "a scrape beside stalled clients took {took:?} (the read deadlines are 2 and 5 s)"
        );
        assert_eq!(get(&m, "conntrend_samples_total"), 1.0);
        // Each stalled client is closed without an answer once its time is up.
        for (mut s, after) in stalled {
            let mut got = Vec::new();
            let read = s.read_to_end(&mut got);
            let closed = opened.elapsed();
            assert!(read.is_ok(), "{read:?} after {closed:?}");
            assert_eq!(got, b"", "a stalled client was answered");
            let due = Duration::from_secs(after);
            assert!(
                closed >= due - Duration::from_millis(500) && closed < due + Duration::from_secs(4),
                "closed after {closed:?}, not about {due:?}"
            );
        }
    });
}

/// Idle connections hold no slot a request needs: with 64 open that sent nothing, a 65th
/// connection is served, and the oldest idle one is closed (without an answer) to make room.
#[test]
fn serve_a_65th_connection_closes_the_oldest_idle_one() {
    with_netns(|ns| {
        let serve = Serve::start(ns, &[]);
        let mut held = Vec::new();
        for _ in 0..64 {
            held.push(connect(serve.addr, None));
            // One at a time, so that the server's order is the test's.
            std::thread::sleep(Duration::from_millis(5));
        }
        // The accept loop hands each one to its thread: give it a moment to count all 64.
        std::thread::sleep(Duration::from_millis(300));
        let asked = Instant::now();
        let r = serve.get("/metrics");
        assert_eq!(r.status, 200, "{r:?}");
        assert!(
            asked.elapsed() < Duration::from_secs(2),
            "{:?}",
            asked.elapsed()
        );
        let mut oldest = held.remove(0);
        let mut got = Vec::new();
        assert!(oldest.read_to_end(&mut got).is_ok());
        assert_eq!(got, b"", "the closed one was answered");
        // The others are still open (their 2 s to send a first byte are not up yet).
        for s in &held {
            s.set_nonblocking(true).unwrap();
            let read = (&*s).read(&mut [0u8; 1]);
            assert_eq!(
                read.map_err(|e| e.kind()),
                Err(std::io::ErrorKind::WouldBlock),
                "a younger idle connection was closed"
            );
        }
    });
}

#[test]
fn serve_fifty_concurrent_scrapers_share_one_sample() {
    with_netns(|ns| {
        let serve = Serve::start(ns, &["--min-interval", "5"]);
        let addr = serve.addr;
        let gate = Arc::new(Barrier::new(50));
        let started = Instant::now();
        let scrapers: Vec<_> = (0..50)
            .map(|_| {
                let gate = gate.clone();
                std::thread::spawn(move || {
                    gate.wait();
                    let r = exchange(addr, None, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
                    (r, Instant::now())
                })
            })
            .collect();
        let (answers, done): (Vec<_>, Vec<_>) =
            scrapers.into_iter().map(|t| t.join().unwrap()).unzip();
        let burst = started.elapsed();
        assert!(
            burst < Duration::from_secs(4),
            "the burst took {burst:?}: too slow to test a 5 s --min-interval"
        );
        let first = super::metrics(&answers[0].body);
        for r in &answers {
            assert_eq!(r.status, 200, "{r:?}\n{}", serve.stderr());
            let m = super::metrics(&r.body);
            assert_eq!(get(&m, "conntrend_samples_total"), 1.0, "one dump for all");
            assert_eq!(m, first, "every scraper got the same sample");
        }
        assert_eq!(get(&serve.scrape(), "conntrend_samples_total"), 1.0);
        // Once --min-interval has passed since that sample (taken before the first answer
        // arrived), the next scrape takes a new one.
        let sampled_by = *done.iter().min().unwrap();
        let due = sampled_by + Duration::from_millis(5100);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        assert_eq!(get(&serve.scrape(), "conntrend_samples_total"), 2.0);
    });
}

#[test]
fn serve_listens_on_loopback_9959_by_default_and_ends_on_sigterm() {
    with_netns(|ns| {
        let mut serve = Serve::start(ns, &[]);
        let listening = ns.stdout(&["ss", "-tlnH"]);
        let local: Vec<&str> = listening
            .lines()
            .map(|l| l.split_whitespace().nth(3).unwrap())
            .collect();
        assert_eq!(local, ["127.0.0.1:9959"], "loopback only:\n{listening}");
        // The default --min-interval is 1 s: two scrapes in a row share one sample.
        let asked = Instant::now();
        let (a, b) = (serve.scrape(), serve.scrape());
        assert!(
            asked.elapsed() < Duration::from_millis(900),
            "{:?}",
            asked.elapsed()
        );
        assert_eq!(get(&a, "conntrend_samples_total"), 1.0);
        assert_eq!(get(&b, "conntrend_samples_total"), 1.0);
        let status = serve.terminate();
        assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", serve.stderr());
        assert_eq!(serve.stderr(), "");
        // Another address with --listen; a port already taken is a runtime failure naming it.
        let other = Serve::start_on(ns, 9960, &[]);
        assert_eq!(other.get("/").status, 200);
        let mut cmd = crate::util::conntrend();
        cmd.args(["serve", "--listen", "127.0.0.1:9960"]);
        let r = crate::util::run(cmd);
        r.expect_code(1);
        assert!(
            r.stderr()
                .starts_with("conntrend: cannot listen on 127.0.0.1:9960"),
            "{}",
            r.describe()
        );
    });
}

/// A sample that fails (here a saved proc tree loses its `net/tcp`) is a 500 naming the cause
/// and counted in conntrend_scrape_errors_total; the next good scrape is served.
#[test]
fn serve_a_failed_sample_is_a_500_and_counted() {
    with_netns(|ns| {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let saved = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/network-connections/6.8.0-45-generic/net"
        );
        std::fs::create_dir_all(root.join("net")).unwrap();
        std::fs::create_dir_all(root.join("sys/net/ipv4")).unwrap();
        for table in ["tcp", "tcp6", "udp", "udp6"] {
            std::fs::copy(format!("{saved}/{table}"), root.join("net").join(table)).unwrap();
        }
        std::fs::write(
            root.join("sys/net/ipv4/ip_local_port_range"),
            "40000 40999\n",
        )
        .unwrap();
        let root_arg = root.to_str().unwrap();
        let serve = Serve::start(ns, &["--proc-root", root_arg, "--min-interval", "0"]);
        let m = serve.scrape();
        assert_eq!(get(&m, "conntrend_pool_ports"), 1000.0);
        assert_eq!(get(&m, "conntrend_scrape_errors_total"), 0.0);
        let tcp = root.join("net/tcp");
        std::fs::rename(&tcp, root.join("tcp.away")).unwrap();
        let r = serve.get("/metrics");
        assert_eq!(r.status, 500, "{r:?}");
        assert_eq!(r.header("content-type"), Some("text/plain"));
        assert!(
            r.body.starts_with("sample failed: ")
                && r.body.contains(&format!("cannot read {}", tcp.display())),
            "{r:?}"
        );
        std::fs::rename(root.join("tcp.away"), &tcp).unwrap();
        let m = serve.scrape();
        assert_eq!(get(&m, "conntrend_scrape_errors_total"), 1.0);
        assert_eq!(
            get(&m, "conntrend_samples_total"),
            2.0,
            "the failed one is no sample"
        );
    });
}

/// Issue 17: a head whose lines end in a bare LF is read as RFC 9112 §2.2 allows, wherever the
/// blank line's CR is (or is not); the head ends at the first blank line, so a request pipelined
/// behind it is not read as headers.
#[test]
fn serve_bare_lf_line_endings_are_read_leniently() {
    with_netns(|ns| {
        let serve = Serve::start(ns, &[]);
        for request in [
            &b"GET /metrics HTTP/1.1\nHost: x\n\r\n"[..],
            b"GET /metrics HTTP/1.1\r\nHost: x\n\r\n",
            b"GET /metrics HTTP/1.1\nHost: x\r\n\n",
            b"GET /metrics HTTP/1.1\n\r\n",
            b"GET /metrics HTTP/1.1\n\nGET / HTTP/1.1\r\n\r\n",
            b"GET /metrics HTTP/1.0\n\nGET /metrics HTTP/1.0\n\n",
        ] {
            let r = serve.raw(request);
            assert_eq!(r.status, 200, "{request:?}: {r:?}");
            assert!(
                get(&super::metrics(&r.body), "conntrend_samples_total") >= 1.0,
                "{request:?}: {r:?}"
            );
        }
    });
}

/// Issue 17: OpenMetrics only when the scraper's Accept finds it acceptable (q > 0) and at least
/// as welcome as the text format.
#[test]
fn serve_accept_quality_chooses_the_format() {
    with_netns(|ns| {
        let serve = Serve::start(ns, &[]);
        let text = "text/plain; version=0.0.4; charset=utf-8";
        let om = "application/openmetrics-text; version=1.0.0; charset=utf-8";
        for (accept, want) in [
            ("application/openmetrics-text;q=0", text),
            ("application/openmetrics-text; q=0.000", text),
            ("Application/OpenMetrics-Text;Q=0", text),
            ("application/openmetrics-text;q=0, text/plain", text),
            ("text/plain;q=1, application/openmetrics-text;q=0.5", text),
            ("application/openmetrics-text;q=nonsense", text),
            ("application/openmetrics-text", om),
            ("application/openmetrics-text;q=0.001", om),
            // What Prometheus 2.x sends.
            (
                "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
                 version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
                om,
            ),
            (
                "text/plain;q=0.5, application/openmetrics-text;version=1.0.0;q=0.6",
                om,
            ),
        ] {
            let r = serve.raw(
                format!("GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: {accept}\r\n\r\n").as_bytes(),
            );
            assert_eq!(r.status, 200, "{accept}: {r:?}");
            assert_eq!(r.header("content-type"), Some(want), "{accept}");
            assert_eq!(r.body.ends_with("# EOF\n"), want == om, "{accept}: {r:?}");
        }
    });
}

/// Issue 17: only HTTP/1.0 and HTTP/1.1 are served; another version that is well formed is 505,
/// anything else in its place 400.
#[test]
fn serve_only_http_1_0_and_1_1_are_served() {
    with_netns(|ns| {
        let serve = Serve::start(ns, &[]);
        for version in ["HTTP/1.0", "HTTP/1.1"] {
            let r = serve.raw(format!("GET / {version}\r\n\r\n").as_bytes());
            assert_eq!(r.status, 200, "{version}: {r:?}");
        }
        for version in [
            "HTTP/1.7abc",
            "HTTP/1.1x",
            "HTTP/1.10",
            "HTTP/1",
            "HTTP/11",
            "http/1.1",
            "HTTP/1.",
            "HTTP/a.1",
            "HTTP/3",
        ] {
            let r = serve.raw(format!("GET / {version}\r\n\r\n").as_bytes());
            assert_eq!(r.status, 400, "{version}: {r:?}");
            assert_eq!(r.body, "malformed request\n");
        }
        for version in ["HTTP/2.0", "HTTP/1.2", "HTTP/0.9", "HTTP/3.0"] {
            let r = serve.raw(format!("GET / {version}\r\n\r\n").as_bytes());
            assert_eq!(r.status, 505, "{version}: {r:?}");
            assert_eq!(r.body, "HTTP version not supported: use HTTP/1.1\n");
        }
    });
}
