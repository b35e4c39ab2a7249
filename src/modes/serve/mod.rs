//! `conntrend serve`: a Prometheus exporter. The listening socket is opened in conntrend's own
//! network namespace; one sampler thread enters the sampled namespace and owns the sampler, so
//! every scrape is a fresh sample while concurrent scrapes, and scrapes closer together than
//! `--min-interval`, share one: fifty scrapers never mean fifty kernel dumps. Each connection gets
//! its own short-lived thread (at most [`MAX_CONNECTIONS`]) with deadlines ([`http`]).
//!
//! Slots go to requests, not to sockets: when all are taken, the oldest connection that has not
//! sent a whole request head yet (and has nothing unread waiting) is closed to make room, so
//! connections that send nothing cannot lock scrapers out; only when every slot is answering a
//! request is a newcomer turned away (503). That answer is written without blocking and the
//! connection's lingering close is left to one "closer" thread, so turning clients away never
//! holds up the accept loop. On a stop signal the exporter stops listening and lets the answers in
//! flight finish (up to [`GRACE`]) before it exits.
//!
//! Why no HTTP crate: the exporter answers two GET paths, one request per connection. A hand-held
//! request reader with hard limits (8 KiB head, 64 headers, 2 and 5 s deadlines, no bodies) is a
//! few hundred lines with no dependencies and nothing it can be made to do beyond that, where a
//! general server (hyper, tiny_http) brings its own threads, keep-alive and parsing surface to
//! bound.
//!
//! The pieces: [`http`] reads a request head and writes an answer; `slots` keeps the connections
//! being served and picks the one closed to make room; `closer` turns a connection away; `sampler`
//! is the sampler thread. The accept loop and each connection's answer are here.

mod closer;
pub mod http;
mod sampler;
mod slots;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};

use crate::app::exit::Stop;
use crate::app::settings::Sources;
use crate::app::signal;
use crate::report::alert::Alert;
use crate::report::reporter::say;
use crate::report::schema::{Group, Groups};

use closer::{MAX_CLOSING, closer, turn_away};
use sampler::{Reply, sampler_thread};
use slots::{Conn, Slots};

/// Loopback only unless `--listen` says otherwise. 9959 is in the range the Prometheus project
/// allocates to exporters (see the README on the choice).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9959";
/// Connections served at once. Beyond, the oldest that has not sent its request yet makes room;
/// when every one is answering a request, a newcomer is answered 503 at once.
pub const MAX_CONNECTIONS: usize = 64;
/// How long a stop signal waits for the answers in flight.
pub const GRACE: Duration = Duration::from_secs(5);

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub netns: Option<std::path::PathBuf>,
    pub source: Sources,
    /// Busiest destinations exported; 0: none.
    pub dst_top: usize,
    pub conntrack: bool,
    pub min_interval: Duration,
    pub forecast: Option<crate::fold::forecast::Window>,
    pub alerts: Vec<Alert>,
    pub exit_on_alert: bool,
}

impl ServeConfig {
    /// The column groups each sample carries.
    pub fn groups(&self) -> Groups {
        Groups::default()
            .with_if(Group::Dst, self.dst_top > 0)
            .with_if(Group::Conntrack, self.conntrack)
            .with_if(Group::Forecast, self.forecast.is_some())
            .with_if(
                Group::ForecastDst,
                self.forecast.is_some() && self.dst_top > 0,
            )
    }
}

impl ServeConfig {
    /// What `/metrics` holds, for the line said at start: the families beyond the pool and the
    /// socket states, and the namespace sampled when it is not conntrend's own.
    fn serves(&self) -> String {
        let mut parts = vec!["the pool and socket states".to_string()];
        match self.dst_top {
            0 => {}
            1 => parts.push("the busiest destination".into()),
            k => parts.push(format!("the {k} busiest destinations")),
        }
        if self.conntrack {
            parts.push("conntrack".into());
        }
        if self.forecast.is_some() {
            parts.push("the forecast".into());
        }
        match self.alerts.len() {
            0 => {}
            1 => parts.push("1 alert".into()),
            n => parts.push(format!("{n} alerts")),
        }
        let last = parts.pop().unwrap_or_default();
        let list = match parts.is_empty() {
            true => last,
            false => format!("{} and {last}", parts.join(", ")),
        };
        let from = self
            .netns
            .as_ref()
            .map(|p| format!(", sampled in {}", p.display()))
            .unwrap_or_default();
        format!("/metrics has {list}{from}")
    }
}

pub fn run(config: &ServeConfig) -> Result<()> {
    signal::install()?;
    // One malloc arena: glibc gives each thread that allocates concurrently an arena of its own,
    // and the short-lived connection threads would make the exporter's memory climb in steps, an
    // arena at a time, over its life. A handful of threads share one at no measurable cost.
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only sets an allocator parameter; called before any thread is started.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
    let listener = TcpListener::bind(config.listen)
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    listener.set_nonblocking(true)?;
    let (scrapes, requests) = mpsc::channel::<SyncSender<Reply>>();
    let (ready_tx, ready) = mpsc::sync_channel(1);
    let alert_stop = Arc::new(Mutex::new(None::<String>));
    {
        let (config, alert_stop) = (config.clone(), alert_stop.clone());
        thread::Builder::new()
            .name("sampler".into())
            .spawn(move || sampler_thread(&config, requests, ready_tx, &alert_stop))?;
    }
    ready
        .recv()
        .map_err(|_| anyhow!("the sampler thread ended before it started"))?
        .map_err(|e| anyhow!("{e}"))?;
    let (closing, turned_away) = mpsc::sync_channel::<TcpStream>(MAX_CLOSING);
    thread::Builder::new()
        .name("closer".into())
        .spawn(move || closer(&turned_away))?;
    let slots = Arc::new(Slots::default());
    say(&format!(
        "listening on {}; {}",
        listener.local_addr()?,
        config.serves()
    ));
    loop {
        if signal::requested() {
            finish(listener, &slots);
            return Ok(());
        }
        if let Some(expr) = alert_stop.lock().map(|s| s.clone()).unwrap_or(None) {
            finish(listener, &slots);
            return Err(Stop::Alert(expr).into());
        }
        match listener.accept() {
            Ok((stream, _)) => serve_one(stream, &scrapes, &slots, &closing),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => wait(&listener),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // EMFILE and the like: back off rather than spin.
            Err(_) => thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Stops listening, closes the connections that have not sent a request, and waits (up to
/// [`GRACE`]) for the answers in flight to be written.
fn finish(listener: TcpListener, slots: &Slots) {
    drop(listener);
    slots.close_idle();
    let deadline = Instant::now() + GRACE;
    while !slots.lock().is_empty() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
}

/// Waits up to 500 ms for a connection or a stop signal.
fn wait(listener: &TcpListener) {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let mut fds = vec![PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
    if let Some(stop) = signal::wake_fd() {
        fds.push(PollFd::new(stop, PollFlags::POLLIN));
    }
    let _ = poll(&mut fds, PollTimeout::from(500u16));
}

/// Hands a connection to its own thread, or answers 503 when every slot is answering.
fn serve_one(
    stream: TcpStream,
    scrapes: &Sender<SyncSender<Reply>>,
    slots: &Arc<Slots>,
    closing: &SyncSender<TcpStream>,
) {
    let _ = stream.set_nonblocking(false);
    let Some(conn) = slots.admit(&stream) else {
        turn_away(stream, closing);
        return;
    };
    let (scrapes, slots_, mine) = (scrapes.clone(), slots.clone(), conn.clone());
    let accepted = Instant::now();
    slots.threads.fetch_add(1, Ordering::SeqCst);
    let spawned = thread::Builder::new().name("client".into()).spawn(move || {
        let mut stream = stream;
        handle(&mut stream, accepted, &conn, &scrapes);
        slots_.leave(&conn);
        slots_.threads.fetch_sub(1, Ordering::SeqCst);
    });
    if spawned.is_err() {
        // The connection went with the closure, closed: its slot goes back.
        slots.threads.fetch_sub(1, Ordering::SeqCst);
        slots.leave(&mine);
    }
}

const INDEX: &str = "<!doctype html>\n<html><head><title>conntrend</title></head><body>\n\
<h1>conntrend</h1>\n<p>Ephemeral ports, TCP/UDP socket states and conntrack usage of this \
network namespace.</p>\n<p><a href=\"/metrics\">Metrics</a></p>\n</body></html>\n";

fn handle(
    stream: &mut TcpStream,
    accepted: Instant,
    conn: &Conn,
    scrapes: &Sender<SyncSender<Reply>>,
) {
    let read = http::read_request(stream, accepted);
    if read == Err(http::Refusal::Gone) || !conn.answer() {
        // Gone, or closed to make room for another: no answer.
        return;
    }
    let req = match read {
        Ok(r) => r,
        Err(http::Refusal::Version) => {
            let _ = http::respond(
                stream,
                "505 HTTP Version Not Supported",
                "text/plain",
                "",
                b"HTTP version not supported: use HTTP/1.1\n",
                false,
            );
            return;
        }
        Err(http::Refusal::Malformed) => {
            let _ = http::respond(
                stream,
                "400 Bad Request",
                "text/plain",
                "",
                b"malformed request\n",
                false,
            );
            return;
        }
        Err(http::Refusal::TooLarge) => {
            let _ = http::respond(
                stream,
                "431 Request Header Fields Too Large",
                "text/plain",
                "",
                b"request head too large\n",
                false,
            );
            return;
        }
        Err(http::Refusal::Gone) => return,
    };
    let head = req.method == "HEAD";
    let known = matches!(req.method.as_str(), "GET" | "HEAD");
    let _ = match (known, req.path.as_str()) {
        (true, "/metrics") => {
            let (reply_tx, reply) = mpsc::sync_channel(1);
            let answer = scrapes.send(reply_tx).ok().and_then(|()| reply.recv().ok());
            match answer {
                Some(Ok(r)) if req.openmetrics => http::respond(
                    stream,
                    "200 OK",
                    OPENMETRICS,
                    "",
                    r.openmetrics.as_bytes(),
                    head,
                ),
                Some(Ok(r)) => {
                    http::respond(stream, "200 OK", TEXT_FORMAT, "", r.text.as_bytes(), head)
                }
                Some(Err(e)) => http::respond(
                    stream,
                    "500 Internal Server Error",
                    "text/plain",
                    "",
                    format!("sample failed: {e}\n").as_bytes(),
                    head,
                ),
                None => http::respond(
                    stream,
                    "503 Service Unavailable",
                    "text/plain",
                    "",
                    b"the sampler has stopped\n",
                    head,
                ),
            }
        }
        (true, "/") => http::respond(
            stream,
            "200 OK",
            "text/html; charset=utf-8",
            "",
            INDEX.as_bytes(),
            head,
        ),
        (false, "/metrics" | "/") => http::respond(
            stream,
            "405 Method Not Allowed",
            "text/plain",
            "Allow: GET, HEAD\r\n",
            b"method not allowed\n",
            false,
        ),
        _ => http::respond(
            stream,
            "404 Not Found",
            "text/plain",
            "",
            b"not found: try /metrics\n",
            head,
        ),
    };
}
