use super::*;
use crate::diag::ctnetlink::entry::tests::{icmp_entry, tcp_entry};

fn entry(bytes: &[u8]) -> Entry {
    let mut e = Entry::default();
    assert!(e.parse(bytes));
    e
}

fn tcp() -> Entry {
    entry(&tcp_entry([10, 0, 0, 1], [10, 0, 0, 2], 40000, 80, 3))
}

/// grout's layout: a header, then fwd and rev rows, sized by the rows held back; the counters'
/// columns only when asked for.
#[test]
fn rows_are_laid_out_as_grout_lays_them_out() {
    let mut out = Vec::new();
    let mut t = Table::new(&columns(true));
    entry_rows(&mut t, &tcp(), &mut out);
    entry_rows(
        &mut t,
        &entry(&icmp_entry([10, 0, 0, 1], [10, 0, 0, 2], 4321)),
        &mut out,
    );
    t.release(&mut out);
    let want = [
        "        ID  STATE        FLOW  SRC       DST       PROTO  SPORT  DPORT  EXPIRES  MARK  ZONE  PACKETS  BYTES",
        "0x5caefe40  established  fwd   10.0.0.1  10.0.0.2  TCP    40000     80      120     0     0        3    180",
        "PADrev   10.0.0.2  10.0.0.1            80  40000                             2    120",
        "0x00000001  new          fwd   10.0.0.1  10.0.0.2  ICMP    4321   4321       29     7     3",
        "PADrev   10.0.0.2  10.0.0.1          4321   4321",
    ];
    let got = String::from_utf8(out).unwrap();
    assert_eq!(
        got.lines().collect::<Vec<_>>(),
        want.map(|l| l.replace("PAD", &" ".repeat(25))),
        "{got}"
    );
    let mut out = Vec::new();
    let mut t = Table::new(&columns(false));
    entry_rows(&mut t, &tcp(), &mut out);
    t.release(&mut out);
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("        ID  STATE        FLOW"), "{text}");
    assert!(
        text.lines().next().unwrap().ends_with("MARK  ZONE"),
        "{text}"
    );
}

#[test]
fn json_keeps_every_field() {
    let mut json = Vec::new();
    json_row(&tcp(), &mut json);
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(v["orig_sport"], 40000);
    assert_eq!(v["reply_src"], "10.0.0.2");
    assert_eq!(v["expires"], 120);
    assert_eq!(v["assured"], true);
    assert_eq!(v["state"], "ESTABLISHED");
    assert_eq!(v["grout_state"], "established");
    assert_eq!(v["id"], 0x5caefe40);
    assert_eq!(
        (&v["orig_packets"], &v["orig_bytes"]),
        (&3.into(), &180.into())
    );
    assert_eq!(
        (&v["reply_packets"], &v["reply_bytes"]),
        (&2.into(), &120.into())
    );
    assert!(v["orig_icmp_id"].is_null());
    let mut json = Vec::new();
    json_event(
        EventKind::Destroy,
        &entry(&icmp_entry([10, 0, 0, 1], [10, 0, 0, 2], 4321)),
        &mut json,
    );
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(v["event"], "DESTROY");
    assert_eq!(
        (&v["orig_icmp_id"], &v["orig_icmp_type"]),
        (&4321.into(), &8.into())
    );
    assert_eq!(v["reply_icmp_type"], 0);
    assert!(v["orig_sport"].is_null() && v["orig_packets"].is_null());
    assert_eq!((&v["mark"], &v["zone"]), (&7.into(), &3.into()));
}

#[test]
fn an_event_is_one_line() {
    let (mut t, mut out) = (event_table(), Vec::new());
    t.header(&mut out);
    event_row(&mut t, EventKind::New, &tcp(), &mut out);
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with("EVENT            ID  STATE        PROTO   ORIGINAL"),
        "{text}"
    );
    assert!(lines[1].ends_with("  120     0     0"), "{text}");
    assert!(
        lines[1]
            .starts_with("NEW      0x5caefe40  established  TCP     10.0.0.1:40000 -> 10.0.0.2:80"),
        "{text}"
    );
    assert!(lines[1].contains("10.0.0.2:80 -> 10.0.0.1:40000"), "{text}");
}

#[test]
fn endpoints_read_as_display_writes_them() {
    for (addr, port, want) in [
        ("0.0.0.0", Some(0), "0.0.0.0:0"),
        ("255.255.255.255", Some(65535), "255.255.255.255:65535"),
        ("127.40.3.209", None, "127.40.3.209"),
        ("::1", Some(443), "[::1]:443"),
        ("fe80::1:2", None, "fe80::1:2"),
    ] {
        let mut out = Vec::new();
        endpoint(addr.parse().unwrap(), port, &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), want);
    }
}
