//! Issue 17: the exporter's 64 connection slots under pressure. Idle connections (a flood of
//! sockets that never send a byte, reopened as they are closed) must not lock scrapers out;
//! connections turned away while 64 answers are in flight must not stall the accept loop; and a
//! stop signal lets the answers in flight finish.
//!
//! Answers are kept in flight by readers that read nothing: the namespace's TCP send buffers are
//! shrunk (`net.ipv4.tcp_wmem`, per namespace), the reader's receive buffer too, and 300 `--alert`
//! gauges make the answer ~13 KB, several times what the two buffers hold together (~4 KB), so
//! the server's write waits on its reader, as it does for a real scraper on a slow link.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};

use super::{PORT, Serve, connect, get, read_answer, read_response};
use crate::netns::{NetNs, with_netns};

/// `--alert` flags that add 300 gauges (~10 KB) to every answer.
fn big_answer_args() -> Vec<String> {
    (1..=300)
        .flat_map(|n| ["--alert".to_string(), format!("free<{n}")])
        .collect()
}

/// Shrinks the namespace's TCP send buffers to the kernel's minimum (before the server starts:
/// its sockets take their size when created).
fn small_send_buffers() {
    std::fs::write("/proc/sys/net/ipv4/tcp_wmem", "4096 4096 4096").expect("set tcp_wmem");
}

/// A client with the smallest receive buffer the kernel allows that sends `GET /metrics` and
/// then reads nothing (until the test reads the answer itself).
fn stalled_reader(addr: SocketAddr) -> TcpStream {
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    s.set_recv_buffer_size(1).expect("SO_RCVBUF");
    s.connect(&addr.into())
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    let mut stream = TcpStream::from(s);
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("send the request");
    stream
}

/// The server's established connections on `port`: (all of them, those with answer bytes
/// queued that the client has not taken).
fn server_sides(ns: &NetNs, port: u16) -> (usize, usize) {
    let text = ns.stdout(&[
        "ss",
        "-tnH",
        "state",
        "established",
        "sport",
        "=",
        &format!(":{port}"),
    ]);
    let queued: Vec<bool> = text
        .lines()
        .map(|l| l.split_whitespace().nth(1).is_some_and(|q| q != "0"))
        .collect();
    (queued.len(), queued.iter().filter(|&&q| q).count())
}

/// Waits (at most 10 s) until `n` answers are stuck on their readers.
fn wait_stuck(ns: &NetNs, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, stuck) = server_sides(ns, PORT);
        if stuck >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{stuck} answers stuck after 10 s, not {n}\n{}",
            ns.ss_text()
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Holds `n` connections to `addr` that never send a byte, and reopens each one the server
/// closes (or answers), until `stop` is set; bounded: at most 60 s and 200 000 reopenings. Its
/// result: how many it reopened.
fn idle_flood(addr: SocketAddr, n: usize, stop: Arc<AtomicBool>) -> JoinHandle<usize> {
    std::thread::spawn(move || {
        let open = || {
            let s = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
            s.set_nonblocking(true).ok()?;
            Some(s)
        };
        let mut held: Vec<Option<TcpStream>> = (0..n).map(|_| open()).collect();
        let (started, mut reopened) = (Instant::now(), 0);
        while !stop.load(Ordering::SeqCst)
            && started.elapsed() < Duration::from_secs(60)
            && reopened < 200_000
        {
            for slot in &mut held {
                let alive = slot.as_mut().is_some_and(|s| {
                    matches!(s.read(&mut [0u8; 256]),
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
                });
                if !alive {
                    *slot = open();
                    reopened += 1;
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        reopened
    })
}

#[test]
fn serve_idle_connections_do_not_lock_out_scrapers() {
    with_netns(|ns| {
        let serve = Serve::start(ns, &[]);
        let stop = Arc::new(AtomicBool::new(false));
        let flood = idle_flood(serve.addr, 72, stop.clone());
        // Bounded: until the server holds 64 of them.
        let deadline = Instant::now() + Duration::from_secs(10);
        while server_sides(ns, PORT).0 < 64 {
            assert!(Instant::now() < deadline, "{}", ns.ss_text());
            std::thread::sleep(Duration::from_millis(25));
        }
        let mut took = Vec::new();
        for k in 0..15 {
            let asked = Instant::now();
            let r = serve.get("/metrics");
            took.push(asked.elapsed());
            assert_eq!(
                r.status, 200,
                "scrape {k} beside 64+ idle connections: {r:?}"
            );
            assert!(get(&super::metrics(&r.body), "conntrend_samples_total") >= 1.0);
        }
        stop.store(true, Ordering::SeqCst);
        let reopened = flood.join().unwrap();
        let slowest = took.iter().max().unwrap();
        assert!(
            *slowest < Duration::from_secs(5),
            "a scrape took {slowest:?} beside the idle flood ({reopened} reopened): {took:?}"
        );
    });
}

/// Reads what has arrived on each of `readers` once a second, so that each answer keeps moving
/// (a write that makes no progress for 5 s ends its connection) but takes long to arrive, until
/// `stop` is set (bounded: 60 s); then closes them all.
fn dribble(readers: Vec<TcpStream>, stop: Arc<AtomicBool>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for s in &readers {
            s.set_nonblocking(true).unwrap();
        }
        let started = Instant::now();
        while !stop.load(Ordering::SeqCst) && started.elapsed() < Duration::from_secs(60) {
            for mut s in &readers {
                let _ = s.read(&mut [0u8; 4096]);
            }
            for _ in 0..20 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    })
}

/// Connections that send one byte of a request every 50 ms and read nothing, until `stop` is
/// set (bounded: 60 s); then they are closed.
fn trickle(writers: Vec<TcpStream>, stop: Arc<AtomicBool>) -> JoinHandle<Vec<TcpStream>> {
    std::thread::spawn(move || {
        let started = Instant::now();
        while !stop.load(Ordering::SeqCst) && started.elapsed() < Duration::from_secs(60) {
            for mut s in &writers {
                let _ = s.write(b"x");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        writers
    })
}

#[test]
fn serve_64_answers_in_flight_then_503_and_rejections_do_not_stall_accepting() {
    with_netns(|ns| {
        small_send_buffers();
        // ~44 KB answers: at the dribble's pace each takes well over 10 s to arrive.
        let args: Vec<String> = (1..=1000)
            .flat_map(|n| ["--alert".to_string(), format!("free<{n}")])
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let serve = Serve::start(ns, &args);
        let busy: Vec<_> = (0..64).map(|_| stalled_reader(serve.addr)).collect();
        wait_stuck(ns, 64);
        let stop_busy = Arc::new(AtomicBool::new(false));
        let busy = dribble(busy, stop_busy.clone());
        // Every slot holds a request being answered: a 65th is turned away at once.
        let asked = Instant::now();
        let r = serve.get("/metrics");
        assert_eq!(r.status, 503, "{r:?}");
        assert_eq!(r.body, "too many connections\n");
        assert!(
            asked.elapsed() < Duration::from_secs(2),
            "{:?}",
            asked.elapsed()
        );
        // 50 more that keep sending (so that a close lingering on them lasts its longest) and
        // never read their 503: turning them away must not hold up the accept loop.
        let stop_trickle = Arc::new(AtomicBool::new(false));
        let turned_away: Vec<_> = (0..50).map(|_| connect(serve.addr, None)).collect();
        let trickled = trickle(turned_away, stop_trickle.clone());
        let mut probe = connect(serve.addr, None);
        probe
            .set_read_timeout(Some(Duration::from_secs(40)))
            .unwrap();
        let asked = Instant::now();
        probe
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let r = read_response(&mut probe);
        let took = asked.elapsed();
        assert!(
            took < Duration::from_secs(10),
            "a request behind 50 turned-away connections was answered after {took:?} ({r:?})"
        );
        assert_eq!(r.status, 503, "the 64 are still in flight: {r:?}");
        // Once the 64 are gone, scrapes are served.
        stop_busy.store(true, Ordering::SeqCst);
        busy.join().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let r = serve.get("/metrics");
            if r.status == 200 {
                break;
            }
            assert_eq!(r.status, 503, "{r:?}");
            assert!(
                Instant::now() < deadline,
                "still {r:?} 10 s after the 64 left"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // Each of the 50 was answered 503 all the same.
        stop_trickle.store(true, Ordering::SeqCst);
        for mut s in trickled.join().unwrap() {
            let r = read_response(&mut s);
            assert_eq!(r.status, 503, "{r:?}");
        }
    });
}

#[test]
fn serve_sigterm_finishes_the_answers_in_flight() {
    with_netns(|ns| {
        small_send_buffers();
        let args = big_answer_args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut serve = Serve::start(ns, &args);
        let mut slow: Vec<_> = (0..3).map(|_| stalled_reader(serve.addr)).collect();
        wait_stuck(ns, 3);
        let pid = libc::pid_t::try_from(serve.child.0.id()).unwrap();
        // SAFETY: kill(2) takes no pointers; the child is ours and not yet reaped.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        // Each answer arrives whole (read_answer checks it against its Content-Length).
        for s in &mut slow {
            let r = read_answer(s, false);
            assert_eq!(r.status, 200, "{r:?}");
            assert!(r.body.len() > 10_000, "{}", r.body.len());
        }
        let status = serve.wait_exit(Duration::from_secs(10));
        assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", serve.stderr());
        // Stopped: nothing listens any more.
        assert!(
            TcpStream::connect_timeout(&serve.addr, Duration::from_secs(1)).is_err(),
            "still listening"
        );
    });
}
