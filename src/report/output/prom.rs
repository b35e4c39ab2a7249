//! `--format prom -o FILE`: the metrics of each sample (the names `serve` uses) for
//! node_exporter's textfile collector. The file is rewritten whole each sample, atomically: a
//! temporary file in the same directory, written, fsynced, then renamed over FILE, so the
//! collector never reads half a file. Destinations as `serve` exports them: the `--dst-top` busiest
//! (listed by the engine in the sample's detail) and the one with the fewest free ports.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{RunInfo, TimelineWriter};
use crate::fold::sample::Sample;
use crate::report::metrics::{self, Extra};
use crate::report::summary::Summary;

pub struct PromWriter {
    path: PathBuf,
    tmp: PathBuf,
    /// conntrack drops over the run.
    ct_drops: Option<u64>,
    /// `--dst-top`: 0 writes no destination series, as `serve --dst-top 0`.
    dst_top: usize,
}

impl PromWriter {
    pub fn new(path: &Path, dst_top: usize) -> Self {
        let name = path.file_name().map_or_else(
            || "conntrend.prom".into(),
            |n| n.to_string_lossy().into_owned(),
        );
        // A dot file: the textfile collector reads only `*.prom`.
        let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
        PromWriter {
            path: path.to_path_buf(),
            tmp,
            ct_drops: None,
            dst_top,
        }
    }

    fn replace(&self, text: &str) -> io::Result<()> {
        let result = (|| {
            let mut f = File::create(&self.tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            fs::rename(&self.tmp, &self.path)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&self.tmp);
        }
        result
    }
}

impl TimelineWriter for PromWriter {
    fn header(&mut self, _run: &RunInfo) -> io::Result<()> {
        Ok(())
    }

    fn sample(&mut self, s: &Sample) -> io::Result<()> {
        if let Some(d) = s.ct.and_then(|c| c.drops) {
            self.ct_drops = Some(self.ct_drops.unwrap_or(0) + d);
        }
        let text = metrics::text_format(&metrics::render(
            s,
            &Extra {
                destinations: &s.detail.destinations
                    [..self.dst_top.min(s.detail.destinations.len())],
                min_free: Extra::min_free_of(s).filter(|_| self.dst_top > 0),
                ct_drops_total: self.ct_drops,
                ..Extra::default()
            },
        ));
        self.replace(&text)
    }

    /// The file keeps the last sample's metrics: the collector should go on seeing them.
    fn summary(&mut self, _summary: &Summary) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_sample_replaces_the_file_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("conntrend.prom");
        let mut w = PromWriter::new(&path, 5);
        let mut s = crate::report::output::tests::sample(Some(18), Some(46));
        w.sample(&s).unwrap();
        assert!(
            fs::read_to_string(&path)
                .unwrap()
                .contains("conntrend_pool_free_ports 28076")
        );
        s.free = 5;
        w.sample(&s).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains("conntrend_pool_free_ports 5"));
        assert!(!text.contains("28076"));
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, ["conntrend.prom"], "no temporary file left");
    }

    /// Samples with `n` destinations in rank order (as the engine lists them) and the `--dst`
    /// fold's min-free destination; the file `PromWriter` with `dst_top` writes of it.
    fn written(n: u8, dst_top: usize) -> String {
        use crate::fold::dst::{Dst, DstUse, WorstDst};
        let dst = |i: u8| Dst::from((std::net::Ipv4Addr::new(10, 0, 1, i), 443));
        let mut s = crate::report::output::tests::sample(Some(18), Some(46));
        s.detail.destinations = (0..n)
            .map(|i| DstUse {
                dst: dst(50 - i),
                used: 90 - u32::from(i) * 10,
                free: 1000 + u32::from(i),
                states: Default::default(),
            })
            .collect();
        s.dst = Some(WorstDst {
            min_free: Some(7),
            min_free_dst: Some(dst(200)),
            ..s.detail.destinations.first().copied().into()
        });
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("conntrend.prom");
        PromWriter::new(&path, dst_top).sample(&s).unwrap();
        fs::read_to_string(&path).unwrap()
    }

    fn lines_of<'t>(text: &'t str, metric: &str) -> Vec<&'t str> {
        text.lines()
            .filter(|l| {
                l.starts_with(&format!("{metric}{{")) || l.starts_with(&format!("{metric} "))
            })
            .collect()
    }

    #[test]
    fn dst_top_writes_exactly_k_destinations_in_rank_order() {
        let text = written(4, 4);
        assert_eq!(
            lines_of(&text, "conntrend_destination_used_ports"),
            [
                "conntrend_destination_used_ports{dst=\"10.0.1.50:443\"} 90",
                "conntrend_destination_used_ports{dst=\"10.0.1.49:443\"} 80",
                "conntrend_destination_used_ports{dst=\"10.0.1.48:443\"} 70",
                "conntrend_destination_used_ports{dst=\"10.0.1.47:443\"} 60",
            ]
        );
        assert_eq!(
            lines_of(&text, "conntrend_destination_min_free_ports"),
            ["conntrend_destination_min_free_ports{dst=\"10.0.1.200:443\"} 7"]
        );
        // Never more than K, even from a longer list.
        assert_eq!(
            lines_of(&written(4, 2), "conntrend_destination_used_ports"),
            [
                "conntrend_destination_used_ports{dst=\"10.0.1.50:443\"} 90",
                "conntrend_destination_used_ports{dst=\"10.0.1.49:443\"} 80",
            ]
        );
        // Fewer destinations than K: those there are.
        assert_eq!(
            lines_of(&written(1, 5), "conntrend_destination_used_ports").len(),
            1
        );
        // 0, as serve --dst-top 0: no destination series at all.
        let none = written(4, 0);
        assert!(!none.contains("conntrend_destination"), "{none}");
        assert!(none.contains("\nconntrend_pool_used_ports 156\n"), "{none}");
    }
}
