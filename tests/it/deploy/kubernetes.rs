//! deploy/kubernetes: the manifests validate against the Kubernetes API schemas; the PodMonitor
//! (a Prometheus Operator CRD the schemas lack) is checked against the DaemonSet it scrapes; the
//! DaemonSet says what the README says, and its container runs as its securityContext says.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::{
    as_user, bin, get, open_tempdir, read, repo, signal, spawn_logged, venv, wait_for, write, yaml,
};
use crate::netns::with_netns;
use crate::util::run;

const MANIFEST: &str = "deploy/kubernetes/conntrend.yaml";
const PODMONITOR: &str = "deploy/kubernetes/podmonitor.yaml";

fn docs(rel: &str) -> Vec<Value> {
    yaml(&repo().join(rel))
}

fn kind<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    let found: Vec<&Value> = docs.iter().filter(|d| d["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "one {kind}");
    found[0]
}

fn validate(path: &Path) -> crate::util::Run {
    let mut cmd = Command::new(venv("kubernetes-validate"));
    cmd.arg("--strict").arg(path);
    run(cmd)
}

#[test]
fn the_manifests_validate_against_the_kubernetes_schemas() {
    let r = validate(&repo().join(MANIFEST));
    r.expect_code(0);
    let said = format!("{}{}", r.stdout(), r.stderr());
    for resource in [
        "namespace/conntrend",
        "daemonset/conntrend",
        "service/conntrend",
    ] {
        assert!(
            said.contains(&format!("passed for resource {resource} ")),
            "{resource} not validated\n{said}"
        );
    }
    assert!(!said.contains("WARN") && !said.contains("ERROR"), "{said}");
    // A typo --strict must catch, and a wrong type.
    let dir = tempfile::tempdir().unwrap();
    for (from, to) in [
        ("      hostNetwork: true", "      hostNetwrk: true"),
        ("containerPort: 9959", "containerPort: \"9959\""),
    ] {
        let broken = dir.path().join("broken.yaml");
        let text = read(MANIFEST);
        assert!(text.contains(from));
        write(&broken, &text.replacen(from, to, 1));
        let r = validate(&broken);
        assert_ne!(r.code(), Some(0), "{to} accepted\n{}", r.describe());
    }
    // kubernetes-validate has no schema for the PodMonitor and only warns: it is checked below.
    let r = validate(&repo().join(PODMONITOR));
    assert!(
        r.stdout()
            .contains("Couldn't find schema for kind PodMonitor")
            || r.stderr()
                .contains("Couldn't find schema for kind PodMonitor"),
        "{}",
        r.describe()
    );
}

/// The PodMonitor, field by field as the Prometheus Operator's v1 CRD defines them, and
/// against the DaemonSet: it selects the DaemonSet's pods in their namespace and scrapes their
/// named metrics port at /metrics.
#[test]
fn the_podmonitor_scrapes_the_daemonset_s_metrics_port() {
    let all = docs(MANIFEST);
    let ds = kind(&all, "DaemonSet");
    let pm_docs = docs(PODMONITOR);
    assert_eq!(pm_docs.len(), 1);
    let pm = &pm_docs[0];
    assert_eq!(pm["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(pm["kind"], "PodMonitor");
    let keys = |v: &Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    let only = |v: &Value, allowed: &[&str], what: &str| {
        for k in keys(v) {
            assert!(allowed.contains(&k.as_str()), "{what}: unknown field {k}");
        }
    };
    only(
        pm,
        &["apiVersion", "kind", "metadata", "spec"],
        "PodMonitor",
    );
    only(
        &pm["spec"],
        &[
            "selector",
            "namespaceSelector",
            "podMetricsEndpoints",
            "jobLabel",
            "podTargetLabels",
            "sampleLimit",
        ],
        "spec",
    );
    assert_eq!(pm["metadata"]["namespace"], ds["metadata"]["namespace"]);
    let ns = ds["metadata"]["namespace"].as_str().unwrap();
    assert!(
        pm["spec"]["namespaceSelector"]["matchNames"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == ns)
    );
    let want = pm["spec"]["selector"]["matchLabels"].as_object().unwrap();
    let labels = &ds["spec"]["template"]["metadata"]["labels"];
    assert!(!want.is_empty());
    for (k, v) in want {
        assert_eq!(&labels[k], v, "the pods lack {k}={v}");
    }
    let container = &ds["spec"]["template"]["spec"]["containers"][0];
    let endpoints = pm["spec"]["podMetricsEndpoints"].as_array().unwrap();
    assert_eq!(endpoints.len(), 1);
    let ep = &endpoints[0];
    only(
        ep,
        &[
            "port",
            "path",
            "interval",
            "scrapeTimeout",
            "relabelings",
            "metricRelabelings",
            "scheme",
            "honorLabels",
        ],
        "podMetricsEndpoints[0]",
    );
    let port = ep["port"].as_str().unwrap();
    assert!(
        container["ports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == port),
        "no container port named {port}"
    );
    assert_eq!(ep["path"], "/metrics");
    let secs = |v: &Value| -> u64 {
        v.as_str()
            .unwrap()
            .strip_suffix('s')
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(secs(&ep["scrapeTimeout"]) < secs(&ep["interval"]));
    for r in ep["relabelings"].as_array().unwrap() {
        only(
            r,
            &[
                "sourceLabels",
                "targetLabel",
                "regex",
                "replacement",
                "action",
                "separator",
                "modulus",
            ],
            "relabeling",
        );
    }
}

/// What the README and the comments promise of the DaemonSet, and the Service's scrape
/// annotations pointing at the same port as the container and the Dockerfile's EXPOSE.
#[test]
fn the_daemonset_is_as_documented() {
    let all = docs(MANIFEST);
    let ds = kind(&all, "DaemonSet");
    let pod = &ds["spec"]["template"]["spec"];
    assert_eq!(pod["hostNetwork"], true, "the node's sockets");
    assert_eq!(pod["hostPID"], false, "serve attributes nothing");
    assert_eq!(pod["dnsPolicy"], "ClusterFirstWithHostNet");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let uid = pod["securityContext"]["runAsUser"].as_u64().unwrap();
    let dockerfile = read("Dockerfile");
    assert!(
        dockerfile.contains(&format!("\nUSER {uid}:{uid}\n")),
        "runAsUser {uid} is the image's USER"
    );
    let c = &pod["containers"][0];
    let sc = &c["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert!(
        sc["capabilities"].get("add").is_none(),
        "serve needs no capability"
    );
    let port = c["ports"][0]["containerPort"].as_u64().unwrap();
    assert_eq!(port, 9959);
    assert!(dockerfile.contains(&format!("\nEXPOSE {port}\n")));
    for probe in ["livenessProbe", "readinessProbe"] {
        assert_eq!(c[probe]["httpGet"]["path"], "/metrics", "{probe}");
        assert_eq!(
            c[probe]["httpGet"]["port"], c["ports"][0]["name"],
            "{probe}"
        );
    }
    // Requests and limits above the measured peak (5.2 MB at 100k sockets, BENCHMARKS.md).
    let mib = |v: &Value| -> u64 {
        v.as_str()
            .unwrap()
            .strip_suffix("Mi")
            .unwrap()
            .parse()
            .unwrap()
    };
    let (req, lim) = (
        mib(&c["resources"]["requests"]["memory"]),
        mib(&c["resources"]["limits"]["memory"]),
    );
    assert!(6 < req && req <= lim, "{req} {lim}");
    assert!(read("BENCHMARKS.md").contains("## Cost per node"));
    let svc = kind(&all, "Service");
    assert_eq!(
        svc["metadata"]["annotations"]["prometheus.io/scrape"],
        "true"
    );
    assert_eq!(
        svc["metadata"]["annotations"]["prometheus.io/port"],
        port.to_string()
    );
    assert_eq!(
        svc["metadata"]["annotations"]["prometheus.io/path"],
        "/metrics"
    );
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], c["ports"][0]["name"]);
    assert_eq!(
        svc["spec"]["selector"],
        ds["spec"]["selector"]["matchLabels"]
    );
}

/// The DaemonSet's container args with the environment Kubernetes would expand in them
/// (`$(POD_IP)` is the node's address under hostNetwork; here loopback).
pub fn daemonset_args() -> Vec<String> {
    let all = docs(MANIFEST);
    let c = &kind(&all, "DaemonSet")["spec"]["template"]["spec"]["containers"][0];
    let env: Vec<String> = c["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["valueFrom"]["fieldRef"]["fieldPath"], "status.podIP");
            e["name"].as_str().unwrap().to_string()
        })
        .collect();
    c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let mut a = a.as_str().unwrap().to_string();
            for name in &env {
                a = a.replace(&format!("$({name})"), "127.0.0.1");
            }
            assert!(!a.contains("$("), "unexpanded {a}");
            a
        })
        .collect()
}

/// The container as the kubelet would start it under the DaemonSet's securityContext (its
/// runAsUser and runAsGroup, every capability dropped, no privilege escalation), in a
/// namespace standing for the node's: the liveness and readiness probes' GET /metrics answers.
#[test]
fn the_daemonset_container_runs_under_its_security_context() {
    let all = docs(MANIFEST);
    let pod = kind(&all, "DaemonSet")["spec"]["template"]["spec"].clone();
    let args = daemonset_args();
    with_netns(move |_ns| {
        let uid = pod["securityContext"]["runAsUser"].as_u64().unwrap() as u32;
        assert_eq!(
            pod["securityContext"]["runAsGroup"].as_u64(),
            Some(u64::from(uid))
        );
        let c = &pod["containers"][0];
        let mut argv = vec![bin().to_string()];
        argv.extend(args);
        let dir = open_tempdir();
        let mut child = spawn_logged(as_user(uid, &[], true, &argv), dir.path(), "pod");
        let port = c["ports"][0]["containerPort"].as_u64().unwrap() as u16;
        for probe in ["livenessProbe", "readinessProbe"] {
            let (status, body) = get(port, c[probe]["httpGet"]["path"].as_str().unwrap());
            assert_eq!(
                status,
                200,
                "{probe}: {body}\n{}",
                super::log(dir.path(), "pod")
            );
            assert!(body.contains("conntrend_conntrack_entries "), "{body}");
        }
        signal(child.0.id(), libc::SIGTERM);
        assert_eq!(wait_for(&mut child.0, Duration::from_secs(10)), Some(0));
    });
}
