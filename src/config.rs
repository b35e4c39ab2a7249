//! Checked settings built from the typed flags: what the run will do. Every "does this make sense"
//! decision lives here, so the rest of the program never sees an impossible combination.

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::{Cli, Command, NsArgs, ProtocolArg, SampleArgs, TopArgs};
use crate::netns;
use crate::output::Format;

/// What the command line asked for.
#[derive(Debug, Clone)]
pub enum Action {
    /// The timeline (no subcommand).
    Sample(Config),
    /// `conntrend top`.
    Top(TopConfig),
}

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

/// The timeline's settings.
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
    /// Track the busiest destination (`--dst`).
    pub dst: bool,
    /// The network namespace file to enter, if not our own.
    pub netns: Option<PathBuf>,
    pub verbose: bool,
}

/// `conntrend top`'s settings.
#[derive(Debug, Clone)]
pub struct TopConfig {
    pub rows: usize,
    /// `None`: one report.
    pub refresh: Option<Duration>,
    pub json: bool,
    pub netns: Option<PathBuf>,
}

impl Action {
    pub fn from_cli(cli: Cli) -> Result<Action, String> {
        match cli.command {
            None => Config::from_args(cli.sample).map(Action::Sample),
            Some(Command::Top(top)) => TopConfig::from_args(top).map(Action::Top),
        }
    }
}

impl Config {
    fn from_args(args: SampleArgs) -> Result<Config, String> {
        // clap has already refused an empty path.
        let target = match args.output.to_str() {
            Some("-") => Target::Stdout,
            _ => Target::File(args.output),
        };
        let (tcp, udp, protocol) = match args.protocol {
            ProtocolArg::Tcp => (true, false, "tcp"),
            ProtocolArg::Udp => (false, true, "udp"),
            ProtocolArg::All => (true, true, "all"),
        };
        if args.dst && !tcp {
            return Err(
                "--dst follows TCP destinations; it cannot be used with --protocol udp".into(),
            );
        }
        Ok(Config {
            interval: Duration::from_secs(args.interval_sec.into()),
            duration: (args.duration_sec > 0)
                .then(|| Duration::from_secs(args.duration_sec.into())),
            count: args.count,
            target,
            tcp,
            udp,
            protocol,
            format: args.format,
            dst: args.dst,
            netns: namespace(&args.ns)?,
            verbose: args.verbose,
        })
    }
}

impl TopConfig {
    fn from_args(args: TopArgs) -> Result<TopConfig, String> {
        Ok(TopConfig {
            rows: args.rows as usize,
            refresh: args.interval_sec.map(|s| Duration::from_secs(s.into())),
            json: args.json,
            netns: namespace(&args.ns)?,
        })
    }
}

/// The namespace file `--netns`/`--pid` name, checked to exist.
fn namespace(ns: &NsArgs) -> Result<Option<PathBuf>, String> {
    let (path, flag) = match (&ns.netns, ns.pid) {
        (Some(name), _) => (netns::path_for_name(name), "--netns"),
        (None, Some(pid)) => (netns::path_for_pid(pid), "--pid"),
        (None, None) => return Ok(None),
    };
    // A file we may not look at (another user's /proc/PID) exists; entering it reports why not.
    if let Ok(false) = path.try_exists() {
        return Err(match flag {
            "--pid" => format!(
                "--pid: no process {} (no {})",
                ns.pid.unwrap_or(0),
                path.display()
            ),
            _ => format!("--netns: no network namespace at {}", path.display()),
        });
    }
    Ok(Some(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn action(args: &[&str]) -> Result<Action, String> {
        Action::from_cli(
            Cli::try_parse_from(std::iter::once("conntrend").chain(args.iter().copied())).unwrap(),
        )
    }

    fn config(args: &[&str]) -> Result<Config, String> {
        match action(args)? {
            Action::Sample(c) => Ok(c),
            Action::Top(_) => panic!("not a sampler command line"),
        }
    }

    #[test]
    fn defaults() {
        let c = config(&[]).unwrap();
        assert_eq!(c.interval, Duration::from_secs(5));
        assert_eq!(c.duration, Some(Duration::from_secs(60)));
        assert_eq!(c.target, Target::Stdout);
        assert!(c.tcp && c.udp && !c.dst);
        assert_eq!(c.format, Format::Csv);
        assert_eq!(c.netns, None);
    }

    #[test]
    fn zero_duration_is_unlimited_and_protocols_narrow() {
        let c = config(&["-d", "0", "-p", "udp", "-o", "x.csv"]).unwrap();
        assert_eq!(c.duration, None);
        assert!(!c.tcp && c.udp);
        assert_eq!(c.target, Target::File("x.csv".into()));
    }

    #[test]
    fn dst_needs_tcp() {
        assert!(
            config(&["--dst", "-p", "udp"])
                .unwrap_err()
                .contains("--dst")
        );
        assert!(config(&["--dst", "-p", "tcp"]).unwrap().dst);
    }

    #[test]
    fn namespaces_must_exist() {
        let err = config(&["--netns", "surely-no-such-namespace"]).unwrap_err();
        assert!(err.contains("--netns") && err.contains("/run/netns/surely-no-such-namespace"));
        assert!(
            config(&["--pid", "4294967295"])
                .unwrap_err()
                .contains("--pid")
        );
        let own = config(&["--pid", &std::process::id().to_string()]).unwrap();
        assert_eq!(
            own.netns,
            Some(PathBuf::from(format!(
                "/proc/{}/ns/net",
                std::process::id()
            )))
        );
        assert!(
            config(&["--netns", "/proc/self/ns/net"])
                .unwrap()
                .netns
                .is_some()
        );
    }

    #[test]
    fn top_settings() {
        match action(&["top", "-n", "3", "-i", "2", "--json"]).unwrap() {
            Action::Top(t) => {
                assert_eq!(t.rows, 3);
                assert_eq!(t.refresh, Some(Duration::from_secs(2)));
                assert!(t.json);
            }
            Action::Sample(_) => panic!("expected top"),
        }
    }
}
