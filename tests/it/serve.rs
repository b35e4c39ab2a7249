//! Issue 12, fleet scale and early warning: `conntrend serve` (HTTP robustness, exact metric
//! values, promtool, a real Prometheus server), the `--format prom` textfile, `--alert` and
//! `--forecast`. Every server runs inside the test's own network namespace on loopback, so the
//! sockets it counts are the test's sockets plus what a scrape itself adds, and both are known.

mod alerts;
mod forecast;
mod http;
mod prometheus;
mod slots;
mod start;
mod textfile;
mod values;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};

use crate::netns::{NetNs, Proto, Sock, State};
use crate::util::conntrend;

/// `conntrend serve`'s default address: every test has its own namespace, so all can use it.
pub const PORT: u16 = 9959;
/// The first line `conntrend serve` writes on stderr, followed by the address it listens on.
pub const LISTENING: &str = "conntrend: listening on ";

/// A child process killed (and reaped) when dropped, so no test leaves a server behind.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running `conntrend serve`, its stderr collected as it comes.
pub struct Serve {
    child: Killed,
    pub addr: SocketAddr,
    cmdline: String,
    stderr: Arc<Mutex<String>>,
}

impl Serve {
    /// Starts `conntrend serve ARGS` in `ns` (the calling thread's namespace) and waits, at most
    /// 10 s, until it listens on 127.0.0.1:[`PORT`] (seen with `ss`, so no probe connection is
    /// left behind in the counts). `--listen` is not passed: the default address is under test.
    pub fn start(ns: &NetNs, args: &[&str]) -> Serve {
        Self::start_on(ns, PORT, args)
    }

    /// As [`Serve::start`], on `port` (passed as `--listen 127.0.0.1:PORT` unless it is [`PORT`]).
    /// Port 0 lets the kernel choose: the port is then read from the line the server says it on
    /// ([`LISTENING`]), and `addr` is set to it.
    pub fn start_on(ns: &NetNs, port: u16, args: &[&str]) -> Serve {
        let mut cmd = conntrend();
        cmd.arg("serve");
        if port != PORT {
            cmd.args(["--listen", &format!("127.0.0.1:{port}")]);
        }
        cmd.args(args).stdout(Stdio::null()).stderr(Stdio::piped());
        let cmdline = format!("{cmd:?}");
        let mut child = ns.spawn(&mut cmd);
        let stderr = Arc::new(Mutex::new(String::new()));
        let (pipe, sink) = (child.stderr.take().expect("piped stderr"), stderr.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        let mut serve = Serve {
            child: Killed(child),
            addr: (Ipv4Addr::LOCALHOST, port).into(),
            cmdline,
            stderr,
        };
        let listening = Sock {
            proto: Proto::Tcp,
            v6: false,
            port,
            peer: None,
            state: State::Listen,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if port == 0 {
                if let Some(addr) = serve.listening() {
                    serve.addr = addr.parse().unwrap_or_else(|e| panic!("{addr:?}: {e}"));
                    return serve;
                }
            } else if ns.ss_socks().contains(&listening) {
                return serve;
            }
            if let Ok(Some(status)) = serve.child.0.try_wait() {
                panic!(
                    "{} ended ({status}) before listening\n{}",
                    serve.cmdline,
                    serve.stderr()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} does not listen after 10 s\n{}\n{}",
                serve.cmdline,
                serve.stderr(),
                ns.ss_text()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// The address of the [`LISTENING`] line (`ADDR; /metrics has …`), once the server has
    /// written it.
    pub fn listening(&self) -> Option<String> {
        let all = self.stderr.lock().unwrap().clone();
        let (first, _) = all.split_once('\n')?;
        let rest = first.strip_prefix(LISTENING)?;
        Some(
            rest.split_once("; ")
                .map_or(rest, |(addr, _)| addr)
                .to_string(),
        )
    }

    /// What it wrote on stderr so far, after the [`LISTENING`] line.
    pub fn stderr(&self) -> String {
        let all = self.stderr.lock().unwrap().clone();
        match all.strip_prefix(LISTENING) {
            Some(rest) => rest
                .split_once('\n')
                .map_or("", |(_, after)| after)
                .to_string(),
            None => all,
        }
    }

    /// Its stderr once it has `lines` lines (collected by another thread, so a line written
    /// before an answer may still be on its way); panics after 5 s.
    pub fn stderr_lines(&self, lines: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let text = self.stderr();
            if text.lines().count() >= lines || Instant::now() > deadline {
                return text;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends `request` as is and reads the whole answer.
    pub fn raw(&self, request: &[u8]) -> Response {
        exchange(self.addr, None, request)
    }

    /// `GET path` as a scraper sends it.
    pub fn get(&self, path: &str) -> Response {
        self.raw(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
    }

    /// `GET /metrics` from the client port `from` (chosen outside the test's pool, so the scrape
    /// adds no pool port); panics unless 200; the series.
    pub fn scrape_from(&self, from: u16) -> Metrics {
        let r = exchange(
            self.addr,
            Some(from),
            b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
        );
        self.metrics_of(&r)
    }

    /// `GET /metrics` from an ephemeral port; panics unless 200; the series.
    pub fn scrape(&self) -> Metrics {
        let r = self.get("/metrics");
        self.metrics_of(&r)
    }

    fn metrics_of(&self, r: &Response) -> Metrics {
        assert_eq!(r.status, 200, "{r:?}\n{}", self.stderr());
        metrics(&r.body)
    }

    /// Sends SIGTERM; its exit status if it ends within 5 s.
    pub fn terminate(&mut self) -> Option<ExitStatus> {
        let pid = libc::pid_t::try_from(self.child.0.id()).unwrap();
        // SAFETY: kill(2) takes no pointers; the child is ours and not yet reaped.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        self.wait_exit(Duration::from_secs(5))
    }

    /// Waits at most `limit` for the server to end on its own.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.0.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        None
    }
}

/// One HTTP answer, split.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// The status line and headers, as sent.
    pub head: String,
    pub body: String,
}

impl Response {
    /// The value of header `name` (case-insensitive), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// A client socket to `addr`, bound to 127.0.0.1:`from` when given, with 10 s I/O timeouts.
pub fn connect(addr: SocketAddr, from: Option<u16>) -> TcpStream {
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    if let Some(port) = from {
        let local: SocketAddr = (Ipv4Addr::LOCALHOST, port).into();
        s.bind(&local.into())
            .unwrap_or_else(|e| panic!("bind {local}: {e}"));
    }
    s.connect(&addr.into())
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    let stream = TcpStream::from(s);
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Writes `request` and reads until the server closes; parses the answer (to a HEAD request:
/// a head without its body).
pub fn exchange(addr: SocketAddr, from: Option<u16>, request: &[u8]) -> Response {
    let mut stream = connect(addr, from);
    stream
        .write_all(request)
        .unwrap_or_else(|e| panic!("send to {addr}: {e}"));
    read_answer(&mut stream, request.starts_with(b"HEAD "))
}

/// Reads a whole answer (the server closes after one) and checks Content-Length against it.
pub fn read_response(stream: &mut TcpStream) -> Response {
    read_answer(stream, false)
}

/// As [`read_response`]; `head_only`: the answer to HEAD, whose Content-Length describes a body
/// not sent.
///
/// A server that answers before reading the whole request (431 for an oversized head, 503 when
/// full) closes with request bytes unread, so its kernel resets the connection after the answer:
/// a reset is accepted once the whole answer (head and Content-Length body) has arrived.
pub fn read_answer(stream: &mut TcpStream, head_only: bool) -> Response {
    let mut bytes = Vec::new();
    let mut reset = None;
    loop {
        let mut buf = [0u8; 4096];
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                reset = Some(e);
                break;
            }
            Err(e) => panic!("read the answer ({} bytes so far): {e}", bytes.len()),
        }
    }
    let text = String::from_utf8(bytes).expect("an answer in UTF-8");
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of head in {text:?}"));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    let r = Response {
        status,
        head: head.to_string(),
        body: body.to_string(),
    };
    let len = r.header("content-length").map(str::to_string);
    let whole = match (&len, head_only) {
        (Some(_), true) => r.body.is_empty(),
        (Some(len), false) => *len == r.body.len().to_string(),
        (None, _) => reset.is_none(),
    };
    assert!(
        whole,
        "Content-Length {len:?} of {r:?} (head only: {head_only}; reset: {reset:?})"
    );
    r
}

/// Series of an exposition (either format) as written, `name{labels}` → value; `# ` lines and
/// the OpenMetrics `# EOF` left out. Panics on a repeated series or a value that is no number.
pub type Metrics = BTreeMap<String, f64>;

pub fn metrics(text: &str) -> Metrics {
    let mut out = Metrics::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value in {line:?}"));
        let v: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("not a number in {line:?}"));
        assert!(
            out.insert(series.to_string(), v).is_none(),
            "{series} twice in\n{text}"
        );
    }
    out
}

/// The value of `series` (as written, e.g. `conntrend_pool_protocol_used_ports{protocol="tcp"}`).
pub fn get(m: &Metrics, series: &str) -> f64 {
    *m.get(series)
        .unwrap_or_else(|| panic!("{series} missing from {m:#?}"))
}

/// `promtool check metrics` on `text`: its exit status and everything it said.
pub fn promtool(text: &str) -> (Option<i32>, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run promtool ({e}); install it: apt-get install -y prometheus")
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .expect("feed promtool");
    let out = child.wait_with_output().expect("wait for promtool");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), said)
}
