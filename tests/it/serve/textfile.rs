//! `--format prom -o FILE`, the textfile for node_exporter's textfile collector: the same
//! metric names as `serve`, exact values, promtool content, and FILE replaced atomically.

use std::time::Duration;

use super::values::{expected, pool_and_mix, sampled};
use super::{Serve, get, metrics, promtool};
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
        // Series within a family come in no fixed order: compare what each read says.
        let whole = metrics(&last);
        for (_, text) in &seen {
            assert!(
                text == "stale\n" || (text.ends_with('\n') && metrics(text) == whole),
                "a partial read:\n{text}"
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
        // The textfile exports the busiest destination only, and no exporter counters.
        assert_eq!(sampled(&whole), expected(&mix.socks, &pool, 1), "{last}");
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
/// 12) in `serve`, and the textfile has "the same metric names". Here the busiest destination
/// is not the one with the fewest free ports: A (127.0.0.1:45000) has 3 clients whose ports are
/// also explicit binds (listeners), so they cost A nothing more; B (127.0.0.1:45001) has 2
/// clients on unbound ports. Free toward A: 990 - 3 = 987; toward B: 990 - 3 - 2 = 985.
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
        let min = "conntrend_destination_min_free_ports";
        assert_eq!(want.get(min), Some(&985.0), "the calculator");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("conntrend.prom");
        let mut cmd = conntrend();
        cmd.args(["--format", "prom", "-c", "1", "--dst", "-o"])
            .arg(&path);
        run(cmd).expect_code(0);
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
