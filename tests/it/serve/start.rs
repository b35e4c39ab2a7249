//! The one line `serve` says on stderr at start: where it listens (issue 17) and what
//! `/metrics` holds (issue 19).

use std::time::{Duration, Instant};

use super::Serve;
use crate::netns::with_netns;

/// Issue 17: the server says on stderr where it listens, once it can answer: with port 0, the
/// port the kernel chose.
#[test]
fn serve_says_where_it_listens() {
    with_netns(|ns| {
        let chosen = Serve::start_on(ns, 0, &[]);
        let said = chosen.listening().expect("a listening line");
        assert_ne!(chosen.addr.port(), 0, "{said}");
        assert!(said.starts_with("127.0.0.1:"), "{said}");
        assert_eq!(chosen.get("/").status, 200);
        let listed = ns.stdout(&["ss", "-tlnH"]);
        assert!(listed.contains(&said), "{said} not in\n{listed}");
        let default = Serve::start(ns, &[]);
        let deadline = Instant::now() + Duration::from_secs(5);
        while default.listening().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(default.listening().as_deref(), Some("127.0.0.1:9959"));
        assert_eq!(default.stderr(), "", "nothing else");
    });
}

/// Issue 19: the one line said at start names the address and what /metrics holds, and the
/// namespace sampled when it is not conntrend's own.
#[test]
fn serve_says_what_it_serves() {
    with_netns(|ns| {
        let first_line = |serve: &Serve| {
            let deadline = Instant::now() + Duration::from_secs(5);
            while serve.listening().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            let all = serve.stderr.lock().unwrap().clone();
            all.lines().next().unwrap_or_default().to_string()
        };
        let plain = Serve::start(ns, &[]);
        assert_eq!(
            first_line(&plain),
            "conntrend: listening on 127.0.0.1:9959; /metrics has the pool and socket states \
             and the 5 busiest destinations"
        );
        drop(plain);
        // A namespace path (its own, here): said as given.
        let netns = "/proc/self/ns/net";
        let all = Serve::start_on(
            ns,
            0,
            &[
                "--dst-top",
                "1",
                "--conntrack",
                "--forecast",
                "--alert",
                "free<1",
                "--alert",
                "used>0",
                "--netns",
                netns,
            ],
        );
        assert_eq!(
            first_line(&all),
            format!(
                "conntrend: listening on {}; /metrics has the pool and socket states, the \
                 busiest destination, conntrack, the forecast and 2 alerts, sampled in {netns}",
                all.addr
            )
        );
        let none = Serve::start_on(ns, 0, &["--dst-top", "0"]);
        assert_eq!(
            first_line(&none),
            format!(
                "conntrend: listening on {}; /metrics has the pool and socket states",
                none.addr
            )
        );
    });
}
