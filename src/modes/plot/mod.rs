//! `conntrend plot`: the logs conntrend writes (CSV or JSON Lines, several runs appended) as one
//! self-contained SVG. The SVG is written directly rather than through `plotters`: the chart
//! (svg.rs, with its axes in axis.rs, legends and markers in marks.rs, text placement in text.rs)
//! is under 1,000 lines, the output stays small and readable (one polyline per series, no
//! embedded fonts), and the binary takes no drawing stack. The logs are decimated as they are read
//! (track.rs), so memory is bounded by the chart's width, not the logs' length. `--from`, `--to`
//! and `--last` (window.rs) keep a stretch of the logs; a span counted back from the logs' end
//! takes a first pass to find that end (standard input is kept in an unnamed temporary file for
//! the second).

pub mod axis;
mod file;
mod grid;
mod lines;
pub mod log;
mod marks;
pub mod svg;
mod text;
pub mod track;
pub mod window;

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Seek as _, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};

pub use svg::Options;
pub use window::Window;

use crate::app::settings::Target;
use crate::app::sink::Sink;

#[derive(Debug, Clone)]
pub struct PlotConfig {
    /// Logs to read; `-` or none: standard input.
    pub inputs: Vec<String>,
    /// `-o`: a file (replaced whole; a device or FIFO written through; a symlink followed, see
    /// file.rs), or standard output.
    pub output: Option<PathBuf>,
    /// `--from`, `--to`, `--last`.
    pub window: Window,
    pub options: Options,
}

pub fn run(config: &PlotConfig) -> Result<()> {
    let names: Vec<&str> = if config.inputs.is_empty() {
        vec!["-"]
    } else {
        config.inputs.iter().map(String::as_str).collect()
    };
    let mut inputs = Inputs::default();
    let window = if config.window.needs_end() {
        // A first pass for the logs' end, keeping nothing.
        let mut scan = log::Log::default().within((u64::MAX, 0));
        inputs.spool = names.contains(&"-");
        inputs.read(&mut scan, &names)?;
        let Some((_, end)) = scan.read_span else {
            bail!("the log has no samples: nothing to plot");
        };
        config.window.resolve(end)
    } else {
        config.window.resolve(u64::MAX)
    };
    let mut log = log::Log::default().within(window);
    inputs.read(&mut log, &names)?;
    if let (None, Some((first, last))) = (log.span, log.read_span) {
        bail!(
            "no samples from {} to {}: the log's samples are from {} to {}",
            if window.0 == 0 {
                "its start".to_string()
            } else {
                window::iso(window.0)
            },
            if window.1 == u64::MAX {
                "its end".to_string()
            } else {
                window::iso(window.1)
            },
            window::iso(first),
            window::iso(last)
        );
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

/// The logs' sources: files by name, standard input as it comes or, read twice, kept.
#[derive(Default)]
struct Inputs {
    /// Keep standard input for a second pass.
    spool: bool,
    kept: Option<File>,
}

impl Inputs {
    fn read(&mut self, log: &mut log::Log, names: &[&str]) -> Result<()> {
        let mut stdin_read = false;
        for &name in names {
            if name != "-" {
                let f = File::open(name).with_context(|| format!("cannot open '{name}'"))?;
                log.read(name, BufReader::with_capacity(1 << 20, f))?;
                continue;
            }
            if std::mem::replace(&mut stdin_read, true) {
                continue; // standard input a second time: read to its end already
            }
            if !self.spool {
                log.read("standard input", std::io::stdin().lock())?;
                continue;
            }
            if self.kept.is_none() {
                self.kept = Some(
                    keep_stdin().context("cannot keep standard input for --from/--to/--last")?,
                );
            }
            let mut f = self.kept.as_ref().expect("kept above");
            f.rewind().context("cannot read standard input again")?;
            log.read("standard input", BufReader::with_capacity(1 << 20, f))?;
        }
        Ok(())
    }
}

/// Standard input copied into an unnamed temporary file (gone when closed).
fn keep_stdin() -> io::Result<File> {
    let dir = std::env::temp_dir();
    let mut f = match OpenOptions::new()
        .read(true)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_TMPFILE)
        .open(&dir)
    {
        Ok(f) => f,
        // A file system without O_TMPFILE: a named file, unlinked at once.
        Err(_) => {
            let path = dir.join(format!(".conntrend-plot.{}.tmp", std::process::id()));
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)?;
            std::fs::remove_file(&path)?;
            f
        }
    };
    io::copy(&mut std::io::stdin().lock(), &mut f)?;
    Ok(f)
}
