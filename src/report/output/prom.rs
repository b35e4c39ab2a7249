//! `--format prom -o FILE`: the metrics of each sample (the names `serve` uses) for
//! node_exporter's textfile collector. The file is rewritten whole each sample, atomically: a
//! temporary file in the same directory, written, fsynced, then renamed over FILE, so the
//! collector never reads half a file.

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
}

impl PromWriter {
    pub fn new(path: &Path) -> Self {
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
        let worst: Vec<_> = s
            .dst
            .and_then(|d| {
                Some(crate::fold::dst::DstUse {
                    dst: d.worst_dst?,
                    used: d.worst_dst_used?,
                    free: d.worst_dst_free?,
                    states: Default::default(),
                })
            })
            .into_iter()
            .collect();
        let text = metrics::text_format(&metrics::render(
            s,
            &Extra {
                destinations: &worst,
                min_dst_free: s.dst.and_then(|d| d.min_free),
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
        let mut w = PromWriter::new(&path);
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
}
