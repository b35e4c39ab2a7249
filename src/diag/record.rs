//! A borrowed, zero-copy view of one `struct inet_diag_msg` (linux/inet_diag.h), read at fixed
//! offsets in place, and of the attributes that follow it (tcp_info, the congestion control name,
//! memory): no allocation, no copying.

/// Size of the fixed `inet_diag_msg` header.
pub const RECORD_LEN: usize = 72;

// Offsets inside inet_diag_msg.
const FAMILY: usize = 0;
const STATE: usize = 1;
const TIMER: usize = 2;
const SPORT: usize = 4; // big-endian
const DPORT: usize = 6; // big-endian
const SRC: usize = 8; // 16 bytes; IPv4 uses the first 4
const DST: usize = 24;
const EXPIRES: usize = 52; // host order, ms
const RQUEUE: usize = 56;
const WQUEUE: usize = 60;
const UID: usize = 64; // host order
const INODE: usize = 68; // host order

/// One socket as the kernel reported it. Construct with [`Record::new`], which checks the length.
#[derive(Clone, Copy)]
pub struct Record<'a> {
    bytes: &'a [u8; RECORD_LEN],
    /// The netlink attributes after the header (empty for records not from netlink).
    attrs: &'a [u8],
}

impl<'a> Record<'a> {
    /// A view of `payload` (the netlink message's payload), or `None` if it is too short.
    pub fn new(payload: &'a [u8]) -> Option<Self> {
        let bytes = payload.get(..RECORD_LEN)?.try_into().ok()?;
        let attrs = &payload[RECORD_LEN..];
        Some(Record { bytes, attrs })
    }

    /// `AF_INET` or `AF_INET6`.
    pub fn family(&self) -> u8 {
        self.bytes[FAMILY]
    }

    /// The TCP state number (see [`super::tcp_state`]); UDP uses CLOSE (unconnected) and
    /// ESTABLISHED (connected).
    pub fn state(&self) -> u8 {
        self.bytes[STATE]
    }

    /// Local port.
    pub fn src_port(&self) -> u16 {
        u16::from_be_bytes([self.bytes[SPORT], self.bytes[SPORT + 1]])
    }

    /// Remote port (0 when unconnected).
    pub fn dst_port(&self) -> u16 {
        u16::from_be_bytes([self.bytes[DPORT], self.bytes[DPORT + 1]])
    }

    /// Local address bytes: 4 meaningful bytes for IPv4, 16 for IPv6.
    pub fn src_addr(&self) -> &'a [u8] {
        &self.bytes[SRC..SRC + self.addr_len()]
    }

    /// Remote address bytes: 4 meaningful bytes for IPv4, 16 for IPv6.
    pub fn dst_addr(&self) -> &'a [u8] {
        &self.bytes[DST..DST + self.addr_len()]
    }

    /// Owner's uid.
    pub fn uid(&self) -> u32 {
        self.u32_at(UID)
    }

    /// Socket inode; 0 for TIME_WAIT and request sockets, which no process owns.
    pub fn inode(&self) -> u32 {
        self.u32_at(INODE)
    }

    /// `idiag_timer`: 0 none, 1 retransmit, 2 keepalive, 3 TIME_WAIT, 4 zero-window probe.
    pub fn timer(&self) -> u8 {
        self.bytes[TIMER]
    }

    /// Milliseconds until the timer fires.
    pub fn expires(&self) -> u32 {
        self.u32_at(EXPIRES)
    }

    /// `idiag_rqueue`: bytes received but not read (a listener: connections waiting for accept).
    pub fn rqueue(&self) -> u32 {
        self.u32_at(RQUEUE)
    }

    /// `idiag_wqueue`: bytes written but not acknowledged (a listener: its backlog).
    pub fn wqueue(&self) -> u32 {
        self.u32_at(WQUEUE)
    }

    /// The payload of the first attribute of type `kind` (`INET_DIAG_INFO`…), if the kernel sent
    /// one. A malformed attribute ends the search.
    pub fn attr(&self, kind: u16) -> Option<&'a [u8]> {
        super::attrs::find(self.attrs, kind)
    }

    /// The cgroup v2 id of a full socket (`INET_DIAG_CGROUP_ID`, Linux ≥ 5.7; not sent for
    /// TIME_WAIT and request sockets).
    pub fn cgroup_id(&self) -> Option<u64> {
        let raw = self.attr(super::attr::CGROUP_ID)?;
        Some(u64::from_ne_bytes(raw.get(..8)?.try_into().ok()?))
    }

    fn u32_at(&self, at: usize) -> u32 {
        u32::from_ne_bytes(self.bytes[at..at + 4].try_into().unwrap())
    }

    fn addr_len(&self) -> usize {
        if self.family() == libc::AF_INET as u8 {
            4
        } else {
            16
        }
    }
}

/// A record built field by field, for sources other than netlink (/proc/net) and for tests. One
/// buffer is reused for every socket: no allocation.
#[derive(Clone)]
pub struct RecordBuf {
    bytes: [u8; RECORD_LEN],
}

impl Default for RecordBuf {
    fn default() -> Self {
        RecordBuf {
            bytes: [0; RECORD_LEN],
        }
    }
}

impl RecordBuf {
    /// Clears every field and sets the family (`AF_INET`/`AF_INET6`) and state.
    pub fn reset(&mut self, family: u8, state: u8) -> &mut Self {
        self.bytes = [0; RECORD_LEN];
        self.bytes[FAMILY] = family;
        self.bytes[STATE] = state;
        self
    }

    pub fn ports(&mut self, src: u16, dst: u16) -> &mut Self {
        self.bytes[SPORT..SPORT + 2].copy_from_slice(&src.to_be_bytes());
        self.bytes[DPORT..DPORT + 2].copy_from_slice(&dst.to_be_bytes());
        self
    }

    /// Local and remote address bytes in network order (4 for IPv4, 16 for IPv6).
    pub fn addrs(&mut self, src: &[u8], dst: &[u8]) -> &mut Self {
        self.bytes[SRC..SRC + src.len()].copy_from_slice(src);
        self.bytes[DST..DST + dst.len()].copy_from_slice(dst);
        self
    }

    pub fn owner(&mut self, uid: u32, inode: u32) -> &mut Self {
        self.bytes[UID..UID + 4].copy_from_slice(&uid.to_ne_bytes());
        self.bytes[INODE..INODE + 4].copy_from_slice(&inode.to_ne_bytes());
        self
    }

    /// Timer, milliseconds to expiry, and the receive and send queues.
    pub fn queues(&mut self, timer: u8, expires: u32, rqueue: u32, wqueue: u32) -> &mut Self {
        self.bytes[TIMER] = timer;
        self.bytes[EXPIRES..EXPIRES + 4].copy_from_slice(&expires.to_ne_bytes());
        self.bytes[RQUEUE..RQUEUE + 4].copy_from_slice(&rqueue.to_ne_bytes());
        self.bytes[WQUEUE..WQUEUE + 4].copy_from_slice(&wqueue.to_ne_bytes());
        self
    }

    pub fn record(&self) -> Record<'_> {
        Record {
            bytes: &self.bytes,
            attrs: &[],
        }
    }
}

/// The raw bytes of a record, for unit tests: an IPv4 or IPv6 socket (by the peer's address
/// family) in `state`, local port `sport`, peer `peer`:`dport`, local address unspecified.
#[cfg(test)]
pub fn raw_record(
    state: u8,
    sport: u16,
    peer: impl Into<std::net::IpAddr>,
    dport: u16,
) -> [u8; RECORD_LEN] {
    let mut b = RecordBuf::default();
    match peer.into() {
        std::net::IpAddr::V4(a) => b
            .reset(libc::AF_INET as u8, state)
            .addrs(&[0; 4], &a.octets()),
        std::net::IpAddr::V6(a) => b
            .reset(libc::AF_INET6 as u8, state)
            .addrs(&[0; 16], &a.octets()),
    };
    b.ports(sport, dport);
    b.bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_at_their_offsets() {
        let mut raw = [0u8; RECORD_LEN + 8];
        raw[FAMILY] = libc::AF_INET as u8;
        raw[STATE] = 6;
        raw[SPORT..SPORT + 2].copy_from_slice(&40001u16.to_be_bytes());
        raw[DPORT..DPORT + 2].copy_from_slice(&443u16.to_be_bytes());
        raw[SRC..SRC + 4].copy_from_slice(&[127, 0, 0, 1]);
        raw[DST..DST + 4].copy_from_slice(&[10, 1, 2, 3]);
        raw[UID..UID + 4].copy_from_slice(&1000u32.to_ne_bytes());
        raw[INODE..INODE + 4].copy_from_slice(&777u32.to_ne_bytes());
        let r = Record::new(&raw).unwrap();
        assert_eq!(r.state(), 6);
        assert_eq!(r.src_port(), 40001);
        assert_eq!(r.dst_port(), 443);
        assert_eq!(r.src_addr(), &[127, 0, 0, 1]);
        assert_eq!(r.dst_addr(), &[10, 1, 2, 3]);
        assert_eq!(r.uid(), 1000);
        assert_eq!(r.inode(), 777);
    }

    #[test]
    fn finds_attributes_after_the_header() {
        let mut raw = vec![0u8; RECORD_LEN];
        // type 8 (SHUTDOWN), 1 byte, padded; then type 4 (CONG) "cubic\0".
        raw.extend_from_slice(&5u16.to_ne_bytes());
        raw.extend_from_slice(&8u16.to_ne_bytes());
        raw.extend_from_slice(&[3, 0, 0, 0]);
        raw.extend_from_slice(&10u16.to_ne_bytes());
        raw.extend_from_slice(&4u16.to_ne_bytes());
        raw.extend_from_slice(b"cubic\0\0\0");
        let r = Record::new(&raw).unwrap();
        assert_eq!(r.attr(8), Some(&[3u8][..]));
        assert_eq!(r.attr(4), Some(&b"cubic\0"[..]));
        assert_eq!(r.attr(2), None);
        // A length running past the end is not trusted.
        raw[RECORD_LEN] = 200;
        assert_eq!(Record::new(&raw).unwrap().attr(4), None);
    }

    #[test]
    fn rejects_short_payloads() {
        assert!(Record::new(&[0u8; RECORD_LEN - 1]).is_none());
    }
}
