//! The /proc/net source: `net/{tcp,tcp6,udp,udp6}` under a proc root (the live `/proc`, or a
//! saved tree from a support bundle) read through one reused 64 KiB buffer, each line parsed in
//! place (no regex, no String per field) into the same record view a netlink dump gives, so the
//! fold and every visitor work unchanged. What /proc cannot show: sockets that are only bound
//! (not hashed, so not listed), and the NEW_SYN_RECV/SYN_RECV distinction (both are state 03).

use crate::util::fs::open_regular;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::{DiagError, Dump, DumpEnd, Family, Protocol, Record, RecordBuf};

/// Bytes read at a time; a line is far shorter, so a partial last line always fits after a move.
const CHUNK: usize = 64 * 1024;

/// Dumps sockets from the text files of a proc root.
pub struct ProcNet {
    net: PathBuf,
    buf: Vec<u8>,
    rec: RecordBuf,
}

impl ProcNet {
    /// Reads `ROOT/net/…` (ROOT is `/proc` for the live system).
    pub fn new(root: &Path) -> Self {
        ProcNet {
            net: root.join("net"),
            buf: vec![0; CHUNK],
            rec: RecordBuf::default(),
        }
    }

    /// Whether the files can be read at all (the IPv4 TCP table must exist).
    pub fn check(&self) -> Result<(), DiagError> {
        let path = self.net.join("tcp");
        open_regular(&path)
            .map(drop)
            .map_err(|e| DiagError::Proc(format!("cannot read {}: {e}", path.display())))
    }

    /// One file, line by line. A missing IPv6 file means no IPv6 sockets (a kernel without IPv6).
    fn read(
        &mut self,
        family: Family,
        protocol: Protocol,
        visit: &mut impl FnMut(Record<'_>),
    ) -> Result<(), DiagError> {
        let name = match (protocol, family) {
            (Protocol::Tcp, Family::V6) => "tcp6",
            (Protocol::Udp, Family::V6) => "udp6",
            (Protocol::Tcp, _) => "tcp",
            (Protocol::Udp, _) => "udp",
        };
        let path = self.net.join(name);
        let mut file = match open_regular(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound && family == Family::V6 => return Ok(()),
            Err(e) => {
                return Err(DiagError::Proc(format!(
                    "cannot read {}: {e}",
                    path.display()
                )));
            }
        };
        let v6 = family == Family::V6;
        let (mut filled, mut line_no) = (0usize, 0usize);
        loop {
            let n = match file.read(&mut self.buf[filled..]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(DiagError::Proc(format!(
                        "cannot read {}: {e}",
                        path.display()
                    )));
                }
            };
            filled += n;
            let end = if n == 0 {
                filled
            } else {
                match self.buf[..filled].iter().rposition(|&b| b == b'\n') {
                    Some(i) => i + 1,
                    None if filled == self.buf.len() => {
                        let what = "a line longer than 64 KiB".to_string();
                        return Err(bad(&path, line_no + 1, what));
                    }
                    None => continue,
                }
            };
            for line in self.buf[..end].split(|&b| b == b'\n') {
                if line.is_empty() {
                    continue;
                }
                line_no += 1;
                // The first line names the columns.
                if line_no == 1 {
                    continue;
                }
                parse_line(line, v6, &mut self.rec)
                    .map_err(|what| bad(&path, line_no, what.to_string()))?;
                visit(self.rec.record());
            }
            if n == 0 {
                return Ok(());
            }
            self.buf.copy_within(end..filled, 0);
            filled -= end;
        }
    }
}

fn bad(path: &Path, line: usize, what: String) -> DiagError {
    DiagError::Proc(format!("{}:{line}: {what}", path.display()))
}

impl Dump for ProcNet {
    fn dump(
        &mut self,
        family: Family,
        protocol: Protocol,
        mut visit: impl FnMut(Record<'_>),
    ) -> Result<DumpEnd, DiagError> {
        let families: &[Family] = match family {
            Family::Both => &Family::EACH,
            Family::V4 => &[Family::V4],
            Family::V6 => &[Family::V6],
        };
        for &f in families {
            self.read(f, protocol, &mut visit)?;
        }
        // Reading the files is no more atomic than a dump, but the kernel cannot say so.
        Ok(DumpEnd { interrupted: false })
    }
}

/// `   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000  0 12345 …`
/// into `rec`: slot, local and remote address:port, state, queues, timer, retransmits, uid,
/// timeout, inode (and more columns that are not needed).
pub fn parse_line(line: &[u8], v6: bool, rec: &mut RecordBuf) -> Result<(), &'static str> {
    let mut fields = line
        .split(|b| b.is_ascii_whitespace())
        .filter(|f| !f.is_empty());
    let mut next = |what| fields.next().ok_or(what);
    let slot = next("no slot number")?;
    if slot.last() != Some(&b':') {
        return Err("the slot number does not end with ':'");
    }
    let local = next("no local address")?;
    let remote = next("no remote address")?;
    let state = hex(next("no state")?).ok_or("the state is not hex")?;
    let state = u8::try_from(state).map_err(|_| "the state is out of range")?;
    let (wqueue, rqueue) = pair(next("no queues")?).ok_or("malformed queues")?;
    let (timer, ticks) = pair(next("no timer")?).ok_or("a malformed timer")?;
    next("no retransmit count")?;
    let uid = decimal(next("no uid")?).ok_or("the uid is not a number")?;
    next("no timeout")?;
    let inode = decimal(next("no inode")?).ok_or("the inode is not a number")?;
    let (mut src, mut dst) = ([0u8; 16], [0u8; 16]);
    let sport = address(local, v6, &mut src).ok_or("a malformed local address")?;
    let dport = address(remote, v6, &mut dst).ok_or("a malformed remote address")?;
    let (family, len) = if v6 {
        (libc::AF_INET6 as u8, 16)
    } else {
        (libc::AF_INET as u8, 4)
    };
    rec.reset(family, state)
        .ports(sport, dport)
        .addrs(&src[..len], &dst[..len])
        .owner(uid, inode)
        .queues(
            u8::try_from(timer).map_err(|_| "the timer is out of range")?,
            // The kernel prints the time left in USER_HZ (100) ticks.
            u32::try_from(ticks.saturating_mul(10)).unwrap_or(u32::MAX),
            u32::try_from(rqueue).map_err(|_| "the receive queue is out of range")?,
            u32::try_from(wqueue).map_err(|_| "the send queue is out of range")?,
        );
    Ok(())
}

/// `HEX:HEX` (`tx_queue:rx_queue`, `tr:tm->when`).
fn pair(field: &[u8]) -> Option<(u64, u64)> {
    let colon = field.iter().position(|&b| b == b':')?;
    Some((hex(&field[..colon])?, hex(&field[colon + 1..])?))
}

/// `ADDR:PORT`: the address as the kernel printed it (32-bit words in host order, 1 for IPv4 and
/// 4 for IPv6, `%08X` each) into network-order bytes; the port.
fn address(field: &[u8], v6: bool, out: &mut [u8; 16]) -> Option<u16> {
    let words = if v6 { 4 } else { 1 };
    let colon = field.iter().position(|&b| b == b':')?;
    let (addr, port) = (&field[..colon], &field[colon + 1..]);
    if addr.len() != 8 * words || port.len() != 4 {
        return None;
    }
    for (i, word) in addr.chunks(8).enumerate() {
        let w = u32::try_from(hex(word)?).ok()?;
        out[4 * i..4 * i + 4].copy_from_slice(&w.to_ne_bytes());
    }
    u16::try_from(hex(port)?).ok()
}

fn hex(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 16 {
        return None;
    }
    s.iter().try_fold(0u64, |n, &b| {
        let d = (b as char).to_digit(16)?;
        Some(n << 4 | u64::from(d))
    })
}

fn decimal(s: &[u8]) -> Option<u32> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0u32, |n, &b| {
        let d = (b as char).to_digit(10)?;
        n.checked_mul(10)?.checked_add(d)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1211 1 0000000032f7e771 100 0 0 10 0
   1: 0100007F:9C41 0200007F:01BB 01 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0000000032f7e771 20 4 30 10 -1
   2: 0100007F:9C42 0200007F:01BB 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000
";
    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F91 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 77 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:9C43 0000000000000000FFFF00000200007F:0050 08 00000000:00000000 00:00000000 00000000     0        0 78 1 0000000000000000 20 4 0 10 -1
";

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("net")).unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join("net").join(name), text).unwrap();
        }
        dir
    }

    type Seen = (u8, u8, u16, u16, Vec<u8>, Vec<u8>, u32, u32);

    fn dump(dir: &Path, family: Family, protocol: Protocol) -> Result<Vec<Seen>, DiagError> {
        let mut seen = Vec::new();
        ProcNet::new(dir).dump(family, protocol, |r| {
            seen.push((
                r.family(),
                r.state(),
                r.src_port(),
                r.dst_port(),
                r.src_addr().to_vec(),
                r.dst_addr().to_vec(),
                r.uid(),
                r.inode(),
            ));
        })?;
        Ok(seen)
    }

    #[test]
    fn lines_become_records_like_a_dump() {
        let dir = tree(&[("tcp", TCP), ("tcp6", TCP6)]);
        let seen = dump(dir.path(), Family::Both, Protocol::Tcp).unwrap();
        assert_eq!(seen.len(), 5);
        let lo = Ipv4Addr::LOCALHOST.octets().to_vec();
        assert_eq!(
            seen[1],
            (
                libc::AF_INET as u8,
                1,
                40001,
                443,
                lo.clone(),
                Ipv4Addr::new(127, 0, 0, 2).octets().to_vec(),
                1000,
                4242
            )
        );
        assert_eq!((seen[2].1, seen[2].7), (6, 0), "TIME_WAIT, no inode");
        assert_eq!(seen[3].4, Ipv6Addr::LOCALHOST.octets().to_vec());
        let mapped = Ipv4Addr::new(127, 0, 0, 2)
            .to_ipv6_mapped()
            .octets()
            .to_vec();
        assert_eq!((seen[4].1, seen[4].3, &seen[4].5), (8, 80, &mapped));
    }

    #[test]
    fn a_missing_ipv6_file_is_no_ipv6_sockets_but_ipv4_is_required() {
        let dir = tree(&[("tcp", TCP)]);
        assert_eq!(
            dump(dir.path(), Family::V6, Protocol::Tcp).unwrap().len(),
            0
        );
        let err = dump(dir.path(), Family::V4, Protocol::Udp).unwrap_err();
        assert!(err.to_string().contains("net/udp"), "{err}");
    }

    #[test]
    fn malformed_lines_are_errors_naming_file_and_line() {
        for (bad_line, what) in [
            (
                "   3: 0100007F:1F90 00000000:0000 ZZ 0:0 0:0 0 0 0 1",
                "state",
            ),
            (
                "   3: 0100007F1F90 00000000:0000 0A 0:0 0:0 0 0 0 1",
                "local address",
            ),
            (
                "   3: 0100007F:1F90 00000000:0000 0A 0:0 0:0 0 0 0",
                "inode",
            ),
            (
                "   3 0100007F:1F90 00000000:0000 0A 0:0 0:0 0 0 0 1",
                "slot",
            ),
            (
                "   3: 0100007F:1F90 00000000:0000 0A 0:0 0:0 0 x 0 1",
                "uid",
            ),
        ] {
            let dir = tree(&[("tcp", &format!("{TCP}{bad_line}\n"))]);
            let err = dump(dir.path(), Family::V4, Protocol::Tcp)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("net/tcp:5:") && err.contains(what),
                "{what}: {err}"
            );
        }
    }

    #[test]
    fn lines_split_across_reads_are_whole() {
        // Enough lines that the 64 KiB buffer is refilled several times mid-line.
        let mut text = String::from(TCP.lines().next().unwrap());
        text.push('\n');
        for i in 0..3000u32 {
            text += &format!(
                "{i:4}: 0100007F:{:04X} 0200007F:01BB 01 00000000:00000000 00:00000000 00000000  1000        0 {} 1 0000000032f7e771 20 4 30 10 -1\n",
                10000 + i,
                i + 1
            );
        }
        let dir = tree(&[("tcp", &text)]);
        let seen = dump(dir.path(), Family::V4, Protocol::Tcp).unwrap();
        assert_eq!(seen.len(), 3000);
        assert!(
            seen.iter()
                .enumerate()
                .all(|(i, s)| s.2 == 10000 + i as u16 && s.7 == i as u32 + 1)
        );
    }

    #[test]
    fn the_live_proc_tables_parse() {
        let seen = dump(Path::new("/proc"), Family::Both, Protocol::Tcp).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen_after = dump(Path::new("/proc"), Family::Both, Protocol::Tcp).unwrap();
        assert!(seen_after.iter().any(|s| s.2 == port && s.1 == 10));
        drop(seen);
    }
}
