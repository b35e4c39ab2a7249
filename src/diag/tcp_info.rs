//! A borrowed view of `struct tcp_info` (linux/tcp.h) as the INET_DIAG_INFO attribute carries it.
//! The struct has grown with the kernel; a field past the end of what this kernel sent reads as
//! `None`, never as 0.

/// Byte offsets of the fields conntrend reads (linux/tcp.h; the struct only grows at its end).
mod at {
    pub const STATE: usize = 0;
    pub const RTO: usize = 8;
    pub const SND_MSS: usize = 16;
    pub const UNACKED: usize = 24;
    pub const SACKED: usize = 28;
    pub const LOST: usize = 32;
    pub const RETRANS: usize = 36;
    pub const RTT: usize = 68;
    pub const RTTVAR: usize = 72;
    pub const SND_CWND: usize = 80;
    pub const REORDERING: usize = 88;
    pub const TOTAL_RETRANS: usize = 100;
    pub const PACING_RATE: usize = 104;
    pub const BYTES_RECEIVED: usize = 128;
    pub const NOTSENT_BYTES: usize = 144;
    pub const MIN_RTT: usize = 148;
    pub const DATA_SEGS_IN: usize = 152;
    pub const DATA_SEGS_OUT: usize = 156;
    pub const DELIVERY_RATE: usize = 160;
    pub const BYTES_SENT: usize = 200;
    pub const BYTES_RETRANS: usize = 208;
    pub const RCV_OOOPACK: usize = 224;
    pub const SND_WND: usize = 228;
    pub const RCV_WND: usize = 232;
}

/// One socket's tcp_info, as long as the kernel made it.
#[derive(Clone, Copy)]
pub struct TcpInfo<'a> {
    bytes: &'a [u8],
}

impl<'a> TcpInfo<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        TcpInfo { bytes }
    }

    fn u32(&self, at: usize) -> Option<u32> {
        Some(u32::from_ne_bytes(
            self.bytes.get(at..at + 4)?.try_into().ok()?,
        ))
    }

    fn u64(&self, at: usize) -> Option<u64> {
        Some(u64::from_ne_bytes(
            self.bytes.get(at..at + 8)?.try_into().ok()?,
        ))
    }

    pub fn state(&self) -> Option<u8> {
        self.bytes.get(at::STATE).copied()
    }
    /// Retransmission timeout, µs.
    pub fn rto(&self) -> Option<u32> {
        self.u32(at::RTO)
    }
    pub fn snd_mss(&self) -> Option<u32> {
        self.u32(at::SND_MSS)
    }
    pub fn unacked(&self) -> Option<u32> {
        self.u32(at::UNACKED)
    }
    pub fn sacked(&self) -> Option<u32> {
        self.u32(at::SACKED)
    }
    pub fn lost(&self) -> Option<u32> {
        self.u32(at::LOST)
    }
    /// Segments retransmitted and not yet acknowledged.
    pub fn retrans(&self) -> Option<u32> {
        self.u32(at::RETRANS)
    }
    /// Smoothed round-trip time, µs.
    pub fn rtt(&self) -> Option<u32> {
        self.u32(at::RTT)
    }
    pub fn rttvar(&self) -> Option<u32> {
        self.u32(at::RTTVAR)
    }
    /// Congestion window, segments.
    pub fn snd_cwnd(&self) -> Option<u32> {
        self.u32(at::SND_CWND)
    }
    pub fn reordering(&self) -> Option<u32> {
        self.u32(at::REORDERING)
    }
    /// Segments retransmitted over the connection's life.
    pub fn total_retrans(&self) -> Option<u32> {
        self.u32(at::TOTAL_RETRANS)
    }
    /// Bytes per second.
    pub fn pacing_rate(&self) -> Option<u64> {
        self.u64(at::PACING_RATE)
    }
    pub fn bytes_received(&self) -> Option<u64> {
        self.u64(at::BYTES_RECEIVED)
    }
    pub fn notsent_bytes(&self) -> Option<u32> {
        self.u32(at::NOTSENT_BYTES)
    }
    pub fn min_rtt(&self) -> Option<u32> {
        self.u32(at::MIN_RTT)
    }
    pub fn data_segs_in(&self) -> Option<u32> {
        self.u32(at::DATA_SEGS_IN)
    }
    /// Data segments sent, retransmissions included.
    pub fn data_segs_out(&self) -> Option<u32> {
        self.u32(at::DATA_SEGS_OUT)
    }
    /// Bytes per second.
    pub fn delivery_rate(&self) -> Option<u64> {
        self.u64(at::DELIVERY_RATE)
    }
    /// Data bytes sent, retransmissions included.
    pub fn bytes_sent(&self) -> Option<u64> {
        self.u64(at::BYTES_SENT)
    }
    pub fn bytes_retrans(&self) -> Option<u64> {
        self.u64(at::BYTES_RETRANS)
    }
    /// Out-of-order packets received.
    pub fn rcv_ooopack(&self) -> Option<u32> {
        self.u32(at::RCV_OOOPACK)
    }
    /// The peer's advertised window, bytes.
    pub fn snd_wnd(&self) -> Option<u32> {
        self.u32(at::SND_WND)
    }
    /// Our advertised window, bytes.
    pub fn rcv_wnd(&self) -> Option<u32> {
        self.u32(at::RCV_WND)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_past_the_end_are_none() {
        let mut b = vec![0u8; 232];
        b[at::RTT..at::RTT + 4].copy_from_slice(&1234u32.to_ne_bytes());
        b[at::BYTES_SENT..at::BYTES_SENT + 8].copy_from_slice(&(1u64 << 40).to_ne_bytes());
        b[at::SND_WND..at::SND_WND + 4].copy_from_slice(&65535u32.to_ne_bytes());
        let info = TcpInfo::new(&b);
        assert_eq!(info.rtt(), Some(1234));
        assert_eq!(info.bytes_sent(), Some(1 << 40));
        assert_eq!(info.snd_wnd(), Some(65535));
        assert_eq!(
            info.rcv_wnd(),
            None,
            "a 5.4-era tcp_info ends at tcpi_snd_wnd"
        );
        let old = TcpInfo::new(&b[..104]);
        assert_eq!(old.total_retrans(), Some(0));
        assert_eq!(old.pacing_rate(), None);
        assert_eq!(TcpInfo::new(&[]).state(), None);
    }
}
