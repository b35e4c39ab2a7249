//! `serve`'s request-head parser (`http::parse_head`, `http::read_head`) on any bytes: never a
//! panic; the same answer however the bytes arrive (the first byte sets the size of the pieces a
//! slow client sends them in); an accepted request within the limits, a refusal for a reason.
#![no_main]

use std::io::Read;

use conntrend::api::serve::{MAX_HEAD, MAX_HEADERS, Refusal, parse_head, read_head};
use libfuzzer_sys::fuzz_target;

/// Hands out its bytes `step` at a time.
struct Pieces<'a> {
    bytes: &'a [u8],
    step: usize,
}

impl Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&step, head)) = data.split_first() else {
        return;
    };
    let whole = parse_head(head);
    let step = usize::from(step).max(1);
    let pieces = read_head(&mut Pieces { bytes: head, step });
    assert_eq!(whole, pieces, "read {step} bytes at a time");
    let within = &head[..head.len().min(MAX_HEAD)];
    let ended =
        within.windows(2).any(|w| w == b"\n\n") || within.windows(3).any(|w| w == b"\n\r\n");
    match whole {
        Ok(req) => {
            assert!(
                ended,
                "a request without an empty line in its first {MAX_HEAD} bytes"
            );
            assert!(!req.method.is_empty() && req.method.bytes().all(|b| b.is_ascii_uppercase()));
            assert!(
                req.path.starts_with('/') && !req.path.contains('?'),
                "{:?}",
                req.path
            );
            assert!(
                req.path.bytes().all(|b| b.is_ascii_graphic()),
                "{:?}",
                req.path
            );
        }
        Err(Refusal::TooLarge) => {
            let lines = within.iter().filter(|&&b| b == b'\n').count();
            assert!(
                head.len() >= MAX_HEAD || lines > MAX_HEADERS,
                "{} bytes",
                head.len()
            );
        }
        Err(Refusal::Gone) => assert!(head.is_empty()),
        Err(Refusal::Malformed | Refusal::Version) => {}
    }
});
