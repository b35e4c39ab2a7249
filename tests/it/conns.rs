//! `conntrend conns`: connstat's per-connection report, checked in private namespaces against
//! sockets the tests built themselves — the exact row set of a held mix under every filter form,
//! with and without the kernel-side filter; byte and retransmission counts of transfers the tests
//! made; tcp_info numbers against `ss -tin` at the same moment; the output shapes; and connstat's
//! own rules (`-o all`, `-4` with `-6`, exit statuses, out-of-order segments, example 4).

mod bytes;
mod connstat;
mod errors;
mod filters;
mod mix;
mod output;
mod sockets;

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use crate::netns::NetNs;
use crate::util::{Run, conntrend};
use mix::Conn;

/// The default fields, in order.
const DEFAULT: &str = "laddr,lport,raddr,rport,state";

/// Runs `conntrend conns <args>` inside `ns`.
fn conns(ns: &NetNs, args: &[&str]) -> Run {
    let mut c = conntrend();
    c.arg("conns").args(args);
    ns.run(c)
}

/// Runs conns, which must exit 0 without a word on stderr; returns its stdout.
fn ok(ns: &NetNs, args: &[&str]) -> String {
    let r = conns(ns, args);
    r.expect_code(0);
    assert!(r.stderr().is_empty(), "stderr\n{}", r.describe());
    r.stdout()
}

/// `-o <fields> -P <args>` as one map field → text per row ("" where empty), in output order.
fn parsable(ns: &NetNs, fields: &str, args: &[&str]) -> Vec<Vec<(String, String)>> {
    let mut all = vec!["-o", fields, "-P"];
    all.extend(args);
    let text = ok(ns, &all);
    let names: Vec<&str> = fields.split(',').collect();
    text.lines()
        .map(|line| {
            let v: Vec<&str> = line.split(',').collect();
            assert_eq!(v.len(), names.len(), "{fields} in {line:?}:\n{text}");
            let pairs = names.iter().zip(v);
            pairs
                .map(|(n, v)| (n.to_ascii_lowercase(), v.to_string()))
                .collect()
        })
        .collect()
}

/// The row set conns prints for the default fields with `args` (through `-P`), sorted.
fn rows(ns: &NetNs, args: &[&str]) -> Vec<Conn> {
    let mut v: Vec<Conn> = parsable(ns, DEFAULT, args)
        .iter()
        .map(|r| conn(&r.iter().map(|(_, v)| v.as_str()).collect::<Vec<_>>()))
        .collect();
    v.sort();
    v
}

/// What `got` lacks and what it has too many of, against `want`, one row a line.
fn diff(want: &[Conn], got: &[Conn]) -> String {
    let missing = want
        .iter()
        .filter(|c| !got.contains(c))
        .map(|c| format!("  missing {}", c.parsable()));
    let extra = got
        .iter()
        .filter(|c| !want.contains(c))
        .map(|c| format!("  extra   {}", c.parsable()));
    let lines: Vec<String> = missing.chain(extra).collect();
    if lines.is_empty() && want != got {
        return format!("  the same rows, differently repeated: {got:?}");
    }
    lines.join("\n")
}

/// A row from the five default values as printed.
fn conn(v: &[&str]) -> Conn {
    let ip = |s: &str| {
        s.parse()
            .unwrap_or_else(|_| panic!("not an address: {s:?} in {v:?}"))
    };
    let port = |s: &str| {
        s.parse()
            .unwrap_or_else(|_| panic!("not a port: {s:?} in {v:?}"))
    };
    Conn {
        laddr: ip(v[0]),
        lport: port(v[1]),
        raddr: ip(v[2]),
        rport: port(v[3]),
        state: v[4].to_string(),
    }
}

/// The value of `field` in a row of [`parsable`].
fn get<'r>(row: &'r [(String, String)], field: &str) -> &'r str {
    let hit = row.iter().find(|(k, _)| k == field);
    hit.map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("{field} not in {row:?}"))
}

/// A number conns printed for `field` (panics if it is empty or not a number).
fn num(row: &[(String, String)], field: &str) -> u64 {
    let v = get(row, field);
    v.parse()
        .unwrap_or_else(|_| panic!("{field} is not a number: {v:?} in {row:?}"))
}

/// One JSON Lines object with its keys in the order written.
#[derive(Debug)]
struct Ordered(Vec<(String, Value)>);

impl Ordered {
    fn get(&self, key: &str) -> &Value {
        let hit = self.0.iter().find(|(k, _)| k == key);
        hit.map(|(_, v)| v)
            .unwrap_or_else(|| panic!("{key} not in {self:?}"))
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(k, _)| k.as_str()).collect()
    }
}

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Ordered, A::Error> {
                let mut v = Vec::new();
                while let Some(kv) = m.next_entry::<String, Value>()? {
                    v.push(kv);
                }
                Ok(Ordered(v))
            }
        }
        d.deserialize_map(V)
    }
}

/// `--json -o <fields> <args>`: one object per line, each checked to hold `epoch_ms` (a number)
/// then exactly the fields in `-o` order.
fn json(ns: &NetNs, fields: &str, args: &[&str]) -> Vec<Ordered> {
    let mut all = vec!["--json", "-o", fields];
    all.extend(args);
    let text = ok(ns, &all);
    let mut want = vec!["epoch_ms".to_string()];
    want.extend(fields.split(',').map(str::to_ascii_lowercase));
    text.lines()
        .map(|line| {
            let o: Ordered =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}\n{text}"));
            assert_eq!(o.keys(), want, "{line}");
            assert!(o.get("epoch_ms").is_u64(), "{line}");
            o
        })
        .collect()
}

/// The row set of `--json -o laddr,lport,raddr,rport,state <args>`, checking the JSON types
/// (addresses and state strings, ports numbers).
fn json_rows(ns: &NetNs, args: &[&str]) -> Vec<Conn> {
    let mut v: Vec<Conn> = json(ns, DEFAULT, args)
        .iter()
        .map(|o| {
            let s = |k: &str| o.get(k).as_str().unwrap_or_else(|| panic!("{k}: {o:?}"));
            let n = |k: &str| o.get(k).as_u64().unwrap_or_else(|| panic!("{k}: {o:?}"));
            conn(&[
                s("laddr"),
                &n("lport").to_string(),
                s("raddr"),
                &n("rport").to_string(),
                s("state"),
            ])
        })
        .collect();
    v.sort();
    v
}
