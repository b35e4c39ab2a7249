//! The completion scripts: clap_complete's, with the values it cannot know added for bash, zsh and
//! fish alike: the namespace names `ip netns list` shows (/run/netns) for `--netns`, the
//! interfaces of the namespace (/proc/net/dev) for `rtt -i`, and the field names of `conns -o` and
//! `-F` from the code's own tables, a comma-separated list completed element by element.

use clap::Arg;
use clap_complete::Shell;

use crate::cli::GenerateArg;
use crate::modes::conns::{fields, filter};

/// What a flag's value completes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Values {
    /// A name under /run/netns (or a path, as files).
    Netns,
    /// An interface of the namespace.
    Interface,
    /// `conns -o`: `all`, or field names, comma-separated.
    Fields,
    /// `conns -F`: `FIELD=VALUE`, comma-separated.
    Filters,
}

/// The flags whose values we complete: the mode (`None`: every command that has the flag), the
/// flag's long name, and what it takes.
pub(super) const FLAGS: [(Option<&str>, &str, Values); 4] = [
    (None, "netns", Values::Netns),
    (Some("rtt"), "interface", Values::Interface),
    (Some("conns"), "output", Values::Fields),
    (Some("conns"), "filter", Values::Filters),
];

/// The candidates for `-o`: `all` and every field.
pub(super) fn field_words() -> Vec<&'static str> {
    std::iter::once("all")
        .chain(fields::ALL.iter().map(|f| f.name()))
        .collect()
}

/// The script for `kind` (a completion), from `cmd` (not yet built).
pub(super) fn script(kind: GenerateArg, cmd: &clap::Command) -> String {
    let shell = match kind {
        GenerateArg::CompleteBash => Shell::Bash,
        GenerateArg::CompleteZsh => Shell::Zsh,
        GenerateArg::CompleteFish => Shell::Fish,
        _ => unreachable!("a man page is not a completion"),
    };
    let mut cmd = without_hidden_operands(cmd);
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "conntrend", &mut buf);
    let text = String::from_utf8(buf).expect("clap_complete writes UTF-8");
    match shell {
        Shell::Bash => bash(&text, &cmd),
        Shell::Zsh => zsh(&text, &cmd),
        _ => fish(&text),
    }
}

/// `cmd` without its hidden operands (the timeline's `stray`, there only to refuse operands with a
/// clear message). clap_complete's zsh script counts them: it took the mode's name for `stray`
/// and looked for the mode one word later, so `conntrend rtt -i` completed the timeline's -i and
/// `conntrend ct` offered the modes again.
fn without_hidden_operands(cmd: &clap::Command) -> clap::Command {
    let mut out = clap::Command::new("conntrend")
        .args_conflicts_with_subcommands(cmd.is_args_conflicts_with_subcommands_set())
        .disable_help_subcommand(true);
    if let Some(about) = cmd.get_about() {
        out = out.about(about.clone());
    }
    if cmd.get_version().is_some() {
        out = out.version(env!("CARGO_PKG_VERSION"));
    }
    let args = cmd
        .get_arguments()
        .filter(|a| !(a.is_positional() && a.is_hide_set()));
    out = out.args(args.cloned());
    out.subcommands(cmd.get_subcommands().cloned())
}

/// The flag `long` of `mode` (of the first command that has it, for `None`).
fn flag<'a>(cmd: &'a clap::Command, mode: Option<&str>, long: &str) -> &'a Arg {
    let mut commands = std::iter::once(cmd).chain(cmd.get_subcommands());
    commands
        .find_map(|c| {
            let mode_ok = mode.is_none_or(|m| c.get_name() == m);
            let arg = c.get_arguments().find(|a| a.get_long() == Some(long));
            arg.filter(|_| mode_ok)
        })
        .unwrap_or_else(|| panic!("cli defines --{long} for {mode:?}"))
}

/// bash: clap's function, called by ours for every word but the values above (registered in its
/// place). Ours reads the line itself, so `=` and `:` do not split a word (`-F rport=443,la`).
fn bash(clap: &str, cmd: &clap::Command) -> String {
    let mut cases = String::new();
    for (mode, long, values) in FLAGS {
        let arg = flag(cmd, mode, long);
        let mode = mode.unwrap_or("*");
        let mut flags = vec![format!("{mode},--{long}")];
        flags.extend(arg.get_short().map(|s| format!("{mode},-{s}")));
        let body: Vec<String> = match values {
            Values::Netns => vec![
                "if [[ $word != */* ]]; then".into(),
                "    for c in /run/netns/*; do [[ -e $c ]] && found+=(\"${c##*/}\"); done".into(),
                "    found=($(compgen -W \"${found[*]}\" -- \"$word\"))".into(),
                "fi".into(),
                "# No name: a path such as /proc/PID/ns/net.".into(),
                "[[ ${#found[@]} -eq 0 ]] && { _conntrend \"$@\"; return; }".into(),
            ],
            Values::Interface => vec![
                "while IFS= read -r c; do".into(),
                "    [[ $c == *:* ]] && c=\"${c%%:*}\" && found+=(\"${c//[[:space:]]/}\")".into(),
                "done </proc/net/dev".into(),
                "found=($(compgen -W \"${found[*]}\" -- \"$word\"))".into(),
            ],
            Values::Fields => vec![format!(
                "found=($(_conntrend_list \"$word\" '' {}))",
                field_words().join(" ")
            )],
            Values::Filters => vec![
                format!(
                    "found=($(_conntrend_list \"$word\" = {}))",
                    filter::FIELDS.join(" ")
                ),
                "compopt -o nospace 2>/dev/null".into(),
            ],
        };
        cases.push_str(&format!(
            "        {})\n            {}\n            ;;\n",
            flags.join("|"),
            body.join("\n            ")
        ));
    }
    let registered = clap.replace("complete -F _conntrend ", "complete -F _conntrend_more ");
    format!(
        "{registered}
# conntrend's own values: namespaces, interfaces, conns' field lists.
_conntrend_list() {{
    # WORD SUFFIX CANDIDATE...: the last element of WORD, a comma-separated list.
    local word=\"$1\" suffix=\"$2\" head=\"\"
    shift 2
    [[ $word == *,* ]] && head=\"${{word%,*}},\"
    compgen -P \"$head\" -S \"$suffix\" -W \"$*\" -- \"${{word##*,}}\"
}}

_conntrend_more() {{
    local line=\"${{COMP_LINE:0:COMP_POINT}}\" words c found=()
    read -ra words <<<\"$line\"
    [[ -z $line || $line == *[[:space:]] ]] && words+=(\"\")
    local n=${{#words[@]}}
    (( n >= 2 )) || {{ _conntrend \"$@\"; return; }}
    local mode=\"${{words[1]}}\" prev=\"${{words[n-2]}}\" word=\"${{words[n-1]}}\"
    # What readline's own word ($2, split at = and :) leaves out of ours.
    local cut=\"${{word%\"$2\"}}\"
    case \"$mode,$prev\" in
{cases}        *)
            _conntrend \"$@\"
            return
            ;;
    esac
    COMPREPLY=()
    for c in \"${{found[@]}}\"; do COMPREPLY+=(\"${{c#\"$cut\"}}\"); done
}}
"
    )
}

/// zsh: the flags' `_default` actions replaced by ours (found by their value names), and the
/// top level's options not looked for after the mode (`-A '-*'`): its flags never go with a mode,
/// and without it `conns -o` and `rtt -i` completed as the timeline's -o and -i.
fn zsh(clap: &str, cmd: &clap::Command) -> String {
    const TOP: &str = "_arguments \"${_arguments_options[@]}\" : \\";
    let mut text = clap.replacen(
        TOP,
        "_arguments \"${_arguments_options[@]}\" -A '-*' : \\",
        1,
    );
    for (mode, long, values) in FLAGS {
        let arg = flag(cmd, mode, long);
        let name = arg
            .get_value_names()
            .and_then(|n| n.first())
            .map(ToString::to_string)
            .unwrap_or_else(|| panic!("--{long} has a value name"));
        let action = match values {
            Values::Netns => "_conntrend_netns",
            Values::Interface => "_conntrend_interfaces",
            Values::Fields => "_conntrend_fields",
            Values::Filters => "_conntrend_filters",
        };
        text = text.replace(&format!(":{name}:_default'"), &format!(":{name}:{action}'"));
    }
    let filters: Vec<String> = filter::FIELDS
        .iter()
        .map(|f| format!("'{f}:{}:'", f.to_uppercase()))
        .collect();
    let functions = format!(
        "(( $+functions[_conntrend_netns] )) ||
_conntrend_netns() {{
    local -a names
    names=(/run/netns/*(N:t))
    _alternative 'netns:network namespace:compadd -a names' 'files:namespace file:_files'
}}
(( $+functions[_conntrend_interfaces] )) ||
_conntrend_interfaces() {{
    local -a ifaces
    ifaces=(${{${{${{(f)\"$(</proc/net/dev)\"}}[3,-1]%%:*}}//[[:space:]]/}})
    compadd -a ifaces
}}
(( $+functions[_conntrend_fields] )) ||
_conntrend_fields() {{
    _values -s , field {fields}
}}
(( $+functions[_conntrend_filters] )) ||
_conntrend_filters() {{
    _values -s , filter {filters}
}}

",
        fields = field_words().join(" "),
        filters = filters.join(" "),
    );
    let at = text
        .rfind("if [ \"$funcstack[1]\" = \"_conntrend\" ]; then")
        .unwrap_or(text.len());
    text.insert_str(at, &functions);
    text
}

/// fish: our candidates added to the flags' lines, and the functions that make them.
fn fish(clap: &str) -> String {
    let mut out = String::new();
    for line in clap.lines() {
        out.push_str(line);
        for (mode, long, values) in FLAGS {
            let in_mode = match mode {
                Some(m) => line.contains(&format!("__fish_conntrend_using_subcommand {m}\"")),
                None => true,
            };
            if !(line.starts_with("complete -c conntrend ")
                && in_mode
                && line.contains(&format!(" -l {long} ")))
            {
                continue;
            }
            out.push_str(&match values {
                // Names, and files for a path.
                Values::Netns => " -a \"(__fish_conntrend_netns)\"".to_string(),
                Values::Interface => " -f -a \"(__fish_conntrend_interfaces)\"".to_string(),
                Values::Fields => format!(
                    " -f -a \"(__fish_conntrend_list '' {})\"",
                    field_words().join(" ")
                ),
                Values::Filters => format!(
                    " -f -a \"(__fish_conntrend_list = {})\"",
                    filter::FIELDS.join(" ")
                ),
            });
        }
        out.push('\n');
    }
    out.push_str(
        "
# conntrend's own values: namespaces, interfaces, conns' field lists.
function __fish_conntrend_netns
    for f in /run/netns/*
        string replace -r '.*/' '' -- $f
    end
end

function __fish_conntrend_interfaces
    string match -rg '^\\s*([^:\\s]+):' </proc/net/dev
end

# SUFFIX CANDIDATE...: the last element of the comma-separated list being typed.
function __fish_conntrend_list
    set -l token (string replace -r '^-[^=]*=' '' -- (commandline -ct))
    set -l head (string match -r '^.*,' -- $token)
    for c in $argv[2..-1]
        printf '%s%s%s\\n' \"$head\" $c $argv[1]
    end
end
",
    );
    out
}
