//! Just enough HTTP/1.x for a metrics endpoint, strict and bounded: one request per connection,
//! the request head read with a deadline and a size and header-count limit, no body accepted, the
//! answer written with a deadline, then the connection closed. A malformed or stalled client costs
//! only its own connection thread, never the others.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The largest request head accepted.
pub const MAX_HEAD: usize = 8 * 1024;
/// The most header lines accepted.
pub const MAX_HEADERS: usize = 64;
/// How long a client has to send its request, and to take the answer.
pub const DEADLINE: Duration = Duration::from_secs(5);

/// A parsed request line and the headers conntrend cares about.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// The client prefers OpenMetrics (its Accept header names it).
    pub openmetrics: bool,
}

/// Why a request was refused before it was understood.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// 400.
    Malformed,
    /// 431: the head or its header count passed the limits.
    TooLarge,
    /// The client sent nothing usable before the deadline, or left: no answer.
    Gone,
}

/// Reads one request head from `stream` within [`DEADLINE`].
pub fn read_request(stream: &mut TcpStream) -> Result<Request, Refusal> {
    let start = Instant::now();
    let mut buf = [0u8; MAX_HEAD];
    let mut len = 0;
    loop {
        if let Some(end) = find_end(&buf[..len]) {
            return parse(&buf[..end]);
        }
        if len == buf.len() {
            return Err(Refusal::TooLarge);
        }
        let left = DEADLINE.saturating_sub(start.elapsed());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return Err(Refusal::Gone);
        }
        match stream.read(&mut buf[len..]) {
            Ok(0) => {
                return Err(if len == 0 {
                    Refusal::Gone
                } else {
                    Refusal::Malformed
                });
            }
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Err(Refusal::Gone),
        }
    }
}

/// The end of the head (after the blank line), if it has arrived.
fn find_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
        .or_else(|| buf.windows(2).position(|w| w == b"\n\n").map(|i| i + 2))
}

fn parse(head: &[u8]) -> Result<Request, Refusal> {
    let text = std::str::from_utf8(head).map_err(|_| Refusal::Malformed)?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let request_line = lines.next().ok_or(Refusal::Malformed)?;
    let mut parts = request_line.split(' ');
    let (method, path, version) = (parts.next(), parts.next(), parts.next());
    let (Some(method), Some(path), Some(version), None) = (method, path, version, parts.next())
    else {
        return Err(Refusal::Malformed);
    };
    let token = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_uppercase());
    if !token(method) || !path.starts_with('/') || !version.starts_with("HTTP/1.") {
        return Err(Refusal::Malformed);
    }
    let mut openmetrics = false;
    let mut count = 0;
    for line in lines.filter(|l| !l.is_empty()) {
        count += 1;
        if count > MAX_HEADERS {
            return Err(Refusal::TooLarge);
        }
        let (name, value) = line.split_once(':').ok_or(Refusal::Malformed)?;
        if name.is_empty() || name.contains(' ') {
            return Err(Refusal::Malformed);
        }
        if name.eq_ignore_ascii_case("accept") && value.contains("application/openmetrics-text") {
            openmetrics = true;
        }
    }
    Ok(Request {
        method: method.to_string(),
        path: path.split('?').next().unwrap_or(path).to_string(),
        openmetrics,
    })
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
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{extra_headers}Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    if !head_only {
        stream.write_all(body)?;
    }
    stream.flush()?;
    linger(stream);
    Ok(())
}

/// Closes our side, then reads (briefly, boundedly) what the client still sends before closing:
/// closing with unread bytes makes the kernel send a reset, which can destroy the answer before
/// the client reads it (RFC 7230 §6.6) — a refused, oversized request is exactly that case.
fn linger(stream: &mut TcpStream) {
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let start = Instant::now();
    let mut sink = [0u8; 4096];
    let mut drained = 0;
    while drained < 64 * 1024 && start.elapsed() < Duration::from_millis(500) {
        let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => return,
            Ok(n) => drained += n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_scrapers_send_and_refuses_the_rest() {
        let r = parse(b"GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAccept: application/openmetrics-text;version=1.0.0\r\n\r\n").unwrap();
        assert_eq!(
            r,
            Request {
                method: "GET".into(),
                path: "/metrics".into(),
                openmetrics: true
            }
        );
        assert!(!parse(b"GET / HTTP/1.0\n\n").unwrap().openmetrics);
        for bad in [
            &b"GET\r\n\r\n"[..],
            b"get / HTTP/1.1\r\n\r\n",
            b"GET metrics HTTP/1.1\r\n\r\n",
            b"GET / SPDY/3\r\n\r\n",
            b"GET / HTTP/1.1\r\nno colon\r\n\r\n",
            b"\xff\xfe\r\n\r\n",
        ] {
            assert_eq!(parse(bad), Err(Refusal::Malformed), "{bad:?}");
        }
        let many = format!(
            "GET / HTTP/1.1\r\n{}\r\n",
            "X: y\r\n".repeat(MAX_HEADERS + 1)
        );
        assert_eq!(parse(many.as_bytes()), Err(Refusal::TooLarge));
    }
}
