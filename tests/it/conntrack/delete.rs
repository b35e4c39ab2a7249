//! `conntrack delete FILTER`: on the held flows, exactly the matching entries go (`conntrack -L`
//! before and after), each printed as `show` prints it; a filter that matches nothing exits 1 as
//! `conntrack -D` does, and deletes nothing.

use std::collections::BTreeSet;
use std::process::Command;

use super::{Flow, conntrack_l, ct, flow, flows, json_flows};
use crate::netns::with_netns;
use crate::util::run;

#[test]
fn delete_removes_what_the_filter_matches_and_prints_it() {
    with_netns(|ns| {
        let (_mix, _udp, want) = flows(ns);
        ns.wait_until("five flows", || conntrack_l() == want);
        let lo4 = "127.0.0.1";
        // Text: grout's table of what went, one entry (fwd and rev rows).
        let r = ct(&["delete", "-p", "udp", "--dport", "9001"]);
        r.expect_code(0);
        let out = r.stdout();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{}", r.describe());
        assert!(lines[0].trim_start().starts_with("ID  STATE"), "{out}");
        assert!(
            lines[1].contains(" fwd ") && lines[1].contains("41010"),
            "{out}"
        );
        assert!(lines[2].contains(" rev "), "{out}");
        assert_eq!(
            r.stderr(),
            "conntrend: deleted 1 entry\n",
            "{}",
            r.describe()
        );
        let udp = flow("udp", "REPLIED", lo4, lo4, 41010, 9001);
        let mut left: BTreeSet<Flow> = want.iter().filter(|f| **f != udp).cloned().collect();
        assert_eq!(conntrack_l(), left);
        // JSON: both TCP entries to port 7000 (one ESTABLISHED, one in TIME_WAIT).
        let r = ct(&["delete", "--json", "-4", "--port", "7000"]);
        r.expect_code(0);
        let gone = json_flows(&r.stdout());
        assert_eq!(
            gone,
            BTreeSet::from([
                flow("tcp", "ESTABLISHED", lo4, lo4, 41001, 7000),
                flow("tcp", "TIME_WAIT", lo4, lo4, 41003, 7000),
            ])
        );
        assert_eq!(r.stderr(), "conntrend: deleted 2 entries\n");
        left.retain(|f| !gone.contains(f));
        assert_eq!(conntrack_l(), left);
        assert_eq!(left.len(), 2);
    });
}

/// A filter that matches nothing: conntrack -D exits 1 ("0 flow entries have been deleted."), and
/// so does `delete`, with nothing on stdout and the table as it was.
#[test]
fn a_filter_that_matches_nothing_exits_as_conntrack_d_does() {
    with_netns(|ns| {
        let (_mix, _udp, want) = flows(ns);
        ns.wait_until("five flows", || conntrack_l() == want);
        let mut theirs = Command::new("conntrack");
        theirs.args(["-D", "-p", "udp", "--dport", "9"]);
        let theirs = run(theirs);
        let ours = ct(&["delete", "-p", "udp", "--dport", "9"]);
        assert_eq!(theirs.code(), Some(1), "{}", theirs.describe());
        assert_eq!(ours.code(), theirs.code(), "{}", ours.describe());
        assert_eq!(ours.stdout(), "");
        assert!(
            ours.stderr().contains("nothing deleted"),
            "{}",
            ours.describe()
        );
        assert_eq!(conntrack_l(), want);
        // With a match, both exit 0: conntrack -D takes the IPv6 flow, ours the unanswered one.
        let mut theirs = Command::new("conntrack");
        theirs.args(["-D", "-f", "ipv6", "-p", "tcp", "--dport", "7001"]);
        run(theirs).expect_code(0);
        ct(&["delete", "--port", "9002"]).expect_code(0);
        let left: BTreeSet<Flow> = want
            .into_iter()
            .filter(|f| f.5 != 7001 && f.5 != 9002)
            .collect();
        assert_eq!(conntrack_l(), left);
        // On an empty table too.
        ct(&["flush"]).expect_code(0);
        ct(&["delete"]).expect_code(1);
    });
}

/// `delete --zone`/`--mark`: only the entry in that zone, or with that mark.
#[test]
fn delete_by_zone_and_mark() {
    with_netns(|ns| {
        ns.nft(
            "table inet marks {\n chain zoning {\n type filter hook output priority -300;\n \
             udp dport 9002 ct zone set 7\n }\n chain marking {\n type filter hook output \
             priority 10;\n udp dport 9001 ct mark set 42\n }\n}\n",
        );
        let (_mix, _udp, want) = flows(ns);
        ns.wait_until("five flows", || conntrack_l() == want);
        let r = ct(&["delete", "--json", "--zone", "7"]);
        r.expect_code(0);
        let lo4 = "127.0.0.1";
        let zoned = flow("udp", "UNREPLIED", lo4, lo4, 41011, 9002);
        assert_eq!(json_flows(&r.stdout()), BTreeSet::from([zoned.clone()]));
        let r = ct(&["delete", "--json", "--mark", "0x2a"]);
        r.expect_code(0);
        let marked = flow("udp", "REPLIED", lo4, lo4, 41010, 9001);
        assert_eq!(json_flows(&r.stdout()), BTreeSet::from([marked.clone()]));
        let left: BTreeSet<Flow> = want
            .into_iter()
            .filter(|f| *f != zoned && *f != marked)
            .collect();
        assert_eq!(conntrack_l(), left);
    });
}
