//! The man pages and shell completions, generated from the same clap definition the program
//! parses with (`cli::command()`), so they cannot drift from the flags: `conntrend --generate KIND`
//! writes one of them to standard output (`make install` uses it).

use std::fmt::Write as _;
use std::io::{self, Write};

use clap_complete::Shell;
use clap_mangen::Man;

use crate::cli::{self, GenerateArg};
use crate::report::schema::{self, Group};

/// Writes what `kind` names to `out`.
pub fn generate(kind: GenerateArg, out: &mut dyn Write) -> io::Result<()> {
    let mut cmd = cli::command().disable_help_subcommand(true);
    cmd.build();
    let mode = match kind {
        GenerateArg::ManTop => Some(("top", cli::TOP_EXAMPLES, "EXAMPLES")),
        GenerateArg::ManStates => Some(("states", cli::STATES_EXAMPLES, "EXAMPLES")),
        GenerateArg::ManConns => Some(("conns", cli::CONNS_EXAMPLES, "FIELDS AND EXAMPLES")),
        GenerateArg::ManConntrack => Some(("conntrack", cli::CONNTRACK_EXAMPLES, "EXAMPLES")),
        GenerateArg::ManRtt => Some(("rtt", cli::RTT_EXAMPLES, "EXAMPLES")),
        GenerateArg::ManServe => Some(("serve", cli::SERVE_EXAMPLES, "EXAMPLES")),
        GenerateArg::ManPlot => Some(("plot", cli::PLOT_EXAMPLES, "EXAMPLES")),
        _ => None,
    };
    if let Some((name, examples, title)) = mode {
        let sub = cmd
            .find_subcommand(name)
            .unwrap_or_else(|| panic!("cli.rs defines `{name}`"));
        return page(
            sub,
            out,
            &[(title, verbatim(examples)), ("EXIT STATUS", exit_status())],
        );
    }
    let shell = match kind {
        GenerateArg::Man => {
            return page(
                &cmd,
                out,
                &[
                    ("COLUMNS", columns()),
                    ("EXAMPLES", verbatim(cli::EXAMPLES)),
                    ("EXIT STATUS", exit_status()),
                ],
            );
        }
        GenerateArg::CompleteBash => Shell::Bash,
        GenerateArg::CompleteZsh => Shell::Zsh,
        GenerateArg::CompleteFish => Shell::Fish,
        _ => unreachable!("every man page was written above"),
    };
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "conntrend", &mut buf);
    out.write_all(&buf)
}

/// A page: clap_mangen's sections for what clap knows, ours (already roff) for the rest.
fn page(cmd: &clap::Command, out: &mut dyn Write, extra: &[(&str, String)]) -> io::Result<()> {
    let man = Man::new(cmd.clone());
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    if cmd.has_subcommands() {
        man.render_subcommands_section(out)?;
    }
    for (title, body) in extra {
        writeln!(out, ".SH \"{title}\"")?;
        out.write_all(body.as_bytes())?;
    }
    man.render_version_section(out)
}

/// Every column, one tagged paragraph each, from the schema.
fn columns() -> String {
    let mut s = String::from(
        "A field that was not sampled is empty (CSV) or null (JSON). The README explains each \
         at length.\n",
    );
    for f in schema::COLUMNS {
        let group = match f.group.flag() {
            Some(flag) if f.group != Group::Base => format!(" (with {flag})"),
            _ => String::new(),
        };
        let _ = writeln!(
            s,
            ".TP\n\\fB{}\\fR{}\n{}",
            escape(f.name),
            escape(&group),
            escape(f.meaning)
        );
    }
    s
}

fn exit_status() -> String {
    [
        ("0", "the run ended normally: duration or count reached, SIGINT/SIGTERM/SIGHUP, or the reader of the output went away"),
        ("1", "a runtime failure: the output cannot be opened or written, or the netlink dump failed"),
        ("2", "bad command-line input"),
    ]
    .iter()
    .map(|(code, text)| format!(".TP\n{code}\n{}\n", escape(text)))
    .collect()
}

/// Lines shown as they are (no filling), minus the "Examples:" title the section already has.
fn verbatim(text: &str) -> String {
    let mut s = String::from(".nf\n");
    for line in text.lines().skip_while(|l| l.ends_with(':')) {
        let _ = writeln!(s, "{}", escape(line));
    }
    s.push_str(".fi\n");
    s
}

/// Text made safe for roff: backslashes and minus signs escaped, no line starting a request.
fn escape(text: &str) -> String {
    let s = text
        .replace('\\', "\\e")
        .replace('-', "\\-")
        .replace('\'', "\\(aq");
    if s.starts_with('.') {
        format!("\\&{s}")
    } else {
        s
    }
}
