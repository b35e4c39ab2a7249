//! How an entry is written: in grout's `conntrack show` table (two rows, fwd and rev, under ID
//! STATE FLOW SRC DST PROTO SPORT DPORT, then what Linux adds), as one JSON object per line, or as
//! one line per event for `events`. Numbers and IPv4 addresses are written digit by digit, not
//! through `core::fmt`, which cost more than half of the listing's own time at 100k entries.

use std::net::IpAddr;

use super::table::{Column, Table};
use crate::diag::ctnetlink::entry::{Counters, Entry, Tuple, proto_name};
use crate::diag::ctnetlink::events::EventKind;
use crate::util::text;

const fn col(name: &'static str, right: bool) -> Column {
    Column { name, right }
}

/// grout's columns (without IFACE: ctnetlink does not say which interface an entry came in on;
/// EXPIRES where grout has LAST_UPDATE), then Linux's: mark, zone, and with `counters` the
/// packets and bytes of each direction.
pub fn columns(counters: bool) -> Vec<Column> {
    let mut c = vec![
        col("ID", true),
        col("STATE", false),
        col("FLOW", false),
        col("SRC", false),
        col("DST", false),
        col("PROTO", false),
        col("SPORT", true),
        col("DPORT", true),
        col("EXPIRES", true),
        col("MARK", true),
        col("ZONE", true),
    ];
    if counters {
        c.extend([col("PACKETS", true), col("BYTES", true)]);
    }
    c
}

/// An entry's two rows: fwd (the original direction, with what belongs to the whole entry) and
/// rev (the reply direction).
pub fn entry_rows(table: &mut Table, e: &Entry, out: &mut Vec<u8>) {
    table.row(out, |i, cell| match i {
        0 => {
            if let Some(id) = e.id {
                hex32(cell, id);
            }
        }
        1 => cell.extend_from_slice(e.grout_state().unwrap_or("").as_bytes()),
        2 => cell.extend_from_slice(b"fwd"),
        5 => grout_proto(e.proto, cell),
        8 => opt(e.timeout, cell),
        9 => opt(e.mark, cell),
        10 => text::uint(cell, u64::from(e.zone.unwrap_or(0)), 1),
        _ => direction(i, &e.orig, e.orig_counters, cell),
    });
    table.row(out, |i, cell| match i {
        2 => cell.extend_from_slice(b"rev"),
        0 | 1 | 5 | 8..=10 => {}
        _ => direction(i, &e.reply, e.reply_counters, cell),
    });
}

/// The cells that differ by direction: SRC, DST, SPORT, DPORT, PACKETS, BYTES.
fn direction(i: usize, t: &Tuple, counters: Option<Counters>, cell: &mut Vec<u8>) {
    match i {
        3 => text::ip(cell, t.src),
        4 => text::ip(cell, t.dst),
        6 => port(t.sport, t, cell),
        7 => port(t.dport, t, cell),
        11 => {
            if let Some(c) = counters {
                text::uint(cell, c.packets, 1);
            }
        }
        12 => {
            if let Some(c) = counters {
                text::uint(cell, c.bytes, 1);
            }
        }
        _ => {}
    }
}

/// A port, or for ICMP the identifier in both columns (grout's way: the id stands in for the
/// ports).
fn port(p: Option<u16>, t: &Tuple, cell: &mut Vec<u8>) {
    if let Some(p) = p.or(t.icmp.map(|i| i.id)) {
        text::uint(cell, u64::from(p), 1);
    }
}

/// `0x` and eight hex digits, as grout prints its ids.
fn hex32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(b"0x");
    for shift in (0..8).rev() {
        out.push(b"0123456789abcdef"[(v >> (shift * 4)) as usize & 0xf]);
    }
}

/// grout's protocol names (TCP, UDP, ICMP), and conntrack's others in capitals.
fn grout_proto(p: u8, out: &mut Vec<u8>) {
    match proto_name(p) {
        Some("icmpv6") => out.extend_from_slice(b"ICMPv6"),
        Some(name) => out.extend(name.bytes().map(|b| b.to_ascii_uppercase())),
        None => text::uint(out, u64::from(p), 1),
    }
}

/// One entry in grout's layout, sized by the headers (for the fuzz target; `show` sizes the
/// columns by its first rows).
pub fn text_row(e: &Entry, out: &mut Vec<u8>, _scratch: &mut Vec<u8>) {
    entry_rows(&mut Table::streaming(&columns(true)), e, out);
}

/// One entry as a JSON object on its own line.
pub fn json_row(e: &Entry, out: &mut Vec<u8>) {
    json_object(None, e, out);
}

/// One event as a JSON object on its own line: `event`, then the entry's fields.
pub fn json_event(kind: EventKind, e: &Entry, out: &mut Vec<u8>) {
    json_object(Some(kind), e, out);
}

fn json_object(event: Option<EventKind>, e: &Entry, out: &mut Vec<u8>) {
    out.push(b'{');
    if let Some(k) = event {
        out.extend_from_slice(b"\"event\":\"");
        out.extend_from_slice(k.name().as_bytes());
        out.extend_from_slice(b"\",");
    }
    out.extend_from_slice(b"\"proto\":\"");
    proto(e.proto, out);
    out.extend_from_slice(b"\",\"state\":");
    json_str(e.state(), out);
    out.extend_from_slice(b",\"grout_state\":");
    json_str(e.grout_state(), out);
    out.extend_from_slice(b",\"id\":");
    json_opt(e.id.map(u64::from), out);
    let dirs = [
        (&b"orig"[..], &e.orig, e.orig_counters),
        (b"reply", &e.reply, e.reply_counters),
    ];
    for (dir, t, counters) in dirs {
        key(dir, b"_src\":\"", out);
        text::ip(out, t.src);
        out.push(b'"');
        key(dir, b"_dst\":\"", out);
        text::ip(out, t.dst);
        out.push(b'"');
        key(dir, b"_sport\":", out);
        json_opt(t.sport.map(u64::from), out);
        key(dir, b"_dport\":", out);
        json_opt(t.dport.map(u64::from), out);
        key(dir, b"_icmp_type\":", out);
        json_opt(t.icmp.map(|i| u64::from(i.kind)), out);
        key(dir, b"_icmp_code\":", out);
        json_opt(t.icmp.map(|i| u64::from(i.code)), out);
        key(dir, b"_icmp_id\":", out);
        json_opt(t.icmp.map(|i| u64::from(i.id)), out);
        key(dir, b"_packets\":", out);
        json_opt(counters.map(|c| c.packets), out);
        key(dir, b"_bytes\":", out);
        json_opt(counters.map(|c| c.bytes), out);
    }
    out.extend_from_slice(b",\"expires\":");
    json_opt(e.timeout.map(u64::from), out);
    out.extend_from_slice(b",\"mark\":");
    json_opt(e.mark.map(u64::from), out);
    out.extend_from_slice(b",\"zone\":");
    text::uint(out, u64::from(e.zone.unwrap_or(0)), 1);
    out.extend_from_slice(if e.assured() {
        b",\"assured\":true}\n"
    } else {
        b",\"assured\":false}\n"
    });
}

/// The columns of `events`' lines: one line per event.
pub const EVENT_COLUMNS: [Column; 9] = [
    col("EVENT", false),
    col("ID", true),
    col("STATE", false),
    col("PROTO", false),
    col("ORIGINAL", false),
    col("REPLY", false),
    col("EXPIRES", true),
    col("MARK", true),
    col("ZONE", true),
];

/// Widths of `events`' columns: wide enough for IPv4 tuples with ports.
pub fn event_table() -> Table {
    Table::streaming(&EVENT_COLUMNS).with_widths(&[7, 10, 11, 6, 46, 46, 7, 4, 4])
}

/// One event as one line under [`EVENT_COLUMNS`].
pub fn event_row(table: &mut Table, kind: EventKind, e: &Entry, out: &mut Vec<u8>) {
    table.row(out, |i, cell| match i {
        0 => cell.extend_from_slice(kind.name().as_bytes()),
        1 => {
            if let Some(id) = e.id {
                hex32(cell, id);
            }
        }
        2 => cell.extend_from_slice(e.grout_state().unwrap_or("").as_bytes()),
        3 => grout_proto(e.proto, cell),
        4 => tuple(&e.orig, cell),
        5 => tuple(&e.reply, cell),
        6 => opt(e.timeout, cell),
        7 => opt(e.mark, cell),
        _ => text::uint(cell, u64::from(e.zone.unwrap_or(0)), 1),
    });
}

fn proto(p: u8, out: &mut Vec<u8>) {
    match proto_name(p) {
        Some(name) => out.extend_from_slice(name.as_bytes()),
        None => text::uint(out, u64::from(p), 1),
    }
}

/// `,"` then `dir` and `rest`: a JSON key of one direction, up to its value.
fn key(dir: &[u8], rest: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(dir);
    out.extend_from_slice(rest);
}

fn opt(v: Option<u32>, out: &mut Vec<u8>) {
    if let Some(v) = v {
        text::uint(out, u64::from(v), 1);
    }
}

fn json_opt(v: Option<u64>, out: &mut Vec<u8>) {
    match v {
        Some(v) => text::uint(out, v, 1),
        None => out.extend_from_slice(b"null"),
    }
}

/// A name from the fixed tables (no escaping needed), or null.
fn json_str(v: Option<&str>, out: &mut Vec<u8>) {
    match v {
        Some(s) => {
            out.push(b'"');
            out.extend_from_slice(s.as_bytes());
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
}

/// `src:sport -> dst:dport` (IPv6 in brackets), or `src -> dst` without ports; ICMP's
/// identifier as `id=N` after the addresses.
fn tuple(t: &Tuple, out: &mut Vec<u8>) {
    endpoint(t.src, t.sport, out);
    out.extend_from_slice(b" -> ");
    endpoint(t.dst, t.dport, out);
    if let Some(icmp) = t.icmp {
        out.extend_from_slice(b" id=");
        text::uint(out, u64::from(icmp.id), 1);
    }
}

fn endpoint(addr: IpAddr, port: Option<u16>, out: &mut Vec<u8>) {
    let v6 = addr.is_ipv6() && port.is_some();
    if v6 {
        out.push(b'[');
    }
    text::ip(out, addr);
    if v6 {
        out.push(b']');
    }
    if let Some(p) = port {
        out.push(b':');
        text::uint(out, u64::from(p), 1);
    }
}

#[cfg(test)]
#[path = "show_tests.rs"]
mod tests;
