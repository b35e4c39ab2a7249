//! Thin entry point: parse, lower, run the mode, and exit with the status its outcome has
//! (`app::exit` decides: 0 normal end, 1 runtime failure, 2 bad input, 3 alert).

use std::process::ExitCode;

use clap::{FromArgMatches, error::ErrorKind};

use conntrend::api::{Action, Cli, Exit, command, generate, say};

/// Runs before Rust's runtime replaces a closed standard output with /dev/null, so that
/// `conntrend >&-` is an error rather than a silent success.
#[used]
#[unsafe(link_section = ".init_array")]
static NOTE_CLOSED_STDOUT: extern "C" fn() = {
    extern "C" fn note() {
        conntrend::api::note_stdout_at_startup();
    }
    note
};

fn main() -> ExitCode {
    // clap prints its own one-line error with a usage hint and exits 2 (0 for --help/--version).
    let matches = command().get_matches();
    let parsed = Cli::from_arg_matches(&matches).map_err(|e| e.exit());
    let Ok(cli) = parsed;
    if let Some(kind) = cli.generate {
        return match generate(kind, &mut std::io::stdout().lock()) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                say(&format!("cannot write to standard output: {e}"));
                ExitCode::from(1)
            }
            _ => ExitCode::SUCCESS,
        };
    }
    let action = match Action::from_cli(cli) {
        Ok(action) => action,
        Err(msg) => command().error(ErrorKind::ValueValidation, msg).exit(),
    };
    let outcome = action.run();
    let exit = Exit::of(&outcome);
    match outcome {
        // Bad input the run found: told as clap tells a bad flag.
        Err(e) if exit == Exit::Usage => {
            let _ = command()
                .error(ErrorKind::ValueValidation, format!("{e:#}"))
                .print();
        }
        Err(e) if exit.tells() => say(&format!("{e:#}")),
        _ => {}
    }
    ExitCode::from(exit.code())
}
