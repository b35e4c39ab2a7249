//! Just enough HTTP/1.x for a metrics endpoint, strict and bounded: one request per connection,
//! the request head read with deadlines and a size and header-count limit, no body accepted, the
//! answer written with a deadline, then the connection closed. A malformed or stalled client costs
//! only its own connection thread, never the others.
//!
//! The head is parsed from bytes ([`parse_head`], [`read_head`]: any `Read`), so that it can be
//! fuzzed apart from sockets and clocks; [`read_request`] adds the deadlines of a connection. The
//! parser is in `head`; here are the deadlines, the answer and the lingering close.

mod head;

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

pub use head::{MAX_HEAD, MAX_HEADERS, Refusal, Request, parse_head, read_head};

/// How long a client has to send its whole request head, and to take the answer.
pub const DEADLINE: Duration = Duration::from_secs(5);
/// How long a client has to send the first byte of its request: a scraper sends it with the
/// connection, so a connection silent this long is idle, not slow.
pub const FIRST_BYTE: Duration = Duration::from_secs(2);

/// Reads one request head from `stream`: its first byte within [`FIRST_BYTE`], the whole head
/// within [`DEADLINE`] of `start` (when the connection was accepted).
pub fn read_request(stream: &TcpStream, start: Instant) -> Result<Request, Refusal> {
    read_head(&mut Deadlined {
        stream,
        start,
        started: false,
    })
}

/// A connection's reads, each bounded by what is left of its deadlines.
struct Deadlined<'a> {
    stream: &'a TcpStream,
    start: Instant,
    started: bool,
}

impl Read for Deadlined<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let limit = if self.started { DEADLINE } else { FIRST_BYTE };
        let left = limit.saturating_sub(self.start.elapsed());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        self.stream.set_read_timeout(Some(left))?;
        let n = self.stream.read(buf)?;
        self.started |= n > 0;
        Ok(n)
    }
}

/// The bytes of a whole answer: its head, then (unless `head_only`) the body.
pub fn answer(
    status: &str,
    content_type: &str,
    extra_headers: &str,
    body: &[u8],
    head_only: bool,
) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{extra_headers}Connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(body);
    }
    out
}

/// Writes a whole response within [`DEADLINE`], then the connection is done.
pub fn respond(
    stream: &mut TcpStream,
    status: &str,
    content_type: &str,
    extra_headers: &str,
    body: &[u8],
    head_only: bool,
) -> io::Result<()> {
    stream.set_write_timeout(Some(DEADLINE))?;
    stream.write_all(&answer(
        status,
        content_type,
        extra_headers,
        body,
        head_only,
    ))?;
    stream.flush()?;
    linger(stream);
    Ok(())
}

/// How long a closing connection is read from (see [`linger`]) at most.
pub const LINGER: Duration = Duration::from_millis(500);
/// How much a closing connection is read from at most.
pub const LINGER_BYTES: usize = 64 * 1024;

/// Closes our side, then reads (briefly, boundedly) what the client still sends before closing:
/// closing with unread bytes makes the kernel send a reset, which can destroy the answer before
/// the client reads it (RFC 7230 §6.6) — a refused, oversized request is exactly that case.
fn linger(stream: &mut TcpStream) {
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let start = Instant::now();
    let mut sink = [0u8; 4096];
    let mut drained = 0;
    while drained < LINGER_BYTES && start.elapsed() < LINGER {
        let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => return,
            Ok(n) => drained += n,
        }
    }
}
