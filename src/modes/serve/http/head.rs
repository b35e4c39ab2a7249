//! The request head: read from any `Read` ([`read_head`], never more than [`MAX_HEAD`] bytes),
//! or from bytes ([`parse_head`]), and parsed strictly into a [`Request`] or a [`Refusal`],
//! Accept's q-values included. No sockets or clocks here, so that it can be fuzzed; the
//! connection's deadlines are [`super::read_request`]'s.

use std::io::{self, Read};

/// The largest request head accepted.
pub const MAX_HEAD: usize = 8 * 1024;
/// The most header lines accepted.
pub const MAX_HEADERS: usize = 64;

/// A parsed request line and the headers conntrend cares about.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// The client prefers OpenMetrics: its Accept finds it acceptable (q > 0), and at least as
    /// welcome as the text format.
    pub openmetrics: bool,
}

/// Why a request was refused before it was understood.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// 400.
    Malformed,
    /// 431: the head or its header count passed the limits.
    TooLarge,
    /// 505: a well-formed HTTP version other than 1.0 and 1.1.
    Version,
    /// The client sent nothing usable before the deadline, or left: no answer.
    Gone,
}

/// The head of `bytes`, as [`read_head`] reads it from a client that sent `bytes` and stopped.
pub fn parse_head(mut bytes: &[u8]) -> Result<Request, Refusal> {
    read_head(&mut bytes)
}

/// Reads one request head from `source`, never more than [`MAX_HEAD`] bytes, and parses it. The
/// head ends at its first empty line; lines end in CRLF or, as RFC 9112 §2.2 lets a recipient
/// accept, a bare LF. Bytes after the head (a pipelined request) are not looked at. An end of
/// input (or a read error: a deadline) before the head is whole is [`Refusal::Gone`] when nothing
/// came, [`Refusal::Malformed`] otherwise.
pub fn read_head(source: &mut impl Read) -> Result<Request, Refusal> {
    let mut buf = [0u8; MAX_HEAD];
    let (mut len, mut scan) = (0, Scan::default());
    loop {
        if let Some(end) = scan.end(&buf[..len]) {
            return parse(&buf[..end]);
        }
        if len == buf.len() {
            return Err(Refusal::TooLarge);
        }
        match source.read(&mut buf[len..]) {
            Ok(0) => {
                return Err(if len == 0 {
                    Refusal::Gone
                } else {
                    Refusal::Malformed
                });
            }
            Ok(n) => len += n.min(buf.len() - len),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Err(Refusal::Gone),
        }
    }
}

/// Where the head ends, found as its bytes arrive, each byte looked at once.
#[derive(Default)]
struct Scan {
    /// Where the line being read starts.
    line: usize,
    /// The bytes looked at so far.
    seen: usize,
}

impl Scan {
    /// The end of the head (just past its empty line) if it is in `buf`.
    fn end(&mut self, buf: &[u8]) -> Option<usize> {
        while let Some(i) = buf[self.seen..].iter().position(|&b| b == b'\n') {
            let lf = self.seen + i;
            self.seen = lf + 1;
            if matches!(&buf[self.line..lf], b"" | b"\r") {
                return Some(lf + 1);
            }
            self.line = lf + 1;
        }
        self.seen = buf.len();
        None
    }
}

/// A whole head, its empty line included.
fn parse(head: &[u8]) -> Result<Request, Refusal> {
    let text = std::str::from_utf8(head).map_err(|_| Refusal::Malformed)?;
    let mut lines = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .take_while(|l| !l.is_empty());
    let request_line = lines.next().ok_or(Refusal::Malformed)?;
    let mut parts = request_line.split(' ');
    let (method, path, version) = (parts.next(), parts.next(), parts.next());
    let (Some(method), Some(path), Some(version), None) = (method, path, version, parts.next())
    else {
        return Err(Refusal::Malformed);
    };
    let method_ok = !method.is_empty() && method.bytes().all(|b| b.is_ascii_uppercase());
    let path_ok = path.starts_with('/') && path.bytes().all(|b| b.is_ascii_graphic());
    if !method_ok || !path_ok {
        return Err(Refusal::Malformed);
    }
    check_version(version)?;
    let (mut openmetrics, mut text_format) = (0.0f32, 0.0f32);
    let mut count = 0;
    for line in lines {
        count += 1;
        if count > MAX_HEADERS {
            return Err(Refusal::TooLarge);
        }
        let (name, value) = line.split_once(':').ok_or(Refusal::Malformed)?;
        if name.is_empty() || !name.bytes().all(is_tchar) || !value.bytes().all(is_field_byte) {
            return Err(Refusal::Malformed);
        }
        if name.eq_ignore_ascii_case("accept") {
            for (media, q) in media_ranges(value) {
                if media.eq_ignore_ascii_case("application/openmetrics-text") {
                    openmetrics = openmetrics.max(q);
                } else if media.eq_ignore_ascii_case("text/plain") {
                    text_format = text_format.max(q);
                }
            }
        }
    }
    Ok(Request {
        method: method.to_string(),
        path: path.split('?').next().unwrap_or(path).to_string(),
        openmetrics: openmetrics > 0.0 && openmetrics >= text_format,
    })
}

/// `HTTP/1.0` and `HTTP/1.1` pass; another `HTTP/D.D` is [`Refusal::Version`]; anything else is
/// malformed (RFC 9112 §2.3: `HTTP-version = "HTTP/" DIGIT "." DIGIT`, case-sensitive).
fn check_version(version: &str) -> Result<(), Refusal> {
    match version.as_bytes() {
        b"HTTP/1.0" | b"HTTP/1.1" => Ok(()),
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            Err(Refusal::Version)
        }
        _ => Err(Refusal::Malformed),
    }
}

/// A header name's bytes (RFC 9110 §5.6.2 `tchar`).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A header value's bytes: no control characters but HTAB (a bare CR, NUL, DEL are refused).
fn is_field_byte(b: u8) -> bool {
    b == b'\t' || (b >= 0x20 && b != 0x7f)
}

/// The media ranges of an Accept value with their weights (RFC 9110 §12.5.1): `q` defaults to 1,
/// and one that is not a valid qvalue makes its range unacceptable (0).
fn media_ranges(value: &str) -> impl Iterator<Item = (&str, f32)> {
    value.split(',').map(|range| {
        let mut params = range.split(';');
        let media = params.next().unwrap_or("").trim();
        let q = params
            .filter_map(|p| p.trim().split_once('='))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("q"))
            .map_or(1.0, |(_, v)| qvalue(v.trim()).unwrap_or(0.0));
        (media, q)
    })
}

/// `0`, `0.5`, `1.000`: at most three decimals, at most 1.
fn qvalue(v: &str) -> Option<f32> {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !matches!(int, "0" | "1") || frac.len() > 3 || !digits(frac) {
        return None;
    }
    let q: f32 = v.parse().ok()?;
    (q <= 1.0).then_some(q)
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

    /// Hands out `bytes` `step` at a time, as a slow client does.
    struct Trickle<'a> {
        bytes: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.bytes.len());
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    fn get(path: &str) -> Result<Request, Refusal> {
        Ok(Request {
            method: "GET".into(),
            path: path.into(),
            openmetrics: false,
        })
    }

    #[test]
    fn a_head_ends_at_its_first_empty_line_whatever_its_line_endings() {
        for head in [
            &b"GET /m HTTP/1.1\nHost: x\n\r\n"[..],
            b"GET /m HTTP/1.1\r\nHost: x\n\r\n",
            b"GET /m HTTP/1.1\nHost: x\r\n\n",
            b"GET /m HTTP/1.1\n\r\n",
            b"GET /m HTTP/1.1\n\n",
            b"GET /m HTTP/1.1\r\n\r\n",
            // A pipelined request (or anything) after the head is not read as headers.
            b"GET /m HTTP/1.1\n\nGET / HTTP/1.1\r\n\r\n",
            b"GET /m HTTP/1.1\r\n\r\n\xff\xfe no colon",
        ] {
            assert_eq!(parse_head(head), get("/m"), "{head:?}");
        }
        // A bare CR is no line ending; an empty first line is no request.
        for bad in [
            &b"GET /m HTTP/1.1\r\rHost: x\r\n\r\n"[..],
            b"GET /m HTTP/1.1\r\nHost: x\ry\r\n\r\n",
            b"\r\nGET /m HTTP/1.1\r\n\r\n",
            b"\n",
        ] {
            assert_eq!(parse_head(bad), Err(Refusal::Malformed), "{bad:?}");
        }
    }

    #[test]
    fn only_http_1_0_and_1_1_pass() {
        for v in ["HTTP/1.0", "HTTP/1.1"] {
            assert_eq!(
                parse_head(format!("GET /m {v}\r\n\r\n").as_bytes()),
                get("/m")
            );
        }
        for v in ["HTTP/2.0", "HTTP/1.2", "HTTP/0.9", "HTTP/9.9"] {
            let head = format!("GET /m {v}\r\n\r\n");
            assert_eq!(parse_head(head.as_bytes()), Err(Refusal::Version), "{v}");
        }
        for v in [
            "HTTP/1.7abc",
            "HTTP/1.10",
            "HTTP/1",
            "HTTP/2",
            "http/1.1",
            "HTTP/1.1 ",
            "",
        ] {
            let head = format!("GET /m {v}\r\n\r\n");
            assert_eq!(
                parse_head(head.as_bytes()),
                Err(Refusal::Malformed),
                "{v:?}"
            );
        }
    }

    #[test]
    fn openmetrics_only_when_acceptable_and_preferred() {
        let om = |accept: &str| {
            let head = format!("GET /m HTTP/1.1\r\nAccept: {accept}\r\n\r\n");
            parse_head(head.as_bytes()).unwrap().openmetrics
        };
        for yes in [
            "application/openmetrics-text",
            "application/openmetrics-text;version=1.0.0;q=0.001",
            "text/plain;q=0.5, application/openmetrics-text;q=0.5",
            "application/openmetrics-text;q=0.75 , text/plain;q=0.5",
            "APPLICATION/OPENMETRICS-TEXT ; Q=1.000",
        ] {
            assert!(om(yes), "{yes}");
        }
        for no in [
            "application/openmetrics-text;q=0",
            "application/openmetrics-text;q=0.000",
            "application/openmetrics-text;q=0.0001",
            "application/openmetrics-text;q=1.5",
            "application/openmetrics-text;q=-1",
            "application/openmetrics-text;q=",
            "text/plain, application/openmetrics-text;q=0.9",
            "*/*",
            "application/openmetrics-textual",
        ] {
            assert!(!om(no), "{no}");
        }
        // Two Accept lines count together.
        let head = b"GET /m HTTP/1.1\r\nAccept: text/plain;q=0.2\r\nAccept: application/openmetrics-text\r\n\r\n";
        assert!(parse_head(head).unwrap().openmetrics);
    }

    #[test]
    fn the_limits_hold_and_a_head_read_in_pieces_is_the_same_head() {
        // Exactly MAX_HEAD bytes, ended: fine; one more byte: too large.
        let fill = |n: usize| {
            let mut h = b"GET /m HTTP/1.1\r\nX: ".to_vec();
            h.resize(n - 4, b'a');
            h.extend_from_slice(b"\r\n\r\n");
            h
        };
        assert_eq!(parse_head(&fill(MAX_HEAD)), get("/m"));
        assert_eq!(parse_head(&fill(MAX_HEAD + 1)), Err(Refusal::TooLarge));
        assert_eq!(parse_head(b""), Err(Refusal::Gone));
        assert_eq!(parse_head(b"GET /m HTTP/1.1\r\n"), Err(Refusal::Malformed));
        let heads: [&[u8]; 5] = [
            &fill(MAX_HEAD),
            &fill(MAX_HEAD + 1),
            b"GET /m HTTP/1.1\n\r\nGET / HTTP/1.1\r\n\r\n",
            b"GET /m HTTP/1.1\r\nAccept: application/openmetrics-text\r\n\r\n",
            b"GET /m HTTP/1.1\r\n",
        ];
        for head in heads {
            for step in [1, 2, 3, 7, 4096] {
                let mut trickle = Trickle { bytes: head, step };
                assert_eq!(read_head(&mut trickle), parse_head(head), "{step}");
            }
        }
    }
}
