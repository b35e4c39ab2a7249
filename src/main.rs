//! Thin entry point: parse, lower, run the mode, and exit with the status its outcome has
//! (`app::exit` decides: 0 normal end, 1 runtime failure, 2 bad input, 3 alert).

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use clap::{FromArgMatches, error::ErrorKind};

use conntrend::api::{Action, Cli, Exit, check_stdout_open, command, generate, say};

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
    // clap prints its own one-line error with a usage hint and exits 2; --help and --version
    // are written here, so that output that cannot be written is an error as for data.
    let matches = match command().try_get_matches() {
        Ok(m) => m,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let text = e.render();
            let tty = std::io::stdout().is_terminal();
            return to_stdout(|out| match tty {
                true => write!(out, "{}", text.ansi()),
                false => write!(out, "{text}"),
            });
        }
        Err(e) => e.exit(),
    };
    let parsed = Cli::from_arg_matches(&matches).map_err(|e| e.exit());
    let Ok(cli) = parsed;
    if let Some(kind) = cli.generate {
        return to_stdout(|out| generate(kind, out));
    }
    // Bad input found after clap (here or by the run) is told as clap tells a bad flag, with the
    // usage of the command that was run.
    let action = match Action::from_cli(cli) {
        Ok(action) => action,
        Err(msg) => Cli::usage_error(&matches, msg).exit(),
    };
    let outcome = action.run();
    let exit = Exit::of(&outcome);
    match outcome {
        Err(e) if exit == Exit::Usage => {
            let _ = Cli::usage_error(&matches, format!("{e:#}")).print();
        }
        Err(e) if exit.tells() => say(&format!("{e:#}")),
        _ => {}
    }
    ExitCode::from(exit.code())
}

/// Writes what `write` makes to standard output: 0 when written (or the reader left), 1 with a
/// message when standard output is closed or the write fails.
fn to_stdout(write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> ExitCode {
    let written = check_stdout_open().and_then(|()| {
        let mut out = io::stdout().lock();
        write(&mut out).and_then(|()| out.flush())
    });
    match written {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            say(&format!("cannot write to standard output: {e}"));
            ExitCode::from(1)
        }
        _ => ExitCode::SUCCESS,
    }
}
