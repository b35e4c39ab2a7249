//! deploy/prometheus: the rules pass `promtool check rules` and their unit tests (series in,
//! alerts out, with hosts on which each alert must not fire); a rule broken on purpose fails
//! them; every alert has a firing case.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::{read, repo, tool, write, yaml};
use crate::util::{Run, run};

pub const RULES: &str = "deploy/prometheus/conntrend.rules.yml";
const TESTS: &str = "deploy/prometheus/conntrend.rules.test.yml";

pub fn promtool(args: &[&str], dir: &Path) -> Run {
    let mut cmd = Command::new(tool("/usr/bin/promtool", "prometheus"));
    cmd.args(args).current_dir(dir);
    run(cmd)
}

/// The rules' groups as JSON.
pub fn groups() -> Vec<Value> {
    yaml(&repo().join(RULES))[0]["groups"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn the_rules_pass_promtool_check_rules() {
    let r = promtool(&["check", "rules", RULES], repo());
    r.expect_code(0);
    let n: usize = groups()
        .iter()
        .map(|g| g["rules"].as_array().unwrap().len())
        .sum();
    assert!(
        r.stdout().contains(&format!("SUCCESS: {n} rules found")),
        "{}",
        r.describe()
    );
    // A broken expression must be refused.
    let dir = tempfile::tempdir().unwrap();
    let broken = read(RULES).replacen(
        "deriv(conntrend_pool_free_ports[30m])",
        "deriv(conntrend_pool_free_ports[30m)",
        1,
    );
    write(&dir.path().join("conntrend.rules.yml"), &broken);
    let r = promtool(&["check", "rules", "conntrend.rules.yml"], dir.path());
    assert_ne!(r.code(), Some(0), "{}", r.describe());
}

#[test]
fn the_rules_pass_their_promtool_unit_tests() {
    let r = promtool(
        &["test", "rules", "conntrend.rules.test.yml"],
        &repo().join("deploy/prometheus"),
    );
    assert!(
        r.output.status.success() && r.stdout().contains("SUCCESS"),
        "{}",
        r.describe()
    );
    // The same tests against rules with one threshold moved (90% → 99%) and one condition
    // dropped must fail: they test the rules, not merely run.
    for (from, to) in [
        ("ratio > 0.9\n", "ratio > 0.99\n"),
        ("and conntrend_tcp_sockets{state=\"close_wait\"} > 100", ""),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let rules = read(RULES);
        assert!(rules.contains(from), "{from}");
        write(
            &dir.path().join("conntrend.rules.yml"),
            &rules.replacen(from, to, 1),
        );
        write(&dir.path().join("t.yml"), &read(TESTS));
        let r = promtool(&["test", "rules", "t.yml"], dir.path());
        assert_ne!(
            r.code(),
            Some(0),
            "{from:?} → {to:?} passed\n{}",
            r.describe()
        );
    }
}

/// Each alert of the rules is unit-tested firing at least once, and some cases expect none.
#[test]
fn every_alert_has_a_firing_case_and_there_are_silent_ones() {
    let alerts: BTreeSet<String> = groups()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap().clone())
        .filter_map(|r| r["alert"].as_str().map(str::to_string))
        .collect();
    assert!(alerts.len() >= 6, "{alerts:?}");
    let tests = yaml(&repo().join(TESTS));
    let cases: Vec<&Value> = tests[0]["tests"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["alert_rule_test"].as_array().unwrap())
        .collect();
    let firing: BTreeSet<String> = cases
        .iter()
        .filter(|c| !c["exp_alerts"].as_array().unwrap().is_empty())
        .map(|c| c["alertname"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(firing, alerts, "alerts without a firing case");
    let silent = cases
        .iter()
        .filter(|c| c["exp_alerts"].as_array().unwrap().is_empty())
        .count();
    assert!(silent >= 4, "{silent} cases expect no alert");
    // Every firing case names one host: the others in its series must stay silent.
    for c in cases
        .iter()
        .filter(|c| !c["exp_alerts"].as_array().unwrap().is_empty())
    {
        assert_eq!(c["exp_alerts"].as_array().unwrap().len(), 1, "{c}");
    }
}
