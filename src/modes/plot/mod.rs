//! `conntrend plot`: the logs conntrend writes (CSV or JSON Lines, several runs appended) as one
//! self-contained SVG. The SVG is written directly rather than through `plotters`: one kind of
//! chart needs ~300 lines, the output stays small and readable (one polyline per series, no
//! embedded fonts), and the binary takes no drawing stack. The logs are decimated as they are read
//! (track.rs), so memory is bounded by the chart's width, not the logs' length.

mod file;
pub mod log;
pub mod svg;
pub mod track;

use std::fs::File;
use std::io::{BufReader, Write as _};
use std::path::PathBuf;

use anyhow::{Context, Result};

pub use svg::Options;

use crate::app::settings::Target;
use crate::app::sink::Sink;

#[derive(Debug, Clone)]
pub struct PlotConfig {
    /// Logs to read; `-` or none: standard input.
    pub inputs: Vec<String>,
    /// `-o`: a file (replaced whole; a device or FIFO written through; a symlink followed, see
    /// file.rs), or standard output.
    pub output: Option<PathBuf>,
    pub options: Options,
}

pub fn run(config: &PlotConfig) -> Result<()> {
    let mut log = log::Log::default();
    let inputs: Vec<&str> = if config.inputs.is_empty() {
        vec!["-"]
    } else {
        config.inputs.iter().map(String::as_str).collect()
    };
    for name in inputs {
        if name == "-" {
            log.read("standard input", std::io::stdin().lock())?;
        } else {
            let f = File::open(name).with_context(|| format!("cannot open '{name}'"))?;
            log.read(name, BufReader::with_capacity(1 << 20, f))?;
        }
    }
    let svg = svg::render(&log, &config.options).map_err(anyhow::Error::msg)?;
    match &config.output {
        Some(path) => file::write(path, svg.as_bytes())?,
        None => {
            let Some(mut out) = Sink::open(&Target::Stdout)? else {
                return Ok(());
            };
            out.write_all(svg.as_bytes())
                .context("cannot write to standard output")?;
        }
    }
    Ok(())
}
