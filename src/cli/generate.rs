//! The man pages and shell completions, generated from the same clap definition the program
//! parses with (`cli::command()`), so they cannot drift from the flags: `conntrend --generate KIND`
//! writes one of them to standard output (`make install` writes them all).
//!
//! Every command of the tree has its page (conntrend-conntrack-config-set.1 documents
//! `conntrend conntrack config set`), so every page a SUBCOMMANDS or SEE ALSO section names
//! exists. The completion scripts are clap_complete's, with what it cannot know added: network
//! namespace names for `--netns`, interfaces for `rtt -i`, and the field lists of `conns -o`/`-F`.

mod complete;

use std::fmt::Write as _;
use std::io::{self, Write};

use clap::ValueEnum;
use clap_mangen::Man;

use crate::cli::{self, GenerateArg, help};
use crate::report::schema::{self, Group};

/// Writes what `kind` names to `out`.
pub fn generate(kind: GenerateArg, out: &mut dyn Write) -> io::Result<()> {
    let mut cmd = cli::command().disable_help_subcommand(true);
    let Some(path) = page_path(kind) else {
        return out.write_all(complete::script(kind, &cmd).as_bytes());
    };
    cmd.build();
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    let sub = path.iter().fold(&cmd, |c, name| {
        c.find_subcommand(name)
            .unwrap_or_else(|| panic!("cli defines `{name}` under `{}`", c.get_name()))
    });
    page(sub, &path, out)
}

/// The command a man page documents, as its path below conntrend; `None` for a completion.
pub fn page_path(kind: GenerateArg) -> Option<Vec<String>> {
    let value = kind.to_possible_value()?;
    let rest = value.get_name().strip_prefix("man")?;
    // The subcommand names have no dash, so the value spells the path.
    Some(
        rest.split('-')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
    )
}

/// The page of `cmd`, at `path` below conntrend: clap_mangen's sections for what clap knows, ours
/// (already roff) for the rest.
fn page(cmd: &clap::Command, path: &[&str], out: &mut dyn Write) -> io::Result<()> {
    // The footer names the program, not the subcommand (clap_mangen's default).
    let man = Man::new(cmd.clone()).source(format!("conntrend {}", env!("CARGO_PKG_VERSION")));
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    if cmd.has_subcommands() {
        man.render_subcommands_section(out)?;
    }
    let mut extra = Vec::new();
    if path.is_empty() {
        extra.push(("COLUMNS", columns()));
        extra.push(("FLAGS ACROSS MODES", flag_exceptions()));
    }
    if let Some((title, examples)) = help::examples(path) {
        extra.push((title, verbatim(examples)));
    }
    let alerts = cmd.get_arguments().any(|a| a.get_id() == "exit_on_alert");
    extra.push(("EXIT STATUS", exit_status(path, alerts)));
    if !path.is_empty() {
        extra.push(("SEE ALSO", see_also(path)));
    }
    for (title, body) in extra {
        writeln!(out, ".SH \"{title}\"")?;
        out.write_all(body.as_bytes())?;
    }
    // The modes take -V; conntrack's commands do not, and clap_mangen needs one for the section.
    match cmd.get_version() {
        Some(_) => man.render_version_section(out),
        None => Ok(()),
    }
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

/// The short flags a mode keeps from its seed tool.
fn flag_exceptions() -> String {
    let mut s = String::from(
        "A short flag means the same in every mode, except where a mode keeps its seed tool's:\n",
    );
    for (mode, flag, what) in help::FLAG_EXCEPTIONS {
        let _ = writeln!(s, ".TP\n\\fB{mode} \\-{flag}\\fR\n{}", escape(what));
    }
    s
}

fn exit_status(path: &[&str], alerts: bool) -> String {
    help::exit_statuses(path, alerts)
        .iter()
        .map(|(code, text)| format!(".TP\n{code}\n{}\n", escape(text)))
        .collect()
}

/// The pages of the commands above the one at `path`, nearest first.
fn see_also(path: &[&str]) -> String {
    let pages: Vec<String> = (0..path.len())
        .rev()
        .map(|n| {
            let name = std::iter::once("conntrend")
                .chain(path[..n].iter().copied())
                .collect::<Vec<_>>()
                .join("-");
            format!("\\fB{}\\fR(1)", escape(&name))
        })
        .collect();
    format!("{}\n", pages.join(", "))
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

#[cfg(test)]
mod tests;
