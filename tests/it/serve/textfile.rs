//! `--format prom -o FILE`, the textfile for node_exporter's textfile collector: the same
//! metric names as `serve`, exact values, promtool content, and FILE replaced atomically.

use std::time::Duration;

use super::values::{expected, pool_and_mix, sampled};
use super::{Metrics, Serve, get, metrics, promtool};
use crate::netns::mix::Mix;
use crate::netns::{Pool, with_netns};
use crate::util::{conntrend, run};

/// `--format prom -o FILE`: FILE always whole (a reader polling it during the run sees the old
/// file or a complete new one, never a partial write), rewritten by rename (a new inode), no
/// temporary file left, values exact, promtool content.
#[test]
fn textfile_is_replaced_atomically_with_exact_values() {
    with_netns(|ns| {
        let (pool, mix) = pool_and_mix(ns);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("conntrend.prom");
        std::fs::write(&path, "stale\n").unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let poller = {
            let (path, stop) = (path.clone(), stop.clone());
            std::thread::spawn(move || {
                use std::io::Read;
                use std::os::unix::fs::MetadataExt;
                let mut seen: Vec<(u64, String)> = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let mut f = std::fs::File::open(&path).expect("FILE is always there");
                    let ino = f.metadata().unwrap().ino();
                    let mut text = String::new();
                    f.read_to_string(&mut text).unwrap();
                    if seen.last() != Some(&(ino, text.clone())) {
                        seen.push((ino, text));
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
                seen
            })
        };
        let mut cmd = conntrend();
        cmd.args(["--format", "prom", "-i", "1", "-c", "3", "--dst", "-o"])
            .arg(&path);
        let r = run(cmd);
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let seen = poller.join().unwrap();
        r.expect_code(0);
        assert_eq!(r.stdout(), "", "{}", r.describe());
        let last = std::fs::read_to_string(&path).unwrap();
        // The sockets do not change, and series come in a fixed order: every read is the
        // stale file or, byte for byte, the last one.
        let whole = metrics(&last);
        for (_, text) in &seen {
            assert!(
                text == "stale\n" || *text == last,
                "a partial read, or the series in another order:\n{text}\nlast:\n{last}"
            );
        }
        // A file is never changed in place: one text per inode as long as it is FILE (a freed
        // inode number may come back later, never while it is still FILE), and the samples
        // replaced the stale file. A loaded machine may run two samples back to back, faster
        // than the poller looks, so at least two of the three replacements must be seen.
        let mut replaced = 0;
        for pair in seen.windows(2) {
            let ((was, _), (now, _)) = (&pair[0], &pair[1]);
            assert_ne!(was, now, "FILE changed in place: {seen:#?}");
            replaced += 1;
        }
        assert_eq!(seen[0].1, "stale\n");
        assert!(
            (2..=3).contains(&replaced),
            "stale, then one file per sample: {seen:#?}"
        );
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["conntrend.prom"], "no temporary file left");
        let (code, said) = promtool(&last);
        assert_eq!((code, said.as_str()), (Some(0), ""), "promtool on\n{last}");
        // The textfile exports the 5 busiest destinations (--dst-top's default, as serve's),
        // and no exporter counters.
        assert_eq!(sampled(&whole), expected(&mix.socks, &pool, 5), "{last}");
        assert!(!last.contains("conntrend_samples"), "{last}");
        // Prometheus text needs a file: to standard output it is refused.
        let mut cmd = conntrend();
        cmd.args(["--format", "prom", "-c", "1"]);
        let r = run(cmd);
        r.expect_code(2);
        assert!(r.stderr().contains("give -o FILE"), "{}", r.describe());
    });
}

/// `conntrend_destination_min_free_ports` is "the minimum free toward any destination" (issue
/// 12) in `serve`, and the textfile has "the same metric names"; its `dst` label names that
/// destination (issue 19). Here the busiest destination is not the one with the fewest free
/// ports: A (127.0.0.1:45000) has 3 clients whose ports are also explicit binds (listeners), so
/// they cost A nothing more; B (127.0.0.1:45001) has 2 clients on unbound ports. Free toward A:
/// 990 - 3 = 987; toward B: 990 - 3 - 2 = 985.
#[test]
fn textfile_min_free_is_the_fewest_toward_any_destination_as_in_serve() {
    with_netns(|ns| {
        let pool = Pool::new(40000, 40999, "40010-40019");
        pool.apply(ns);
        let mut mix = Mix::new(ns);
        mix.listen(false, 45000).listen(false, 45001);
        for cport in 40100..40103 {
            mix.estab(false, cport, 45000);
        }
        mix.estab(false, 40200, 45001).estab(false, 40201, 45001);
        for port in 40100..40103 {
            mix.listen(false, port);
        }
        mix.settle();
        let want = expected(&mix.socks, &pool, 1);
        let a = "conntrend_destination_used_ports{dst=\"127.0.0.1:45000\"}";
        assert_eq!(want.get(a), Some(&3.0), "the calculator");
        let min = "conntrend_destination_min_free_ports{dst=\"127.0.0.1:45001\"}";
        assert_eq!(want.get(min), Some(&985.0), "the calculator");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("conntrend.prom");
        textfile_once(&path, "1");
        let file = metrics(&std::fs::read_to_string(&path).unwrap());

        let serve = Serve::start(ns, &["--dst-top", "1"]);
        let scraped = serve.scrape_from(46000);
        assert_eq!(
            (get(&scraped, a), get(&scraped, min)),
            (3.0, 985.0),
            "serve"
        );
        assert_eq!(
            (get(&file, a), get(&file, min)),
            (3.0, 985.0),
            "the textfile's {min} is the busiest destination's free, not the fewest"
        );
        assert_eq!(sampled(&file), want);
    });
}

/// `--format prom --dst --dst-top 2` (issue 19): the two busiest of three destinations, in rank
/// order with their exact used ports, and the min-free series naming the third, which is none
/// of them. A (127.0.0.1:45000) has 4 clients and B (:45001) 3, all on ports that are also
/// explicit binds (listeners); C (:45002) has 2 clients on unbound ports. 7 ports are bound, so
/// free toward A and B is 990 - 7 = 983, toward C 990 - 7 - 2 = 981. `serve --dst-top 2` says
/// the same.
#[test]
fn textfile_dst_top_writes_the_k_busiest_and_names_the_min_free_destination() {
    with_netns(|ns| {
        let pool = Pool::new(40000, 40999, "40010-40019");
        pool.apply(ns);
        let mut mix = Mix::new(ns);
        mix.listen(false, 45000)
            .listen(false, 45001)
            .listen(false, 45002);
        let (a, b, c) = (40100..40104, 40200..40203, 40300..40302);
        for cport in a.clone() {
            mix.estab(false, cport, 45000);
        }
        for cport in b.clone() {
            mix.estab(false, cport, 45001);
        }
        for cport in c {
            mix.estab(false, cport, 45002);
        }
        for port in a.chain(b) {
            mix.listen(false, port);
        }
        mix.settle();

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("conntrend.prom");
        textfile_once(&path, "2");
        let text = std::fs::read_to_string(&path).unwrap();
        let destinations: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("conntrend_destination_"))
            .collect();
        assert_eq!(
            destinations,
            [
                "conntrend_destination_used_ports{dst=\"127.0.0.1:45000\"} 4",
                "conntrend_destination_used_ports{dst=\"127.0.0.1:45001\"} 3",
                "conntrend_destination_min_free_ports{dst=\"127.0.0.1:45002\"} 981",
            ],
            "{text}"
        );
        let file = metrics(&text);
        assert_eq!(sampled(&file), expected(&mix.socks, &pool, 2), "{text}");
        let (code, said) = promtool(&text);
        assert_eq!((code, said.as_str()), (Some(0), ""), "promtool on\n{text}");

        let serve = Serve::start(ns, &["--dst-top", "2"]);
        let scraped = serve.scrape_from(46000);
        assert_eq!(
            only_destinations(&scraped),
            only_destinations(&file),
            "serve --dst-top 2"
        );
    });
}

fn only_destinations(m: &Metrics) -> Metrics {
    m.iter()
        .filter(|(k, _)| k.starts_with("conntrend_destination_"))
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

/// One sample of `--format prom --dst --dst-top K` written to `path`.
fn textfile_once(path: &std::path::Path, dst_top: &str) {
    let mut cmd = conntrend();
    cmd.args([
        "--format",
        "prom",
        "-c",
        "1",
        "--dst",
        "--dst-top",
        dst_top,
        "-o",
    ])
    .arg(path);
    run(cmd).expect_code(0);
}
