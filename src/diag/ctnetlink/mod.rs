//! ctnetlink (NETLINK_NETFILTER, subsystem CTNETLINK): the connection tracking table's dump, its
//! global and per-CPU statistics, flush and the deletion of single entries, over one [`Channel`]
//! — the same socket-and-buffer loop and message walk as the sock_diag seam — and the table's
//! events ([`events`]). ctnetlink answers only CAP_NET_ADMIN.

use crate::diag::attrs::{self, be};
use crate::diag::{Channel, DiagError, DumpEnd, walk_messages};

pub mod entry;
pub mod events;

use entry::Entry;

/// NETLINK_NETFILTER.
const NETLINK_NETFILTER: isize = 12;
/// NFNL_SUBSYS_CTNETLINK, in the high byte of nlmsg_type.
const SUBSYS_CTNETLINK: u16 = 1 << 8;
// IPCTNL_MSG_CT_*.
const MSG_GET: u16 = 1;
const MSG_DELETE: u16 = 2;
const MSG_GET_STATS_CPU: u16 = 4;
const MSG_GET_STATS: u16 = 5;
// CTA_* a deletion names the entry by.
const CTA_TUPLE_ORIG: u16 = 1;
const CTA_ID: u16 = 12;
const CTA_ZONE: u16 = 18;
const NLA_F_NESTED: u16 = 0x8000;
// CTA_STATS_GLOBAL_*.
const GLOBAL_ENTRIES: u16 = 1;
const GLOBAL_MAX: u16 = 2;

const NLM_F_REQUEST: u16 = 0x01;
const NLM_F_ACK: u16 = 0x04;
const NLM_F_DUMP: u16 = 0x300;
/// sizeof(struct nfgenmsg).
const NFGENMSG: usize = 4;

/// The kernel's conntrack statistics, summed over CPUs (`conntrack -S`'s counters).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub found: u64,
    pub invalid: u64,
    pub insert: u64,
    pub insert_failed: u64,
    pub drop: u64,
    pub early_drop: u64,
    pub error: u64,
    pub search_restart: u64,
    pub clash_resolve: u64,
    pub chaintoolong: u64,
}

impl Stats {
    /// Every counter with its name, in `conntrack -S`'s order.
    pub fn fields(&self) -> [(&'static str, u64); 10] {
        [
            ("found", self.found),
            ("invalid", self.invalid),
            ("insert", self.insert),
            ("insert_failed", self.insert_failed),
            ("drop", self.drop),
            ("early_drop", self.early_drop),
            ("error", self.error),
            ("search_restart", self.search_restart),
            ("clash_resolve", self.clash_resolve),
            ("chaintoolong", self.chaintoolong),
        ]
    }

    /// Adds one CPU's CTA_STATS_* attributes.
    fn add_cpu(&mut self, attrs_bytes: &[u8]) {
        for (kind, payload) in attrs::attrs(attrs_bytes) {
            let v = be(payload).unwrap_or(0);
            let slot = match kind {
                2 => &mut self.found,
                4 => &mut self.invalid,
                8 => &mut self.insert,
                9 => &mut self.insert_failed,
                10 => &mut self.drop,
                11 => &mut self.early_drop,
                12 => &mut self.error,
                13 => &mut self.search_restart,
                14 => &mut self.clash_resolve,
                15 => &mut self.chaintoolong,
                _ => continue,
            };
            *slot += v;
        }
    }
}

/// A ctnetlink socket and its buffers, kept for the whole run.
pub struct CtSocket {
    channel: Channel,
    request: Vec<u8>,
}

impl CtSocket {
    pub fn open() -> Result<Self, DiagError> {
        Ok(CtSocket {
            channel: Channel::open(NETLINK_NETFILTER)?,
            request: Vec::with_capacity(32),
        })
    }

    /// Builds nlmsghdr + nfgenmsg for `msg` over `family` (AF_UNSPEC: every family).
    fn request(&mut self, msg: u16, flags: u16, family: u8) -> u32 {
        let seq = self.channel.next_seq();
        let len = (16 + NFGENMSG) as u32;
        let r = &mut self.request;
        r.clear();
        r.extend_from_slice(&len.to_ne_bytes());
        r.extend_from_slice(&(SUBSYS_CTNETLINK | msg).to_ne_bytes());
        r.extend_from_slice(&(NLM_F_REQUEST | flags).to_ne_bytes());
        r.extend_from_slice(&seq.to_ne_bytes());
        r.extend_from_slice(&0u32.to_ne_bytes());
        // nfgenmsg: family, version (NFNETLINK_V0), res_id (big-endian, 0).
        r.extend_from_slice(&[family, 0, 0, 0]);
        seq
    }

    /// Sends the prepared request; every data message's attributes (after the nfgenmsg) go to
    /// `visit` with the nfgenmsg's res_id (the CPU, in per-CPU statistics).
    fn exchange(
        &mut self,
        seq: u32,
        mut visit: impl FnMut(u16, &[u8]),
    ) -> Result<DumpEnd, DiagError> {
        let CtSocket { channel, request } = self;
        channel.exchange(request, seq, |datagram, seq, interrupted| {
            walk_messages(datagram, seq, interrupted, |_, payload| {
                let head = payload
                    .get(..NFGENMSG)
                    .ok_or(DiagError::Malformed("an nfgenmsg is cut short"))?;
                visit(u16::from_be_bytes([head[2], head[3]]), &payload[NFGENMSG..]);
                Ok(())
            })
        })
    }

    /// Dumps every tracked connection of this namespace (both families), one [`Entry`] each,
    /// parsed in place into one reused entry.
    pub fn dump(&mut self, mut visit: impl FnMut(&Entry)) -> Result<DumpEnd, DiagError> {
        self.dump_raw(|entry, _| visit(entry))
    }

    /// As [`CtSocket::dump`], with each entry's attributes as the kernel sent them (what
    /// [`CtSocket::delete`] takes).
    pub fn dump_raw(&mut self, mut visit: impl FnMut(&Entry, &[u8])) -> Result<DumpEnd, DiagError> {
        let seq = self.request(MSG_GET, NLM_F_DUMP, libc::AF_UNSPEC as u8);
        let mut entry = Entry::default();
        let mut bad = false;
        let end = self.exchange(seq, |_, attrs| {
            if entry.parse(attrs) {
                visit(&entry, attrs);
            } else {
                bad = true;
            }
        })?;
        if bad {
            return Err(DiagError::Malformed("a conntrack entry without its tuples"));
        }
        Ok(end)
    }

    /// The table's entry count and its limit (`conntrack -C`), without a dump.
    pub fn count(&mut self) -> Result<(u64, u64), DiagError> {
        let seq = self.request(MSG_GET_STATS, NLM_F_ACK, libc::AF_UNSPEC as u8);
        let (mut used, mut max) = (None, None);
        self.exchange(seq, |_, a| {
            used = attrs::find(a, GLOBAL_ENTRIES).and_then(be);
            max = attrs::find(a, GLOBAL_MAX).and_then(be);
        })?;
        match (used, max) {
            (Some(u), Some(m)) => Ok((u, m)),
            _ => Err(DiagError::Malformed("no entry count in the statistics")),
        }
    }

    /// The per-CPU statistics, summed.
    pub fn stats(&mut self) -> Result<Stats, DiagError> {
        let seq = self.request(MSG_GET_STATS_CPU, NLM_F_DUMP, libc::AF_UNSPEC as u8);
        let mut stats = Stats::default();
        self.exchange(seq, |_, a| stats.add_cpu(a))?;
        Ok(stats)
    }

    /// Deletes the one entry whose attributes (as a dump sent them) are `attrs`, named by its
    /// original tuple, its zone and its id (so an entry that has since been replaced by another
    /// with the same tuple is left alone). False when the kernel no longer has it (ENOENT). An
    /// entry without an original tuple is refused here: a deletion without a tuple would flush
    /// the whole table.
    pub fn delete(&mut self, attrs_bytes: &[u8]) -> Result<bool, DiagError> {
        let tuple = attrs::find(attrs_bytes, CTA_TUPLE_ORIG).ok_or(DiagError::Malformed(
            "a conntrack entry without its original tuple",
        ))?;
        let mut probe = Entry::default();
        if !probe.parse(attrs_bytes) {
            return Err(DiagError::Malformed("a conntrack entry without its tuples"));
        }
        let family = if probe.is_v4() {
            libc::AF_INET
        } else {
            libc::AF_INET6
        };
        let seq = self.request(MSG_DELETE, NLM_F_ACK, family as u8);
        put_attr(&mut self.request, NLA_F_NESTED | CTA_TUPLE_ORIG, tuple);
        if let Some(zone) = attrs::find(attrs_bytes, CTA_ZONE) {
            put_attr(&mut self.request, CTA_ZONE, zone);
        }
        if let Some(id) = attrs::find(attrs_bytes, CTA_ID) {
            put_attr(&mut self.request, CTA_ID, id);
        }
        let len = self.request.len() as u32;
        self.request[..4].copy_from_slice(&len.to_ne_bytes());
        match self.exchange(seq, |_, _| {}) {
            Ok(_) => Ok(true),
            Err(DiagError::Kernel(libc::ENOENT)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Deletes every entry of `family` (AF_INET or AF_INET6).
    pub fn flush(&mut self, family: u8) -> Result<(), DiagError> {
        let seq = self.request(MSG_DELETE, NLM_F_ACK, family);
        self.exchange(seq, |_, _| {})?;
        Ok(())
    }
}

/// Appends one attribute (padded to 4 bytes) to a request.
fn put_attr(out: &mut Vec<u8>, kind: u16, payload: &[u8]) {
    out.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(payload);
    out.resize(out.len().next_multiple_of(4), 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_cpu_statistics_add_up() {
        let mut cpu = Vec::new();
        for (kind, v) in [(2u16, 5u32), (10, 3), (11, 1), (99, 7)] {
            cpu.extend_from_slice(&8u16.to_ne_bytes());
            cpu.extend_from_slice(&kind.to_ne_bytes());
            cpu.extend_from_slice(&v.to_be_bytes());
        }
        let mut s = Stats::default();
        s.add_cpu(&cpu);
        s.add_cpu(&cpu);
        assert_eq!((s.found, s.drop, s.early_drop, s.insert), (10, 6, 2, 0));
    }

    /// A deletion without a tuple would flush the table: it is never sent.
    #[test]
    fn a_deletion_without_a_tuple_is_refused_before_it_is_sent() {
        let mut ct = CtSocket::open().expect("a NETLINK_NETFILTER socket");
        for attrs in [&[][..], &8u16.to_ne_bytes()] {
            assert!(matches!(ct.delete(attrs), Err(DiagError::Malformed(_))));
        }
    }
}
