//! The tcp_info numbers of connections the tests drove themselves: bytes of a transfer of known
//! size each way, retransmissions forced by an nftables drop, and rtt/cwnd/mss/rto (and friends)
//! against what `ss -tin` shows for the same idle connection at the same moment.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use serde_json::json;
use socket2::Socket;

use super::mix::Mix;
use super::{get, json, num, parsable};
use crate::netns::{NetNs, with_netns};

const FIELDS: &str = "laddr,lport,raddr,rport,state,inbytes,outbytes";

/// Writes `n` bytes (a pattern) on `from` and reads exactly `n` on `to`.
fn send(from: &Socket, to: &Socket, n: usize) {
    let data: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
    let mut got = vec![0u8; n];
    std::thread::scope(|s| {
        s.spawn(|| (&*from).write_all(&data).expect("write"));
        (&*to).read_exact(&mut got).expect("read it all");
    });
    assert!(got == data, "the bytes arrived changed");
}

/// The fields of the one socket `ss -tinH <filter>` shows: `key:value` ones, the two-word rates
/// (`pacing_rate 123bps` as `pacing_rate` → `123bps`), and the congestion control's name as `cong`
/// (the first word of the info line). Also `recvq`/`sendq` from the socket line.
fn ss_info(ns: &NetNs, filter: &[&str]) -> BTreeMap<String, String> {
    let text = ns.stdout(&[&["ss", "-tinH"][..], filter].concat());
    let socks: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with(char::is_whitespace))
        .collect();
    assert_eq!(
        socks.len(),
        1,
        "ss {filter:?} should show one socket:\n{text}"
    );
    let mut info = BTreeMap::new();
    let line: Vec<&str> = socks[0].split_whitespace().collect();
    info.insert("recvq".to_string(), line[1].to_string());
    info.insert("sendq".to_string(), line[2].to_string());
    let details = text.lines().skip(1).collect::<Vec<_>>().join(" ");
    let words: Vec<&str> = details.split_whitespace().collect();
    if let Some(cong) = words.first().filter(|w| !w.contains(':')) {
        info.insert("cong".to_string(), cong.to_string());
    }
    for (i, w) in words.iter().enumerate() {
        if let Some((k, v)) = w.split_once(':') {
            if k.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                info.insert(k.to_string(), v.to_string());
            }
        } else if ["pacing_rate", "delivery_rate"].contains(w) {
            info.insert(w.to_string(), words[i + 1].to_string());
        }
    }
    info
}

/// ss's rate in bits per second (`%.0fbps` under -n) as bytes per second.
fn ss_rate(info: &BTreeMap<String, String>, key: &str) -> u64 {
    let v = &info[key];
    let bps: u64 = v
        .strip_suffix("bps")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("ss {key} {v} is not N bps: {info:?}"));
    assert_eq!(bps % 8, 0, "{key} {v} is not a whole number of bytes");
    bps / 8
}

/// An ss field as a number (absent = 0, as ss leaves zero counters out).
fn ss_num(info: &BTreeMap<String, String>, key: &str) -> u64 {
    info.get(key).map_or(0, |v| {
        v.parse()
            .unwrap_or_else(|_| panic!("ss {key}:{v} is not a count: {info:?}"))
    })
}

/// ss's `retrans:outstanding/total` total.
fn ss_retrans_total(info: &BTreeMap<String, String>) -> u64 {
    info.get("retrans").map_or(0, |v| {
        v.split_once('/').expect("retrans:a/b").1.parse().unwrap()
    })
}

#[test]
fn a_transfer_of_known_size_counts_exactly_each_way() {
    with_netns(|ns| {
        let mut m = Mix::new(ns);
        m.listen("127.0.0.1:5000").listen("[::1]:5001");
        for (from, to, lport, up, down) in [
            ("127.0.0.1:40100", "127.0.0.1:5000", 40100, 123_457, 54_321),
            ("[::1]:40101", "[::1]:5001", 40101, 1, 300_001),
        ] {
            let (c, s) = m.pair(from, to);
            send(&c, &s, up);
            send(&s, &c, down);
            let sport = format!(":{lport}");
            let client = (format!("lport={lport}"), ["sport", "=", &sport], down, up);
            let server = (format!("rport={lport}"), ["dport", "=", &sport], up, down);
            for (filter, ss, inb, outb) in [client, server] {
                // The premise, by ss: the socket moved exactly the bytes the test moved. (Even on
                // loopback a busy machine sees the odd spurious retransmission: sent bytes count
                // those again, outbytes does not.)
                ns.wait_until("all acknowledged", || {
                    ss_num(&ss_info(ns, &ss), "unacked") == 0
                });
                let info = ss_info(ns, &ss);
                let sent = ss_num(&info, "bytes_sent") - ss_num(&info, "bytes_retrans");
                let ss_bytes = (ss_num(&info, "bytes_received"), sent);
                assert_eq!(ss_bytes, (inb as u64, outb as u64), "ss: {info:?}");

                let r = parsable(ns, FIELDS, &["-F", &filter]);
                assert_eq!(r.len(), 1, "{filter}: {r:?}");
                assert_eq!(get(&r[0], "state"), "ESTABLISHED");
                let (i, o) = (num(&r[0], "inbytes"), num(&r[0], "outbytes"));
                assert_eq!(
                    (i, o),
                    (inb as u64, outb as u64),
                    "{filter} (inbytes, outbytes)"
                );
                let j = json(ns, FIELDS, &["-F", &filter]);
                assert_eq!(j.len(), 1, "{filter}: {j:?}");
                let (i, o) = (j[0].get("inbytes"), j[0].get("outbytes"));
                assert_eq!((i, o), (&json!(inb), &json!(outb)), "{filter} JSON");

                // Segments and bytes again: what ss counts for the same idle socket.
                let fields = "insegs,outsegs,retranssegs,retransbytes";
                let r = parsable(ns, fields, &["-F", &filter]);
                let n = |k| num(&r[0], k);
                let retrans = ss_retrans_total(&info);
                assert_eq!(
                    (
                        n("insegs"),
                        n("outsegs"),
                        n("retranssegs"),
                        n("retransbytes")
                    ),
                    (
                        ss_num(&info, "data_segs_in"),
                        ss_num(&info, "data_segs_out") - retrans,
                        retrans,
                        ss_num(&info, "bytes_retrans"),
                    ),
                    "{filter}: {info:?}"
                );
            }
            drop((c, s));
        }
    });
}

/// The client's data is dropped on its way in to the server for a while: it is sent, lost and
/// sent again, so every byte of it is counted as retransmitted at least once.
#[test]
fn dropped_segments_count_as_retransmissions() {
    const PAYLOAD: usize = 20_000;
    with_netns(|ns| {
        let mut m = Mix::new(ns);
        m.listen("127.0.0.1:5000");
        let (c, s) = m.pair("127.0.0.1:40120", "127.0.0.1:5000");
        let client = ["sport", "=", ":40120"];
        ns.nft(
            "table inet conns_loss {\n chain input {\n type filter hook input priority 0;\n \
             tcp dport 5000 drop\n }\n}\n",
        );
        (&c).write_all(&[7u8; PAYLOAD])
            .expect("write into the send buffer");
        // The RTO on loopback is 200 ms at least; two retransmissions come within a second.
        ns.wait_until("two retransmissions", || {
            ss_retrans_total(&ss_info(ns, &client)) >= 2
        });
        // While the drop holds, all of it was sent and none acknowledged: the write queue.
        let info = ss_info(ns, &client);
        assert_eq!(info["sendq"], PAYLOAD.to_string(), "ss: {info:?}");
        let r = parsable(ns, "wqueue,suna,unsent", &["-F", "lport=40120"]);
        let queues = (
            num(&r[0], "wqueue"),
            num(&r[0], "suna"),
            num(&r[0], "unsent"),
        );
        assert_eq!(queues, (PAYLOAD as u64, PAYLOAD as u64, 0), "{r:?}");
        ns.nft("delete table inet conns_loss\n");
        let mut got = vec![0u8; PAYLOAD];
        (&s).read_exact(&mut got)
            .expect("the payload after the drop ends");
        assert!(got.iter().all(|b| *b == 7));
        ns.wait_until("everything acknowledged", || {
            ss_num(&ss_info(ns, &client), "unacked") == 0
        });
        let info = ss_info(ns, &client);
        // The premise, by ss: every byte was sent at least twice.
        let (sent, resent) = (ss_num(&info, "bytes_sent"), ss_num(&info, "bytes_retrans"));
        assert!(resent >= PAYLOAD as u64, "{info:?}");
        assert_eq!(sent - resent, PAYLOAD as u64, "{info:?}");
        let fields = "lport,state,outbytes,outsegs,retransbytes,retranssegs";
        let r = parsable(ns, fields, &["-F", "lport=40120"]);
        assert_eq!(r.len(), 1, "{r:?}");
        let retranssegs = num(&r[0], "retranssegs");
        let retransbytes = num(&r[0], "retransbytes");
        assert!(retranssegs >= 2, "retranssegs {retranssegs}: {info:?}");
        assert!(
            retransbytes >= PAYLOAD as u64,
            "retransbytes {retransbytes} < the {PAYLOAD} bytes dropped: {info:?}"
        );
        assert_eq!(retranssegs, ss_retrans_total(&info), "ss: {info:?}");
        assert_eq!(retransbytes, ss_num(&info, "bytes_retrans"), "ss: {info:?}");
        // outbytes and outsegs exclude the retransmissions.
        assert_eq!(num(&r[0], "outbytes"), PAYLOAD as u64, "{info:?}");
        assert_eq!(
            num(&r[0], "outsegs"),
            ss_num(&info, "data_segs_out") - ss_retrans_total(&info),
            "{info:?}"
        );
        // The receiving side got the payload once.
        let r = parsable(ns, "inbytes,retranssegs", &["-F", "lport=5000,rport=40120"]);
        assert_eq!(num(&r[0], "inbytes"), PAYLOAD as u64);
        assert_eq!(num(&r[0], "retranssegs"), 0);
        drop((c, s));
    });
}

/// ss's milliseconds with up to three decimals as integer microseconds.
fn ms_to_us(v: &str) -> u64 {
    let ms: f64 = v.parse().unwrap_or_else(|_| panic!("not ms: {v}"));
    (ms * 1000.0).round() as u64
}

#[test]
fn rtt_cwnd_mss_rto_as_ss_shows_them_for_an_idle_connection() {
    with_netns(|ns| {
        let mut m = Mix::new(ns);
        m.listen("127.0.0.1:5000").listen("[::1]:5001");
        let mut held = Vec::new();
        for (from, to, lport) in [
            ("127.0.0.1:40130", "127.0.0.1:5000", 40130),
            ("[::1]:40131", "[::1]:5001", 40131),
        ] {
            let (c, s) = m.pair(from, to);
            // Some data both ways so each side has measured an RTT from data, then quiet.
            for _ in 0..5 {
                send(&c, &s, 10_000);
                send(&s, &c, 10_000);
            }
            held.push((c, s, lport));
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
        let fields = "rtt,rttvar,minrtt,cwnd,mss,rto,swnd,pacingrate,deliveryrate,cong";
        let keys = [
            "rtt",
            "minrtt",
            "cwnd",
            "mss",
            "rto",
            "snd_wnd",
            "pacing_rate",
            "delivery_rate",
        ];
        for (_, _, lport) in &held {
            let client = format!("lport={lport}");
            let server = format!("rport={lport}");
            let sport = format!(":{lport}");
            for (filter, ss) in [
                (&client, ["sport", "=", &sport]),
                (&server, ["dport", "=", &sport]),
            ] {
                // ss before and after conns must agree, or the moment was not quiet: try again.
                let mut tries = 0;
                let (info, r) = loop {
                    let before = ss_info(ns, &ss);
                    let r = parsable(ns, fields, &["-F", filter]);
                    let after = ss_info(ns, &ss);
                    let same = keys.iter().all(|k| before.get(*k) == after.get(*k));
                    tries += 1;
                    if same {
                        break (after, r);
                    }
                    assert!(tries < 10, "never quiet: {before:?} / {after:?}");
                };
                assert_eq!(r.len(), 1, "{filter}: {r:?}");
                let r = &r[0];
                let (rtt, rttvar) = info["rtt"].split_once('/').expect("rtt:a/b");
                let mss: u64 = info["mss"].parse().unwrap();
                let cwnd: u64 = info["cwnd"].parse().unwrap();
                let rto: f64 = info["rto"].parse().unwrap();
                assert_eq!(num(r, "rtt"), ms_to_us(rtt), "{filter} rtt: {info:?}");
                assert_eq!(
                    num(r, "rttvar"),
                    ms_to_us(rttvar),
                    "{filter} rttvar: {info:?}"
                );
                assert_eq!(
                    num(r, "minrtt"),
                    ms_to_us(&info["minrtt"]),
                    "{filter}: {info:?}"
                );
                assert_eq!(num(r, "mss"), mss, "{filter} mss: {info:?}");
                assert_eq!(num(r, "cwnd"), cwnd * mss, "{filter} cwnd bytes: {info:?}");
                assert_eq!(num(r, "rto") as f64, rto, "{filter} rto ms: {info:?}");
                let snd_wnd: u64 = info["snd_wnd"].parse().unwrap();
                assert_eq!(num(r, "swnd"), snd_wnd, "{filter} swnd: {info:?}");
                let pacing = ss_rate(&info, "pacing_rate");
                assert_eq!(num(r, "pacingrate"), pacing, "{filter}: {info:?}");
                let delivery = ss_rate(&info, "delivery_rate");
                assert_eq!(num(r, "deliveryrate"), delivery, "{filter}: {info:?}");
                assert_eq!(get(r, "cong"), info["cong"], "{filter}: {info:?}");
                assert_eq!(info["cong"], ns.sysctl("tcp_congestion_control"));
            }
        }
    });
}
