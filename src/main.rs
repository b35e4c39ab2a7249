//! Thin entry point: parse, check, run, and map the outcome to the documented exit codes
//! (0 normal end, 1 runtime failure, 2 bad input). A reader that leaves is a normal end.

use std::process::ExitCode;

use clap::{FromArgMatches, error::ErrorKind};

use conntrend::cli::{self, Cli};
use conntrend::config::Action;
use conntrend::reporter;

/// Runs before Rust's runtime replaces a closed standard output with /dev/null, so that
/// `conntrend >&-` is an error rather than a silent success.
#[used]
#[unsafe(link_section = ".init_array")]
static NOTE_CLOSED_STDOUT: extern "C" fn() = {
    extern "C" fn note() {
        conntrend::sink::note_stdout_at_startup();
    }
    note
};

fn main() -> ExitCode {
    // clap prints its own one-line error with a usage hint and exits 2 (0 for --help/--version).
    let matches = cli::command().get_matches();
    let parsed = Cli::from_arg_matches(&matches).map_err(|e| e.exit());
    let Ok(cli) = parsed;
    if let Some(kind) = cli.generate {
        return match conntrend::generate::generate(kind, &mut std::io::stdout().lock()) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                reporter::say(&format!("cannot write to standard output: {e}"));
                ExitCode::from(1)
            }
            _ => ExitCode::SUCCESS,
        };
    }
    let action = match Action::from_cli(cli) {
        Ok(action) => action,
        Err(msg) => cli::command().error(ErrorKind::ValueValidation, msg).exit(),
    };
    let outcome = match &action {
        Action::Sample(config) => conntrend::run::run(config),
        Action::Top(config) => conntrend::top::run(config),
        Action::States(config) => conntrend::states::run(config),
        Action::Conns(config) => conntrend::conns::run(config),
        Action::Conntrack(config) => conntrend::conntrack::run(config),
        Action::Rtt(config) => conntrend::rtt::run(config),
        Action::Serve(config) => conntrend::serve::run(config),
        Action::Plot(config) => conntrend::plot::run(config),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if conntrend::run::is_broken_pipe(&e) => ExitCode::SUCCESS,
        // --exit-on-alert: the alert was told on stderr and the summary written.
        Err(e) if e.downcast_ref::<conntrend::alert::AlertExit>().is_some() => {
            ExitCode::from(conntrend::alert::EXIT_STATUS)
        }
        // A mode this build lacks is a usage error.
        Err(e) if e.downcast_ref::<conntrend::rtt::Unsupported>().is_some() => {
            reporter::say(&format!("{e:#}"));
            ExitCode::from(2)
        }
        Err(e) => {
            reporter::say(&format!("{e:#}"));
            ExitCode::from(1)
        }
    }
}
