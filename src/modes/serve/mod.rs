//! `conntrend serve`: a Prometheus exporter. The listening socket is opened in conntrend's own
//! network namespace; one sampler thread enters the sampled namespace and owns the sampler, so
//! every scrape is a fresh sample while concurrent scrapes, and scrapes closer together than
//! `--min-interval`, share one: fifty scrapers never mean fifty kernel dumps. Each connection gets
//! its own short-lived thread (at most [`MAX_CONNECTIONS`]) with deadlines ([`http`]).
//!
//! Why no HTTP crate: the exporter answers two GET paths, one request per connection. A hand-held
//! request reader with hard limits (8 KiB head, 64 headers, 5 s deadlines, no bodies) is ~150
//! lines with no dependencies and nothing it can be made to do beyond that, where a general server
//! (hyper, tiny_http) brings its own threads, keep-alive and parsing surface to bound.

mod http;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};
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
use crate::report::reporter::Reporter;
use crate::report::schema::{Group, Groups};

/// Loopback only unless `--listen` says otherwise. 9959 is in the range the Prometheus project
/// allocates to exporters (see the README on the choice).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9959";
/// Connections served at once; more are answered 503 at once.
pub const MAX_CONNECTIONS: usize = 64;

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
    let active = Arc::new(AtomicUsize::new(0));
    loop {
        if signal::requested() {
            return Ok(());
        }
        if let Some(expr) = alert_stop.lock().map(|s| s.clone()).unwrap_or(None) {
            return Err(Stop::Alert(expr).into());
        }
        match listener.accept() {
            Ok((stream, _)) => serve_one(stream, &scrapes, &active),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => wait(&listener),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // EMFILE and the like: back off rather than spin.
            Err(_) => thread::sleep(Duration::from_millis(50)),
        }
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

/// Hands a connection to its own thread, or answers 503 when too many are open.
fn serve_one(
    mut stream: TcpStream,
    scrapes: &Sender<SyncSender<Reply>>,
    active: &Arc<AtomicUsize>,
) {
    let _ = stream.set_nonblocking(false);
    if active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
        active.fetch_sub(1, Ordering::SeqCst);
        let _ = http::respond(
            &mut stream,
            "503 Service Unavailable",
            "text/plain",
            "",
            b"too many connections\n",
            false,
        );
        return;
    }
    let (scrapes, done) = (scrapes.clone(), active.clone());
    let spawned = thread::Builder::new().name("client".into()).spawn(move || {
        handle(&mut stream, &scrapes);
        done.fetch_sub(1, Ordering::SeqCst);
    });
    if spawned.is_err() {
        active.fetch_sub(1, Ordering::SeqCst);
    }
}

const INDEX: &str = "<!doctype html>\n<html><head><title>conntrend</title></head><body>\n\
<h1>conntrend</h1>\n<p>Ephemeral ports, TCP/UDP socket states and conntrack usage of this \
network namespace.</p>\n<p><a href=\"/metrics\">Metrics</a></p>\n</body></html>\n";

fn handle(stream: &mut TcpStream, scrapes: &Sender<SyncSender<Reply>>) {
    let req = match http::read_request(stream) {
        Ok(r) => r,
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
