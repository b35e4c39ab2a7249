//! The second stage of the arguments: what each command line becomes, and what is refused.
use super::*;
use clap::FromArgMatches;

fn action(args: &[&str]) -> Result<Action, String> {
    let m = crate::cli::command()
        .try_get_matches_from(std::iter::once("conntrend").chain(args.iter().copied()))
        .unwrap();
    Action::from_cli(Cli::from_arg_matches(&m).unwrap())
}

fn config(args: &[&str]) -> Result<Config, String> {
    match action(args)? {
        Action::Sample(c) => Ok(c),
        other => panic!("not a sampler command line: {other:?}"),
    }
}

#[test]
fn defaults() {
    let c = config(&[]).unwrap();
    assert_eq!(c.interval, Duration::from_secs(5));
    assert_eq!(c.duration, Some(Duration::from_secs(60)));
    assert_eq!(c.target, Target::Stdout);
    assert_eq!(c.protocols, Protocols::ALL);
    assert_eq!(c.groups, Groups::default());
    assert_eq!(c.count, None);
    assert_eq!(c.format, Format::Csv);
    assert_eq!(c.netns, None);
}

#[test]
fn zero_duration_is_unlimited_and_protocols_narrow() {
    let c = config(&["-d", "0", "-p", "udp", "-o", "x.csv"]).unwrap();
    assert_eq!(c.duration, None);
    assert_eq!(c.protocols, Protocols::UDP);
    assert_eq!(c.target, Target::File("x.csv".into()));
}

#[test]
fn dst_needs_tcp() {
    assert!(
        config(&["--dst", "-p", "udp"])
            .unwrap_err()
            .contains("--dst")
    );
    assert!(
        config(&["--dst", "-p", "tcp", "--time", "iso"])
            .unwrap()
            .groups
            .contains(Group::Dst)
    );
}

#[test]
fn namespaces_must_exist() {
    let err = config(&["--netns", "surely-no-such-namespace"]).unwrap_err();
    assert!(err.contains("--netns") && err.contains("/run/netns/surely-no-such-namespace"));
    assert!(
        config(&["--pid", "4294967295"])
            .unwrap_err()
            .contains("--pid: no process")
    );
    let own = config(&["--pid", &std::process::id().to_string()]).unwrap();
    assert_eq!(
        own.netns,
        Some(PathBuf::from(format!(
            "/proc/{}/ns/net",
            std::process::id()
        )))
    );
    assert!(
        config(&["--netns", "/proc/self/ns/net"])
            .unwrap()
            .netns
            .is_some()
    );
}

#[test]
fn count_alone_has_no_duration_and_stray_operands_are_refused() {
    let c = config(&["-c", "3"]).unwrap();
    assert_eq!((c.count, c.duration), (Some(3), None));
    let c = config(&["-c", "3", "-d", "10"]).unwrap();
    assert_eq!(c.duration, Some(Duration::from_secs(10)));
    let err = config(&["-c", "1", "junk"]).unwrap_err();
    assert!(
        err.contains("unexpected argument 'junk'") && !err.contains("subcommand"),
        "{err}"
    );
    let err = config(&["-i", "2", "top"]).unwrap_err();
    assert!(err.contains("conntrend top [OPTIONS]"), "{err}");
}

#[test]
fn a_zombie_is_not_a_missing_process() {
    // A child that has exited but is not reaped yet keeps /proc/PID, not its namespace.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    let path = PathBuf::from(format!("/proc/{pid}/ns/net"));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while path.try_exists().unwrap_or(true) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let err = config(&["--pid", &pid.to_string()]).unwrap_err();
    child.wait().unwrap();
    assert!(err.contains("zombie"), "{err}");
}

#[test]
fn sources() {
    let c = config(&[]).unwrap();
    assert_eq!(c.source.choice, SourceChoice::Auto);
    let c = config(&["--source", "proc"]).unwrap();
    assert_eq!(
        c.source.choice,
        SourceChoice::Proc(PathBuf::from(LIVE_PROC))
    );
    let c = config(&["--proc-root", "/tmp/sos/proc"]).unwrap();
    assert_eq!(
        c.source.choice,
        SourceChoice::Proc(PathBuf::from("/tmp/sos/proc"))
    );
    assert_eq!(c.source.proc_root, Some(PathBuf::from("/tmp/sos/proc")));
    let err = config(&["--source", "netlink", "--proc-root", "/x"]).unwrap_err();
    assert!(err.contains("--proc-root"), "{err}");
}

#[test]
fn states_settings() {
    let states = |args: &[&str]| match action(args).unwrap() {
        Action::States(s) => s,
        other => panic!("expected states: {other:?}"),
    };
    let s = states(&["states"]);
    assert_eq!(
        (s.interval, s.count, s.all, s.pretty),
        (None, None, false, false)
    );
    let s = states(&["states", "-c", "3", "--all"]);
    assert_eq!(
        s.interval,
        Some(Duration::from_secs(5)),
        "-c streams at the default interval"
    );
    let s = states(&["states", "-i", "2", "--proc-root", "/x"]);
    assert_eq!(s.interval, Some(Duration::from_secs(2)));
    assert_eq!(s.source.choice, SourceChoice::Proc(PathBuf::from("/x")));
}

#[test]
fn top_settings() {
    match action(&[
        "top",
        "-n",
        "3",
        "-i",
        "2",
        "--json",
        "--sort",
        "close_wait",
    ])
    .unwrap()
    {
        Action::Top(t) => {
            assert_eq!(t.sort, Sort::CloseWait);
            assert_eq!(t.rows, 3);
            assert_eq!(t.refresh, Some(Duration::from_secs(2)));
            assert!(t.json);
        }
        other => panic!("expected top: {other:?}"),
    }
}

#[test]
fn config_set_names_are_left_to_the_target_namespace_and_only_the_form_is_checked_here() {
    // No sysctl is read while lowering: a name this namespace may lack lowers, the mode checks it
    // after entering --netns.
    let Action::Conntrack(c) =
        action(&["conntrack", "config", "set", "no_such_timeout", "5"]).unwrap()
    else {
        panic!("not conntrack")
    };
    assert!(
        matches!(c.action, crate::modes::conntrack::CtAction::ConfigSet(ref p) if p == &[("no_such_timeout".to_string(), 5)])
    );
    for bad in [
        &["udp_timeout", "-1"][..],
        &["udp_timeout", "ten"],
        &["udp_timeout"],
        &["udp_timeout", "1", "udp_timeout", "2"],
    ] {
        let mut args = vec!["conntrend", "conntrack", "config", "set"];
        args.extend_from_slice(bad);
        let refused = match crate::cli::command().try_get_matches_from(&args) {
            Err(_) => true,
            Ok(m) => Action::from_cli(Cli::from_arg_matches(&m).unwrap()).is_err(),
        };
        assert!(refused, "{bad:?}");
    }
}

#[test]
fn the_unknown_state_message_has_no_run_of_spaces() {
    let err = action(&["conntrack", "show", "--state", "NOPE"]).unwrap_err();
    assert!(!err.contains("  "), "{err}");
    assert!(err.contains("ESTABLISHED, TIME_WAIT"), "{err}");
}

#[test]
fn forecast_windows_are_samples_or_a_span() {
    use crate::fold::forecast::Window;
    let window = |arg: &str| config(&[arg]).unwrap().forecast;
    assert_eq!(window("--forecast"), Some(Window::Samples(12)));
    assert_eq!(window("--forecast=30"), Some(Window::Samples(30)));
    assert_eq!(
        window("--forecast=5m"),
        Some(Window::Time(Duration::from_secs(300)))
    );
    assert_eq!(
        window("--forecast=90s"),
        Some(Window::Time(Duration::from_secs(90)))
    );
    assert_eq!(
        window("--forecast=1h"),
        Some(Window::Time(Duration::from_secs(3600)))
    );
    for bad in [
        "--forecast=2",
        "--forecast=0s",
        "--forecast=25h",
        "--forecast=5x",
        "--forecast=m",
    ] {
        let refused = crate::cli::command().try_get_matches_from(["conntrend", bad]);
        assert!(refused.is_err(), "{bad}");
    }
}

/// What `-i` defaults to in each mode is what that mode's help says (help.rs, INTERVAL_HELP).
#[test]
fn interval_defaults_are_the_ones_each_mode_s_help_states() {
    let help = |mode: &str| {
        crate::cli::help::INTERVAL_HELP
            .iter()
            .find(|(m, _)| *m == mode)
            .unwrap()
            .1
    };
    assert!(help("").ends_with("[default: 5]"));
    assert_eq!(config(&[]).unwrap().interval, Duration::from_secs(5));
    assert!(help("top").ends_with("[default: one report]"));
    match action(&["top"]).unwrap() {
        Action::Top(t) => assert_eq!(t.refresh, None),
        other => panic!("{other:?}"),
    }
    assert!(help("states").ends_with("[default: one object; with -c, 5]"));
    for (args, want) in [
        (&["states"][..], None),
        (&["states", "-c", "2"], Some(Duration::from_secs(5))),
    ] {
        match action(args).unwrap() {
            Action::States(s) => assert_eq!(s.interval, want, "{args:?}"),
            other => panic!("{other:?}"),
        }
    }
    assert!(help("conns").ends_with("[default: one report; -c needs -i]"));
    match action(&["conns"]).unwrap() {
        Action::Conns(c) => assert_eq!(c.interval, None),
        other => panic!("{other:?}"),
    }
    assert!(
        action(&["conns", "-c", "2"])
            .unwrap_err()
            .contains("give -i")
    );
}

#[test]
fn dst_top_is_the_textfile_s_destinations_as_serve_s() {
    let prom = ["--format", "prom", "-o", "x.prom", "--dst"];
    let with = |extra: &[&str]| config(&[&prom[..], extra].concat());
    assert_eq!(with(&[]).unwrap().dst_top, 5, "serve's default");
    assert_eq!(with(&["--dst-top", "2"]).unwrap().dst_top, 2);
    assert_eq!(with(&["--dst-top", "0"]).unwrap().dst_top, 0);
    // Without --dst there is no destination to write; CSV and JSON have no series to bound.
    assert_eq!(config(&prom[..4]).unwrap().dst_top, 0);
    assert_eq!(config(&["--dst"]).unwrap().dst_top, 0);
    let err = config(&["--dst", "--dst-top", "2"]).unwrap_err();
    assert!(
        err.contains("--dst-top") && err.contains("--format prom"),
        "{err}"
    );
    let refused = crate::cli::command()
        .try_get_matches_from(["conntrend", "--format", "prom", "-o", "x", "--dst-top", "2"])
        .unwrap_err();
    assert!(refused.to_string().contains("--dst"), "{refused}");
}
