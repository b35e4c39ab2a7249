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

pub mod http;

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};

use crate::app::exit::Stop;
use crate::app::rounds;
use crate::app::schedule::now_ms;
use crate::app::session::Session;
use crate::app::settings::Sources;
use crate::app::signal;
use crate::diag::Protocols;
use crate::engine::extras::Extras;
use crate::report::alert::{self, Alert, Alerts};
use crate::report::metrics::{self, Extra};
use crate::report::reporter::{Reporter, say};
use crate::report::schema::{Group, Groups};

/// Loopback only unless `--listen` says otherwise. 9959 is in the range the Prometheus project
/// allocates to exporters (see the README on the choice).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9959";
/// Connections served at once. Beyond, the oldest that has not sent its request yet makes room;
/// when every one is answering a request, a newcomer is answered 503 at once.
pub const MAX_CONNECTIONS: usize = 64;
/// Connection threads alive at once, those of closed idle connections still ending included.
const MAX_THREADS: usize = 4 * MAX_CONNECTIONS;
/// Turned-away connections the closer thread reads from at once; beyond, they are closed at once.
const MAX_CLOSING: usize = 256;
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

/// One sample's metrics in both formats.
struct Rendered {
    openmetrics: String,
    text: String,
}

type Reply = Result<Arc<Rendered>, String>;

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
    say(&format!("listening on {}", listener.local_addr()?));
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

/// Where a connection is: reading its request head (it may be closed to make room), answering,
/// or closed to make room (its thread ends without a word).
const READING: u8 = 0;
const ANSWERING: u8 = 1;
const CLOSED: u8 = 2;

/// One connection as the accept loop sees it.
struct Conn {
    phase: AtomicU8,
    /// The connection's socket (a second descriptor), to close it from the accept loop.
    stream: TcpStream,
}

impl Conn {
    /// Moves it from reading to answering; false when it was closed to make room.
    fn answer(&self) -> bool {
        self.phase
            .compare_exchange(READING, ANSWERING, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// Closes it if it is still reading its request; true if so.
    fn close_if_reading(&self) -> bool {
        let closed = self
            .phase
            .compare_exchange(READING, CLOSED, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok();
        if closed {
            // Its thread's read returns at once, and the thread ends.
            let _ = self.stream.shutdown(Shutdown::Both);
        }
        closed
    }

    /// Request bytes have arrived that its thread has not read yet: it is not idle, only not yet
    /// scheduled.
    fn has_unread(&self) -> bool {
        let mut byte = 0u8;
        // SAFETY: recv(2) writes at most 1 byte into `byte`, which outlives the call; the
        // descriptor is open (owned by `self.stream`). MSG_DONTWAIT: it never blocks.
        let n = unsafe {
            libc::recv(
                self.stream.as_raw_fd(),
                (&raw mut byte).cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        n > 0
    }
}

/// The connections being served, oldest first, and their threads.
#[derive(Default)]
struct Slots {
    open: Mutex<VecDeque<Arc<Conn>>>,
    /// Connection threads alive, including those of closed connections still ending.
    threads: AtomicUsize,
}

impl Slots {
    fn lock(&self) -> MutexGuard<'_, VecDeque<Arc<Conn>>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A slot for `stream`: a free one, or that of the oldest connection still reading its
    /// request with nothing unread, closed to make room. `None`: every slot is answering.
    fn admit(&self, stream: &TcpStream) -> Option<Arc<Conn>> {
        if self.threads.load(Ordering::SeqCst) >= MAX_THREADS {
            return None;
        }
        let mut open = self.lock();
        if open.len() >= MAX_CONNECTIONS {
            let oldest_idle = open
                .iter()
                .position(|c| !c.has_unread() && c.close_if_reading())?;
            open.remove(oldest_idle);
        }
        let conn = Arc::new(Conn {
            phase: AtomicU8::new(READING),
            stream: stream.try_clone().ok()?,
        });
        open.push_back(conn.clone());
        Some(conn)
    }

    /// Gives `conn`'s slot back (if it was not taken from it).
    fn leave(&self, conn: &Arc<Conn>) {
        let mut open = self.lock();
        if let Some(i) = open.iter().position(|c| Arc::ptr_eq(c, conn)) {
            open.remove(i);
        }
    }

    /// Closes every connection still reading its request.
    fn close_idle(&self) {
        self.lock().retain(|c| !c.close_if_reading());
    }
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

/// Answers 503 without ever blocking the accept loop: the answer (a hundred bytes) goes into the
/// new socket's empty send buffer, or not at all, and the lingering close (reading what the client
/// still sends, so that closing does not reset the connection under the answer) is the closer
/// thread's.
fn turn_away(stream: TcpStream, closing: &SyncSender<TcpStream>) {
    if stream.set_nonblocking(true).is_err() {
        return;
    }
    let busy = http::answer(
        "503 Service Unavailable",
        "text/plain",
        "",
        b"too many connections\n",
        false,
    );
    let _ = (&stream).write(&busy);
    let _ = stream.shutdown(Shutdown::Write);
    // When the closer holds too many already, this one closes now.
    let _ = closing.try_send(stream);
}

/// The closer thread: reads (and drops) what turned-away clients still send, each until it
/// closes, sends [`http::LINGER_BYTES`] or [`http::LINGER`] has passed, then closes it.
fn closer(turned_away: &Receiver<TcpStream>) {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let mut held: Vec<(TcpStream, Instant, usize)> = Vec::new();
    loop {
        if held.is_empty() {
            match turned_away.recv() {
                Ok(s) => held.push((s, Instant::now(), 0)),
                Err(_) => return,
            }
        }
        while held.len() < MAX_CLOSING
            && let Ok(s) = turned_away.try_recv()
        {
            held.push((s, Instant::now(), 0));
        }
        {
            let mut fds: Vec<PollFd> = held
                .iter()
                .map(|(s, ..)| PollFd::new(s.as_fd(), PollFlags::POLLIN))
                .collect();
            let _ = poll(&mut fds, PollTimeout::from(50u16));
        }
        let mut sink = [0u8; 4096];
        held.retain_mut(|(s, since, drained)| {
            if since.elapsed() >= http::LINGER {
                return false;
            }
            loop {
                match s.read(&mut sink) {
                    Ok(0) => return false,
                    Ok(n) => {
                        *drained += n;
                        if *drained >= http::LINGER_BYTES {
                            return false;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => return false,
                }
            }
        });
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

/// Owns the sampler in the sampled namespace and answers scrapes, one sample per
/// `min_interval` at most.
fn sampler_thread(
    config: &ServeConfig,
    requests: Receiver<SyncSender<Reply>>,
    ready: SyncSender<Result<(), String>>,
    alert_stop: &Mutex<Option<String>>,
) {
    let session = Session::start_with(
        config.netns.as_deref(),
        &config.source,
        Protocols::ALL,
        true,
    );
    let Session { mut sampler, .. } = match session {
        Ok(s) => {
            let _ = ready.send(Ok(()));
            s
        }
        Err(e) => {
            let _ = ready.send(Err(format!("{e:#}")));
            return;
        }
    };
    let reporter = Reporter::new(false);
    let mut extras = Extras::for_groups(config.groups()).with_forecast(config.forecast);
    let mut alerts = Alerts::new(config.alerts.clone());
    let mut cache: Option<(Instant, Arc<Rendered>)> = None;
    let (mut samples, mut errors, mut ct_drops) = (0u64, 0u64, None::<u64>);
    for reply in requests {
        if let Some((at, r)) = &cache
            && at.elapsed() < config.min_interval
        {
            let _ = reply.send(Ok(r.clone()));
            continue;
        }
        let started = Instant::now();
        let taken = rounds::take(&mut sampler, &reporter, |s| s.take(now_ms(), &mut extras));
        let mut sample = match taken {
            Ok(s) => s,
            Err(e) => {
                errors += 1;
                let _ = reply.send(Err(format!("{e:#}")));
                continue;
            }
        };
        extras.finish(sampler.pool(), &mut sample);
        if let Some(note) = extras.take_note() {
            reporter.warn(&note);
        }
        samples += 1;
        if let Some(d) = sample.ct.and_then(|c| c.drops) {
            ct_drops = Some(ct_drops.unwrap_or(0) + d);
        }
        for change in alerts.check(&sample) {
            reporter.warn(&alert::describe(&change, sample.epoch_ms));
            if let alert::Change::Started { expr, .. } = change
                && config.exit_on_alert
                && let Ok(mut stop) = alert_stop.lock()
            {
                stop.get_or_insert(expr);
            }
        }
        let pool = sampler.pool();
        let mut ranked = extras
            .dst
            .as_mut()
            .map(|d| d.ranked(pool.total(), &pool.members))
            .unwrap_or_default();
        let min_dst_free = ranked.iter().map(|d| d.free).min();
        ranked.truncate(config.dst_top);
        let openmetrics = metrics::render(
            &sample,
            &Extra {
                destinations: &ranked,
                min_dst_free,
                ct_drops_total: sample.ct.map(|_| ct_drops.unwrap_or(0)),
                sample_seconds: Some(started.elapsed().as_secs_f64()),
                scrape_errors: Some(errors),
                samples: Some(samples),
                alerts: &alerts.list,
            },
        );
        let rendered = Arc::new(Rendered {
            text: metrics::text_format(&openmetrics),
            openmetrics,
        });
        cache = Some((Instant::now(), rendered.clone()));
        let _ = reply.send(Ok(rendered));
    }
}
