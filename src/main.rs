//! Thin entry point: parse, lower, run the mode, and exit with the status its outcome has
//! (`app::exit` decides: 0 normal end, 1 runtime failure, 2 bad input, 3 alert).

use std::process::ExitCode;

use clap::{FromArgMatches, error::ErrorKind};

use conntrend::app::exit::Exit;
use conntrend::cli::lower::Action;
use conntrend::cli::{self, Cli};
use conntrend::modes;
use conntrend::report::reporter::say;

/// Runs before Rust's runtime replaces a closed standard output with /dev/null, so that
/// `conntrend >&-` is an error rather than a silent success.
#[used]
#[unsafe(link_section = ".init_array")]
static NOTE_CLOSED_STDOUT: extern "C" fn() = {
    extern "C" fn note() {
        conntrend::app::sink::note_stdout_at_startup();
    }
    note
};

fn main() -> ExitCode {
    // clap prints its own one-line error with a usage hint and exits 2 (0 for --help/--version).
    let matches = cli::command().get_matches();
    let parsed = Cli::from_arg_matches(&matches).map_err(|e| e.exit());
    let Ok(cli) = parsed;
    if let Some(kind) = cli.generate {
        return match cli::generate::generate(kind, &mut std::io::stdout().lock()) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                say(&format!("cannot write to standard output: {e}"));
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
        Action::Sample(config) => modes::timeline::run(config),
        Action::Top(config) => modes::top::run(config),
        Action::States(config) => modes::states::run(config),
        Action::Conns(config) => modes::conns::run(config),
        Action::Conntrack(config) => modes::conntrack::run(config),
        Action::Rtt(config) => modes::rtt::run(config),
        Action::Serve(config) => modes::serve::run(config),
        Action::Plot(config) => modes::plot::run(config),
    };
    let exit = Exit::of(&outcome);
    if let Err(e) = outcome
        && exit.tells()
    {
        say(&format!("{e:#}"));
    }
    ExitCode::from(exit.code())
}
