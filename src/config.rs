//! Checked settings built from the typed flags: what the run will do. Every "does this make sense"
//! decision lives here, so the rest of the program never sees an impossible combination.

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::{Cli, ProtocolArg};
use crate::output::Format;

/// Where the timeline goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Stdout,
    /// Appended to; created if missing.
    File(PathBuf),
}

impl Target {
    /// How error messages name it.
    pub fn describe(&self) -> String {
        match self {
            Target::Stdout => "standard output".to_string(),
            Target::File(p) => format!("output file '{}'", p.display()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub interval: Duration,
    /// `None`: until interrupted.
    pub duration: Option<Duration>,
    pub count: Option<u64>,
    pub target: Target,
    pub tcp: bool,
    pub udp: bool,
    pub protocol: &'static str,
    pub format: Format,
    pub verbose: bool,
}

impl Config {
    pub fn from_cli(cli: Cli) -> Result<Config, String> {
        // clap has already refused an empty path.
        let target = match cli.output.to_str() {
            Some("-") => Target::Stdout,
            _ => Target::File(cli.output),
        };
        let (tcp, udp, protocol) = match cli.protocol {
            ProtocolArg::Tcp => (true, false, "tcp"),
            ProtocolArg::Udp => (false, true, "udp"),
            ProtocolArg::All => (true, true, "all"),
        };
        Ok(Config {
            interval: Duration::from_secs(cli.interval_sec.into()),
            duration: (cli.duration_sec > 0).then(|| Duration::from_secs(cli.duration_sec.into())),
            count: cli.count,
            target,
            tcp,
            udp,
            protocol,
            format: cli.format,
            verbose: cli.verbose,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn config(args: &[&str]) -> Result<Config, String> {
        Config::from_cli(
            Cli::try_parse_from(std::iter::once("conntrend").chain(args.iter().copied())).unwrap(),
        )
    }

    #[test]
    fn defaults() {
        let c = config(&[]).unwrap();
        assert_eq!(c.interval, Duration::from_secs(5));
        assert_eq!(c.duration, Some(Duration::from_secs(60)));
        assert_eq!(c.target, Target::Stdout);
        assert!(c.tcp && c.udp);
        assert_eq!(c.format, Format::Csv);
    }

    #[test]
    fn zero_duration_is_unlimited_and_protocols_narrow() {
        let c = config(&["-d", "0", "-p", "udp", "-o", "x.csv"]).unwrap();
        assert_eq!(c.duration, None);
        assert!(!c.tcp && c.udp);
        assert_eq!(c.target, Target::File("x.csv".into()));
    }
}
