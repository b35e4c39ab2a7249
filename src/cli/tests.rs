//! The clap definition: consistent, every flag in both spellings, bad values named, help built.
use super::*;
use clap::FromArgMatches;

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    let m =
        command().try_get_matches_from(std::iter::once("conntrend").chain(args.iter().copied()))?;
    Cli::from_arg_matches(&m)
}

#[test]
fn definition_is_consistent() {
    command().debug_assert();
}

#[test]
fn both_spellings_of_long_flags() {
    let a = parse(&["--interval_sec", "2", "--duration-sec", "0"])
        .unwrap()
        .sample;
    let b = parse(&["--interval-sec", "2", "--duration_sec", "0"])
        .unwrap()
        .sample;
    assert_eq!(
        (a.interval.interval_sec, a.duration_sec),
        (Some(2), Some(0))
    );
    assert_eq!(
        (b.interval.interval_sec, b.duration_sec),
        (Some(2), Some(0))
    );
}

#[test]
fn bad_values_name_their_flag() {
    for (args, flag) in [
        (&["-i", "0"][..], "--interval-sec"),
        (&["-i", "-1"], "--interval-sec"),
        (&["-d", "-5"], "--duration-sec"),
        (&["-c", "0"], "must be at least 1"),
        (&["-p", "icmp"], "--protocol"),
        (&["--format", "xml"], "--format"),
        (&["--time", "local"], "--time"),
        (&["--netns", "a", "--pid", "1"], "--pid"),
        (&["--pid", "-1"], "--pid"),
        (&["--netns", ""], "--netns"),
        (&["top", "-n", "0"], "--rows"),
        (&["top", "--sort", "x"], "--sort"),
        (&["--source", "x"], "--source"),
        (&["--proc-root", "/x", "--pid", "1"], "--proc-root"),
    ] {
        let err = parse(args).unwrap_err();
        assert!(err.to_string().contains(flag), "{args:?}: {err}");
        assert_eq!(err.exit_code(), 2, "{args:?}");
    }
}

#[test]
fn every_mode_has_a_version_flag() {
    for args in [&["-V"][..], &["top", "-V"]] {
        let err = parse(args).unwrap_err();
        assert_eq!(
            err.kind(),
            clap::error::ErrorKind::DisplayVersion,
            "{args:?}"
        );
    }
}

#[test]
fn help_shows_columns_examples_and_exit_codes() {
    let help = command().render_long_help().to_string();
    for want in [
        "--dst adds worst_dst",
        "Examples:",
        "conntrend top",
        "Exit codes:",
    ] {
        assert!(help.contains(want), "{want}\n{help}");
    }
    let mut cmd = command();
    let top = cmd.find_subcommand_mut("top").unwrap();
    let help = top.render_long_help().to_string();
    assert!(help.contains("--sort close_wait"), "{help}");
}
