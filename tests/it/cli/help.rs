//! What `--help` says agrees with what the program does: no dangling lines, the exit statuses each
//! command can end with, `--generate` shown, each mode's own `-i` default, and errors found after
//! clap shown with the usage of the command that was run.

use super::*;

/// `--help` of the command `args` name.
fn help(args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.push("--help");
    let r = ct(&all);
    r.expect_code(0);
    r.stdout()
}

#[test]
fn top_level_help_has_no_dangling_line_and_shows_generate() {
    let text = help(&[]);
    for line in text.lines() {
        assert!(
            !line.trim_end().ends_with(" adds"),
            "dangling: {line:?}\n{text}"
        );
    }
    for want in [
        "--alert adds no column, only the summary's alerts",
        "--generate <KIND>",
        "man-conntrack-show",
        "complete-bash",
        "rtt -i    is the interface to capture on",
        "conns -o  names the fields to print",
        "conntrack  ",
        "[alias: ct]",
    ] {
        assert!(text.contains(want), "{want}\n{text}");
    }
}

/// Status 3 is told where --exit-on-alert is a flag, and only there.
#[test]
fn exit_status_3_is_in_the_help_of_the_commands_that_can_end_with_it() {
    for (args, three) in [
        (&[][..], true),
        (&["serve"], true),
        (&["top"], false),
        (&["states"], false),
        (&["conns"], false),
        (&["rtt"], false),
        (&["plot"], false),
        (&["ct"], false),
        (&["ct", "delete"], false),
    ] {
        let text = help(args);
        let codes = text
            .split_once("Exit codes:")
            .unwrap_or_else(|| panic!("{args:?}\n{text}"))
            .1;
        for code in 0..3 {
            assert!(
                codes.contains(&format!("\n  {code}  ")),
                "{args:?}: {code}\n{text}"
            );
        }
        let told = codes.contains("\n  3  --exit-on-alert: an --alert started to hold");
        assert_eq!(told, three, "{args:?}\n{text}");
    }
    assert!(help(&["ct", "delete"]).contains("delete matched no entry (as conntrack -D)"));
}

#[test]
fn each_mode_s_interval_help_gives_its_own_default() {
    for (args, want) in [
        (&[][..], "[default: 5]"),
        (&["top"], "[default: one report]"),
        (&["states"], "[default: one object; with -c, 5]"),
        (&["conns"], "[default: one report; -c needs -i]"),
    ] {
        let text = help(args).replace(char::is_whitespace, " ");
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let at = text.find("--interval-sec <SECONDS>").unwrap();
        let arg = &text[at..at + 200.min(text.len() - at)];
        assert!(arg.contains(want), "{args:?}: {want}\n{arg}");
        assert!(
            !arg.contains("timeline") && !arg.contains("top:"),
            "{args:?}\n{arg}"
        );
    }
    assert!(help(&["rtt"]).contains("In rtt, -i is the interface to capture on"));
    assert!(help(&["conns"]).contains("In conns, -o names the fields to print"));
}

/// Errors the lowering or the run finds are told with the usage of the command run, as clap's
/// own are (they showed the top level's `conntrend [OPTIONS] / conntrend <COMMAND>`).
#[test]
fn errors_after_clap_show_the_usage_of_the_command_run() {
    let check = |r: &Run, usage: &str| {
        let d = r.describe();
        r.expect_code(2);
        let err = r.stderr();
        assert!(err.starts_with("error: "), "{d}");
        assert!(
            err.contains(&format!("Usage: {usage}")),
            "want {usage}\n{d}"
        );
        assert!(!err.contains("conntrend <COMMAND>"), "{d}");
        assert!(r.stdout().is_empty(), "{d}");
    };
    check(&ct(&["conns", "-P"]), "conntrend conns [OPTIONS]");
    check(&ct(&["conns", "-c", "2"]), "conntrend conns [OPTIONS]");
    check(
        &ct(&["ct", "config", "set", "max", "5", "bogus"]),
        "conntrend conntrack config set [OPTIONS]",
    );
    check(&ct(&["rtt", "-i", "lo", "-e"]), "conntrend rtt [OPTIONS]");
    // Found by the run, in the namespace it would set: a name that namespace does not have.
    let r = crate::netns::with_netns(|_| ct(&["ct", "config", "set", "bogus", "5"]));
    assert!(
        r.stderr().contains("unknown setting 'bogus'"),
        "{}",
        r.describe()
    );
    check(&r, "conntrend conntrack config set [OPTIONS]");
    // The timeline's own still shows the top level's.
    let r = ct(&["--dst", "-p", "udp"]);
    r.expect_code(2);
    assert!(
        r.stderr().contains("Usage: conntrend [OPTIONS]"),
        "{}",
        r.describe()
    );
}
