//! JSON Lines: `{"header":{…}}` first, one flat object per sample with exactly the CSV column
//! names (null where not measured), `{"summary":{…}}` last.

use std::io::{self, Write};

use serde::Serialize;

use super::{RunInfo, TimelineWriter};
use crate::fold::sample::Sample;
use crate::report::schema::{COLUMNS, Groups, Row, SUMMARY};
use crate::report::summary::Summary;

pub struct JsonWriter {
    out: Box<dyn Write>,
    groups: Groups,
    /// One line, built in full before it is written, reused from sample to sample.
    line: Vec<u8>,
}

impl JsonWriter {
    pub fn new(out: Box<dyn Write>, groups: Groups) -> Self {
        JsonWriter {
            out,
            groups,
            line: Vec::new(),
        }
    }

    fn emit(&mut self, value: &impl Serialize) -> io::Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, value)?;
        self.line.push(b'\n');
        self.out.write_all(&self.line)?;
        self.out.flush()
    }
}

impl TimelineWriter for JsonWriter {
    fn header(&mut self, run: &RunInfo) -> io::Result<()> {
        #[derive(Serialize)]
        struct Header<'a> {
            version: &'a str,
            sampling_sec: u32,
            duration_sec: u32,
            count: Option<u64>,
            protocol: &'a str,
            range_init: String,
            #[serde(skip_serializing_if = "Option::is_none")]
            netns: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            proc_root: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            source: Option<&'a str>,
            columns: Vec<&'a str>,
        }
        #[derive(Serialize)]
        struct Line<'a> {
            header: Header<'a>,
        }
        self.emit(&Line {
            header: Header {
                version: run.version,
                sampling_sec: run.interval_sec,
                duration_sec: run.duration_sec.unwrap_or(0),
                count: run.count,
                protocol: run.protocols.name(),
                range_init: format!("{}-{}", run.range_init.0, run.range_init.1),
                netns: run.netns.as_deref(),
                proc_root: run.proc_root.as_deref(),
                source: run.source,
                columns: run.columns(),
            },
        })
    }

    fn sample(&mut self, sample: &Sample) -> io::Result<()> {
        let row = Row {
            table: COLUMNS,
            groups: self.groups,
            item: sample,
        };
        self.emit(&row)
    }

    fn summary(&mut self, summary: &Summary) -> io::Result<()> {
        #[derive(Serialize)]
        struct Line<'a> {
            summary: Row<'a, Summary>,
        }
        let summary = Row {
            table: SUMMARY,
            groups: self.groups,
            item: summary,
        };
        self.emit(&Line { summary })
    }
}

#[cfg(test)]
mod tests {
    use super::super::Format;
    use super::super::tests::{render, run_info, sample, summary};
    use crate::report::schema::Groups;

    #[test]
    fn shape_matches_the_readme() {
        let text = render(Format::Json, Groups::default(), |w| {
            w.header(&run_info(None, Some(2))).unwrap();
            w.sample(&sample(None, Some(46))).unwrap();
            w.summary(&summary()).unwrap();
        });
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            r#"{"header":{"version":"0.1.0","sampling_sec":5,"duration_sec":0,"count":2,"protocol":"all","range_init":"32768-60999","columns":["epoch_ms","total_port","used","free","udp_used","tcp_used","time_wait","estab","syn","close_wait","last_ack","fin_wait"]}}"#
        );
        assert_eq!(
            lines[1],
            r#"{"epoch_ms":1750906800000,"total_port":28232,"used":156,"free":28076,"udp_used":null,"tcp_used":138,"time_wait":46,"estab":120,"syn":2,"close_wait":5,"last_ack":2,"fin_wait":9}"#
        );
        assert_eq!(
            lines[2],
            r#"{"summary":{"start_ms":1750906800000,"end_ms":1750906860000,"elapsed_sec":60,"samples":1,"peak_used":156,"peak_time_wait":46,"min_free":28076,"min_total_port":28232,"max_total_port":28232}}"#
        );
    }
}
