//! The pages cover the tree, and the completion scripts carry what clap_complete cannot know.
//! (tests/it/generate.rs renders the pages and runs bash's completion.)

use super::*;
use crate::modes::conns::filter;

fn generated(kind: GenerateArg) -> String {
    let mut out = Vec::new();
    generate(kind, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// Every command of the tree (no `help`) as its path below conntrend.
fn paths(cmd: &clap::Command, path: Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(path.clone());
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let mut p = path.clone();
        p.push(sub.get_name().to_string());
        paths(sub, p, out);
    }
}

#[test]
fn every_command_has_its_page_and_every_page_its_command() {
    let mut tree = Vec::new();
    paths(&cli::command(), Vec::new(), &mut tree);
    let mut pages: Vec<Vec<String>> = GenerateArg::value_variants()
        .iter()
        .filter_map(|k| page_path(*k))
        .collect();
    tree.sort();
    pages.sort();
    assert_eq!(pages, tree);
    for kind in GenerateArg::value_variants() {
        let Some(path) = page_path(*kind) else {
            continue;
        };
        let page = generated(*kind);
        let name = std::iter::once("conntrend".to_string())
            .chain(path)
            .collect::<Vec<_>>()
            .join("-");
        // The title is the file `make install` writes, as the value's own doc says.
        assert!(page.contains(&format!(".TH {name} 1 ")), "{kind:?}\n{page}");
        let doc = kind
            .to_possible_value()
            .unwrap()
            .get_help()
            .unwrap()
            .to_string();
        assert_eq!(doc, format!("{name}.1"));
        assert!(page.contains(".SH \"EXIT STATUS\""), "{kind:?}");
    }
}

#[test]
fn exit_status_3_is_in_the_pages_of_the_modes_with_exit_on_alert() {
    for (kind, alerts) in [
        (GenerateArg::Man, true),
        (GenerateArg::ManServe, true),
        (GenerateArg::ManTop, false),
        (GenerateArg::ManConntrackDelete, false),
    ] {
        let page = generated(kind);
        let status = page.split(".SH \"EXIT STATUS\"").nth(1).unwrap();
        assert_eq!(status.contains(".TP\n3\n"), alerts, "{kind:?}\n{status}");
        assert!(status.contains(".TP\n2\n"), "{kind:?}\n{status}");
    }
    let delete = generated(GenerateArg::ManConntrackDelete);
    assert!(delete.contains("delete matched no entry"), "{delete}");
}

#[test]
fn bash_calls_ours_first_with_the_code_s_field_names() {
    let bash = generated(GenerateArg::CompleteBash);
    assert!(bash.contains("complete -F _conntrend_more "), "{bash}");
    assert!(!bash.contains("complete -F _conntrend "), "{bash}");
    assert!(bash.contains("conns,--output|conns,-o)"), "{bash}");
    assert!(bash.contains("conns,--filter|conns,-F)"), "{bash}");
    assert!(bash.contains("rtt,--interface|rtt,-i)"), "{bash}");
    assert!(bash.contains(&complete::field_words().join(" ")));
    assert!(bash.contains(&filter::FIELDS.join(" ")));
    // The alias is completed as the mode.
    assert!(bash.contains("conntrend,ct)"), "{bash}");
}

#[test]
fn zsh_completes_the_values_and_finds_the_mode() {
    let zsh = generated(GenerateArg::CompleteZsh);
    for action in [
        ":NAME|PATH:_conntrend_netns'",
        ":IFACE:_conntrend_interfaces'",
        ":FIELD[,...]:_conntrend_fields'",
        ":FIELD=VALUE[,...]:_conntrend_filters'",
    ] {
        assert!(zsh.contains(action), "{action}");
    }
    assert!(!zsh.contains(":NAME|PATH:_default'"));
    assert!(zsh.contains(&format!(
        "_values -s , field {}",
        complete::field_words().join(" ")
    )));
    for f in filter::FIELDS {
        assert!(zsh.contains(&format!("'{f}:")), "{f}");
    }
    // The mode is the first operand (no hidden `stray` before it), the top level's options end
    // there, and the alias is a mode.
    assert!(!zsh.contains("stray"));
    assert!(zsh.contains("case $line[1] in"));
    assert_eq!(zsh.matches("-A '-*'").count(), 1);
    assert!(zsh.contains("(ct)"));
    let at = zsh.find("_conntrend_netns() {").unwrap();
    assert!(
        at < zsh
            .find("if [ \"$funcstack[1]\" = \"_conntrend\" ]")
            .unwrap()
    );
}

#[test]
fn fish_completes_the_values() {
    let fish = generated(GenerateArg::CompleteFish);
    let netns: Vec<&str> = fish.lines().filter(|l| l.contains(" -l netns ")).collect();
    assert!(netns.len() > 10, "{fish}");
    assert!(
        netns
            .iter()
            .all(|l| l.ends_with(" -r -a \"(__fish_conntrend_netns)\""))
    );
    let line = |mode: &str, long: &str| {
        fish.lines()
            .find(|l| {
                l.contains(&format!("using_subcommand {mode}\""))
                    && l.contains(&format!(" -l {long} "))
            })
            .unwrap_or_else(|| panic!("{mode} --{long}"))
            .to_string()
    };
    assert!(line("rtt", "interface").ends_with(" -f -a \"(__fish_conntrend_interfaces)\""));
    let fields = complete::field_words().join(" ");
    assert!(line("conns", "output").ends_with(&format!("(__fish_conntrend_list '' {fields})\"")));
    let filters = filter::FIELDS.join(" ");
    assert!(line("conns", "filter").ends_with(&format!("(__fish_conntrend_list = {filters})\"")));
    // Not the timeline's or states' -o (an output file).
    assert!(!line("states", "output").contains("__fish_conntrend_list"));
    assert!(fish.contains("function __fish_conntrend_netns"));
}
