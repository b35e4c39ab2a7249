//! `conntrack events`, run beside `conntrack -E` in the same namespace over the same flows: both
//! see the same (event, protocol, tuple) set, the one derived by hand from the flows; the summary
//! counts what was shown; a queue that overflows loses events that are counted, not a failure.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{ct, hold_flows, set_netfilter, track};
use crate::netns::NetNs;
use crate::netns::with_netns;

/// An event as both tools tell it: kind, protocol, original src, dst, sport, dport.
type Event = (String, String, String, String, u16, u16);

/// A running watcher whose stdout lines are collected as they come.
struct Watcher {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<JoinHandle<()>>,
}

impl Watcher {
    fn spawn(mut cmd: Command) -> Watcher {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (out, sink) = (child.stdout.take().unwrap(), Arc::clone(&lines));
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Watcher {
            child,
            lines,
            reader: Some(reader),
        }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    fn signal(&self, sig: libc::c_int) {
        // SAFETY: kill(2) on the pid of a child this test started and has not reaped.
        assert_eq!(
            unsafe { libc::kill(self.child.id() as libc::pid_t, sig) },
            0
        );
    }

    /// SIGINT, then its exit status, stdout lines and stderr (waiting at most 10 s).
    fn stop(mut self) -> (Option<i32>, Vec<String>, String) {
        self.signal(libc::SIGINT);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the watcher did not stop on SIGINT: {:?}", self.lines());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.reader.take().unwrap().join().unwrap();
        let out = self.child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code(), self.lines.lock().unwrap().clone(), err)
    }
}

/// `conntend ct events --json` lines as events.
fn ours(lines: &[String]) -> Vec<Event> {
    lines
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            let s = |k: &str| v[k].as_str().unwrap().to_string();
            let p = |k: &str| v[k].as_u64().unwrap_or(0) as u16;
            let (src, dst) = (s("orig_src"), s("orig_dst"));
            (
                s("event"),
                s("proto"),
                src,
                dst,
                p("orig_sport"),
                p("orig_dport"),
            )
        })
        .collect()
}

/// `conntrack -E` lines (`[NEW] udp 17 30 src=... dst=... sport=... dport=... ...`) as events.
fn theirs(lines: &[String]) -> Vec<Event> {
    lines
        .iter()
        .map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let first = |key: &str| {
                let v = words.iter().find_map(|w| w.strip_prefix(key));
                v.unwrap_or_else(|| panic!("{key} in {l}")).to_string()
            };
            let addr = |s: String| s.parse::<std::net::IpAddr>().unwrap().to_string();
            let kind = words[0].trim_matches(|c| c == '[' || c == ']').to_string();
            (
                kind,
                words[1].to_string(),
                addr(first("src=")),
                addr(first("dst=")),
                first("sport=").parse().unwrap(),
                first("dport=").parse().unwrap(),
            )
        })
        .collect()
}

/// Sends one datagram from 127.0.0.1:`sport` to 127.0.0.1:`dport`. Source ports below the
/// ephemeral range, each used once: a reused tuple would find its entry and make no NEW.
fn datagram(sport: u16, dport: u16) {
    let s = UdpSocket::bind(("127.0.0.1", sport)).unwrap();
    s.send_to(b"x", ("127.0.0.1", dport)).unwrap();
}

type Parse = fn(&[String]) -> Vec<Event>;

/// Sends probes to `dport` (from `base`, `base + 1`, ...) until every watcher has shown the NEW
/// of one (each waited for up to 200 ms, 50 probes at most): they are then subscribed, and
/// nothing sent earlier is still on its way to them. Returns how many probes were sent.
fn until_seen(base: u16, dport: u16, watchers: &[(&Watcher, Parse)]) -> usize {
    for sent in 1..=50 {
        let sport = base + sent as u16;
        datagram(sport, dport);
        let deadline = Instant::now() + Duration::from_millis(200);
        while Instant::now() < deadline {
            let seen = |(w, parse): &(&Watcher, Parse)| {
                let events = parse(&w.lines());
                events
                    .iter()
                    .any(|e| e.0 == "NEW" && e.4 == sport && e.5 == dport)
            };
            if watchers.iter().all(seen) {
                return sent;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    panic!("the watchers never showed a probe to port {dport}");
}

fn events_cmd(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_conntrend"));
    cmd.args(["conntrack", "events", "--json"]).args(args);
    cmd
}

/// What the held flows make happen, flushed at the end: each is NEW, then UPDATE when its state
/// changes (a TCP handshake, a UDP answer), then DESTROY.
fn expected() -> BTreeSet<Event> {
    let lo4 = "127.0.0.1";
    let mut want = BTreeSet::new();
    for (proto, src, sport, dport, updated) in [
        ("tcp", lo4, 41001, 7000, true),
        ("tcp", "::1", 41002, 7001, true),
        ("tcp", lo4, 41003, 7000, true),
        ("udp", lo4, 41010, 9001, true),
        ("udp", lo4, 41011, 9002, false),
    ] {
        for kind in ["NEW", "UPDATE", "DESTROY"] {
            if kind != "UPDATE" || updated {
                let (k, p) = (kind.to_string(), proto.to_string());
                want.insert((k, p, src.to_string(), src.to_string(), sport, dport));
            }
        }
    }
    want
}

#[test]
fn events_are_what_conntrack_e_sees() {
    with_netns(|ns: &NetNs| {
        track(ns);
        let ours_w = Watcher::spawn(events_cmd(&[]));
        let mut e = Command::new("conntrack");
        e.arg("-E");
        let theirs_w = Watcher::spawn(e);
        until_seen(20000, 40998, &[(&ours_w, ours), (&theirs_w, theirs)]);
        let (mix, udp, _) = hold_flows(ns);
        ct(&["flush"]).expect_code(0);
        let want = expected();
        let seen = |parse: fn(&[String]) -> Vec<Event>, w: &Watcher| -> BTreeSet<Event> {
            parse(&w.lines())
                .into_iter()
                .filter(|e| e.5 != 40998)
                .collect()
        };
        ns.wait_until("both watchers to see every event", || {
            seen(ours, &ours_w) == want && seen(theirs, &theirs_w) == want
        });
        // Both stop while the flows are still held: closing them would make more events.
        let (code, lines, err) = ours_w.stop();
        let (their_code, their_lines, _) = theirs_w.stop();
        drop((mix, udp));
        assert_eq!((code, their_code), (Some(0), Some(0)), "{err}");
        let mine: Vec<Event> = ours(&lines);
        assert_eq!(
            mine.iter()
                .filter(|e| e.5 != 40998)
                .cloned()
                .collect::<BTreeSet<_>>(),
            theirs(&their_lines)
                .into_iter()
                .filter(|e| e.5 != 40998)
                .collect::<BTreeSet<_>>()
        );
        // The summary, on stderr, counts every line shown, by kind.
        let count = |k: &str| mine.iter().filter(|e| e.0 == k).count();
        let summary = format!(
            "conntrend: {} conntrack events shown: NEW {}, UPDATE {}, DESTROY {}\n",
            mine.len(),
            count("NEW"),
            count("UPDATE"),
            count("DESTROY")
        );
        assert_eq!(err, summary);
    });
}

/// `-e` subscribes to some kinds only; the text form has a header and one line per event.
#[test]
fn an_event_mask_and_the_text_form() {
    with_netns(|ns: &NetNs| {
        track(ns);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_conntrend"));
        cmd.args(["ct", "events", "-e", "DESTROY,new", "-p", "udp"]);
        let w = Watcher::spawn(cmd);
        let text = |lines: &[String]| -> Vec<Event> {
            lines
                .iter()
                .filter(|l| !l.starts_with("EVENT"))
                .map(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    let port = |s: &str| s.rsplit(':').next().unwrap().parse().unwrap();
                    let addr = |s: &str| s.rsplit_once(':').unwrap().0.to_string();
                    (
                        f[0].into(),
                        f[3].to_lowercase(),
                        addr(f[4]),
                        addr(f[6]),
                        port(f[4]),
                        port(f[6]),
                    )
                })
                .collect()
        };
        until_seen(20000, 40998, &[(&w, text)]);
        let (mix, udp, _) = hold_flows(ns);
        ct(&["flush"]).expect_code(0);
        let want: BTreeSet<Event> = expected()
            .into_iter()
            .filter(|e| e.1 == "udp" && e.0 != "UPDATE")
            .collect();
        ns.wait_until("NEW and DESTROY of both UDP flows", || {
            text(&w.lines())
                .into_iter()
                .filter(|e| e.5 != 40998)
                .collect::<BTreeSet<_>>()
                == want
        });
        let (code, lines, _) = w.stop();
        drop((mix, udp));
        assert_eq!(code, Some(0));
        assert!(
            lines[0].starts_with("EVENT            ID  STATE"),
            "{lines:?}"
        );
        assert!(
            text(&lines).iter().all(|e| e.0 != "UPDATE" && e.1 == "udp"),
            "{lines:?}"
        );
    });
}

/// A receive queue too small for a burst while the reader is stopped: the kernel drops events and
/// says ENOBUFS. `events` goes on, says once that events are being lost, and its summary counts
/// them: shown + lost is every event sent.
#[test]
fn an_overflowing_queue_loses_events_counted_not_a_failure() {
    with_netns(|ns: &NetNs| {
        track(ns);
        // No UDP entry times out during the test.
        set_netfilter("udp_timeout", 600);
        let quiet = UdpSocket::bind("127.0.0.1:9100").unwrap();
        let w = Watcher::spawn(events_cmd(&["-e", "NEW", "-b", "4096"]));
        until_seen(20000, 40998, &[(&w, ours)]);
        let before = ours(&w.lines()).len();
        w.signal(libc::SIGSTOP);
        const BURST: usize = 200;
        for i in 0..BURST {
            datagram(21000 + i as u16, 9100);
        }
        w.signal(libc::SIGCONT);
        let markers = until_seen(22000, 40997, &[(&w, ours)]);
        let (code, lines, err) = w.stop();
        drop(quiet);
        assert_eq!(code, Some(0), "{err}");
        let shown = ours(&lines).len() - before;
        let lost: usize = err
            .lines()
            .find_map(|l| l.strip_prefix("conntrend: events lost: "))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no count of lost events: {err}"));
        assert!(lost > 0, "{err}");
        assert_eq!(shown + lost, BURST + markers, "{err}");
        assert_eq!(err.matches("events are being lost").count(), 1, "{err}");
        assert!(err.contains("receive queue is"), "{err}");
    });
}

/// With `nf_conntrack_events` 0 the kernel sends nothing: `events` says so when it starts.
#[test]
fn events_turned_off_are_told() {
    with_netns(|ns: &NetNs| {
        track(ns);
        set_netfilter("events", 0);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_conntrend"));
        cmd.args(["ct", "events"]);
        let w = Watcher::spawn(cmd);
        ns.wait_until("the header", || !w.lines().is_empty());
        let (code, lines, err) = w.stop();
        assert_eq!(code, Some(0), "{err}");
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            err.starts_with("conntrend: nf_conntrack_events is 0"),
            "{err}"
        );
        assert!(
            err.ends_with("conntrend: 0 conntrack events shown: NEW 0, UPDATE 0, DESTROY 0\n"),
            "{err}"
        );
    });
}
