//! Running peaks and minima over the samples of a run, written once as the trailer.

use crate::fold::dst::Dst;
use crate::fold::sample::Sample;

/// The trailer's fields (the schema says which a run writes). `None` where no sample measured
/// the value.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub start_ms: u64,
    pub end_ms: u64,
    pub elapsed_sec: u64,
    pub samples: u64,
    pub peak_used: Option<u32>,
    pub peak_time_wait: Option<u32>,
    pub min_free: Option<u32>,
    pub min_total_port: Option<u32>,
    pub max_total_port: Option<u32>,
    /// `--dst`: the largest `worst_dst_used` and its destination.
    pub peak_dst_used: Option<u32>,
    pub peak_dst: Option<Dst>,
    /// `--conntrack`: the largest `ct_used`, and the drops over the run.
    pub peak_ct_used: Option<u64>,
    pub ct_drops: Option<u64>,
    /// `--alert`: how many alerts started.
    pub alerts: Option<u64>,
}

fn max(a: Option<u32>, b: Option<u32>) -> Option<u32> {
    a.max(b)
}

fn min(a: Option<u32>, b: Option<u32>) -> Option<u32> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl Summary {
    pub fn new(start_ms: u64) -> Self {
        Summary {
            start_ms,
            end_ms: start_ms,
            ..Summary::default()
        }
    }

    pub fn observe(&mut self, s: &Sample) {
        self.samples += 1;
        self.peak_used = max(self.peak_used, Some(s.used));
        self.peak_time_wait = max(self.peak_time_wait, s.time_wait);
        self.min_free = min(self.min_free, Some(s.free));
        self.min_total_port = min(self.min_total_port, Some(s.total_port));
        self.max_total_port = max(self.max_total_port, Some(s.total_port));
        if let Some(worst) = s.dst
            && worst.worst_dst_used > self.peak_dst_used
        {
            self.peak_dst_used = worst.worst_dst_used;
            self.peak_dst = worst.worst_dst;
        }
        if let Some(ct) = s.ct {
            self.peak_ct_used = self.peak_ct_used.max(ct.used);
            if let Some(d) = ct.drops {
                self.ct_drops = Some(self.ct_drops.unwrap_or(0) + d);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(total: u32, used: u32, tw: Option<u32>) -> Sample {
        Sample {
            epoch_ms: 0,
            total_port: total,
            used,
            free: total - used,
            udp_used: None,
            tcp_used: None,
            time_wait: tw,
            estab: None,
            syn: None,
            close_wait: None,
            last_ack: None,
            fin_wait: None,
            dst: None,
            ct: None,
            forecast: None,
            owners: None,
            detail: Default::default(),
        }
    }

    #[test]
    fn tracks_peaks_and_minima() {
        let mut s = Summary::new(10);
        s.observe(&sample(100, 10, Some(3)));
        s.observe(&sample(80, 30, Some(1)));
        s.observe(&sample(120, 20, Some(2)));
        assert_eq!(s.samples, 3);
        assert_eq!(s.peak_used, Some(30));
        assert_eq!(s.peak_time_wait, Some(3));
        assert_eq!(s.min_free, Some(50));
        assert_eq!((s.min_total_port, s.max_total_port), (Some(80), Some(120)));
    }

    #[test]
    fn peak_destination_is_the_one_of_the_busiest_sample() {
        use crate::fold::dst::{Dst, WorstDst};
        use std::net::Ipv4Addr;
        let worst = |ip: [u8; 4], used| WorstDst {
            worst_dst: Some(Dst::from((Ipv4Addr::from(ip), 443))),
            worst_dst_used: Some(used),
            worst_dst_free: Some(100 - used),
            min_free: Some(100 - used),
            ..WorstDst::default()
        };
        let mut s = Summary::new(0);
        for (ip, used) in [([10, 0, 0, 1], 5), ([10, 0, 0, 2], 9), ([10, 0, 0, 1], 7)] {
            let mut x = sample(100, used, None);
            x.dst = Some(worst(ip, used));
            s.observe(&x);
        }
        assert_eq!(s.peak_dst_used, Some(9));
        assert_eq!(s.peak_dst.unwrap().to_string(), "10.0.0.2:443");
        // A sample with no destination leaves the peak alone.
        let mut none = sample(100, 1, None);
        none.dst = Some(WorstDst::default());
        s.observe(&none);
        assert_eq!(s.peak_dst_used, Some(9));
    }

    #[test]
    fn unmeasured_stays_none() {
        let mut s = Summary::new(0);
        assert_eq!(s.peak_used, None);
        s.observe(&sample(10, 1, None));
        assert_eq!(s.peak_time_wait, None);
        assert_eq!(s.peak_used, Some(1));
    }
}
