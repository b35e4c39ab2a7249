//! Numbers and addresses appended to a byte buffer without `core::fmt`, for the listings that
//! write a line per connection, entry or packet (`conntrack show`, `rtt`): formatting through
//! `write!` was most of their own time.

use std::io::Write as _;
use std::net::IpAddr;

/// `n` in decimal, at least `width` digits (zero-padded).
pub fn uint(out: &mut Vec<u8>, mut n: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut at = digits.len();
    while n > 0 || digits.len() - at < width.max(1) {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out.extend_from_slice(&digits[at..]);
}

/// `n` in decimal with its sign; `plus` writes `+` before a positive number or 0.
pub fn int(out: &mut Vec<u8>, n: i64, plus: bool) {
    if n < 0 {
        out.push(b'-');
    } else if plus {
        out.push(b'+');
    }
    uint(out, n.unsigned_abs(), 1);
}

/// An address as `Display` writes it; IPv4 without `core::fmt`.
pub fn ip(out: &mut Vec<u8>, addr: IpAddr) {
    match addr {
        IpAddr::V4(a) => {
            for (i, octet) in a.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                uint(out, octet.into(), 1);
            }
        }
        IpAddr::V6(a) => {
            let _ = write!(out, "{a}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_display_writes_them() {
        for n in [0u64, 7, 10, 99, 255, 65535, 1_000_000, u64::MAX] {
            let mut out = Vec::new();
            uint(&mut out, n, 1);
            assert_eq!(out, n.to_string().as_bytes());
        }
        let mut out = Vec::new();
        uint(&mut out, 42, 6);
        out.push(b' ');
        int(&mut out, 7, true);
        out.push(b' ');
        int(&mut out, -7, false);
        assert_eq!(out, b"000042 +7 -7");
        for a in [
            "0.0.0.0",
            "255.255.255.255",
            "127.40.3.209",
            "::1",
            "fe80::1:2",
        ] {
            let mut out = Vec::new();
            ip(&mut out, a.parse().unwrap());
            assert_eq!(String::from_utf8(out).unwrap(), a);
        }
    }
}
