//! `--forecast[=N|DURATION]`: seconds until `free` (and with `--dst`, `worst_dst_free`) reaches
//! 0, at the rate a least-squares line fits through a window of samples: the last N, or those of
//! the last DURATION (as PromQL's `predict_linear(free[5m], …)`).
//!
//! A forecast is only given when the decline is significant: the fitted slope must be negative
//! and further from 0 than its standard error times Student's t at 99.9 % (one-sided, n − 2
//! degrees of freedom). Noise around a flat level therefore gives no forecast (about 1 row in
//! 1000 by chance, for noise that is not itself a trend), while a steady ramp does as soon as
//! the window holds three samples. A step
//! gives a forecast only while the step is inside the window. Nothing is forecast from fewer than
//! three samples; as the values are whole numbers, their scatter is taken as at least what
//! rounding leaves (1/12), so a clean ramp of one port a second needs five samples.

use std::collections::VecDeque;
use std::time::Duration;

/// How many samples a forecast is fitted over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// The last N samples (at least 3).
    Samples(usize),
    /// The samples of this long, up to the latest (at least 3 of them).
    Time(Duration),
}

impl From<usize> for Window {
    fn from(n: usize) -> Self {
        Window::Samples(n)
    }
}

/// A time window keeps at most this many samples (the oldest go first): a long window over a
/// fast scrape stays bounded.
const MAX_POINTS: usize = 4096;

/// The last samples of one series: (seconds, value).
#[derive(Debug, Clone)]
pub struct Series {
    window: Window,
    points: VecDeque<(f64, f64)>,
}

impl Series {
    pub fn new(window: Window) -> Self {
        let window = match window {
            Window::Samples(n) => Window::Samples(n.clamp(3, MAX_POINTS)),
            w => w,
        };
        Series {
            window,
            points: VecDeque::new(),
        }
    }

    /// Adds a point (a sample without the value leaves a gap: the window restarts).
    pub fn push(&mut self, t: f64, value: Option<f64>) {
        let Some(v) = value else {
            self.points.clear();
            return;
        };
        self.points.push_back((t, v));
        let keep = match self.window {
            Window::Samples(n) => n,
            Window::Time(_) => MAX_POINTS,
        };
        while self.points.len() > keep {
            self.points.pop_front();
        }
        if let Window::Time(span) = self.window {
            let from = t - span.as_secs_f64();
            while self.points.front().is_some_and(|&(t0, _)| t0 < from) {
                self.points.pop_front();
            }
        }
    }

    /// The least-squares fit of the window: (slope per second, its standard error); `None`
    /// below three points or when all points share one time.
    pub fn fit(&self) -> Option<(f64, f64)> {
        let n = self.points.len();
        if n < 3 {
            return None;
        }
        let (t0, _) = self.points[0];
        let nf = n as f64;
        let mean_t = self.points.iter().map(|&(t, _)| t - t0).sum::<f64>() / nf;
        let mean_v = self.points.iter().map(|&(_, v)| v).sum::<f64>() / nf;
        let (mut sxy, mut sxx) = (0.0, 0.0);
        for &(t, v) in &self.points {
            let dt = t - t0 - mean_t;
            sxy += dt * (v - mean_v);
            sxx += dt * dt;
        }
        if sxx <= 0.0 {
            return None;
        }
        let slope = sxy / sxx;
        let ssr: f64 = self
            .points
            .iter()
            .map(|&(t, v)| {
                let r = v - (mean_v + slope * (t - t0 - mean_t));
                r * r
            })
            .sum();
        // The values are whole numbers: rounding alone leaves 1/12 of variance, so a few points
        // that happen to fall on a line are not taken for a fit without error.
        let var = (ssr / (nf - 2.0)).max(1.0 / 12.0);
        let se = (var / sxx).sqrt();
        Some((slope, se))
    }

    /// The least-squares slope of the window, per second.
    #[cfg(test)]
    pub fn slope(&self) -> Option<f64> {
        self.fit().map(|(slope, _)| slope)
    }

    /// Seconds until the value reaches 0 at the fitted rate, from the last point's value; `None`
    /// when it is not falling significantly (0 when it is already at 0).
    pub fn exhaust_in_sec(&self) -> Option<u64> {
        let &(_, last) = self.points.back()?;
        if last <= 0.0 {
            return Some(0);
        }
        let (slope, se) = self.fit()?;
        let df = self.points.len() - 2;
        (slope < 0.0 && -slope > t_999(df) * se).then(|| (last / -slope).round() as u64)
    }
}

/// Student's t at 99.9 % (one-sided) for `df` degrees of freedom; between table rows the next
/// smaller df's value (the more cautious one).
fn t_999(df: usize) -> f64 {
    const TABLE: [(usize, f64); 19] = [
        (1, 318.309),
        (2, 22.327),
        (3, 10.215),
        (4, 7.173),
        (5, 5.893),
        (6, 5.208),
        (7, 4.785),
        (8, 4.501),
        (9, 4.297),
        (10, 4.144),
        (12, 3.930),
        (15, 3.733),
        (20, 3.552),
        (25, 3.450),
        (30, 3.385),
        (40, 3.307),
        (60, 3.232),
        (120, 3.160),
        (usize::MAX, 3.090),
    ];
    TABLE
        .iter()
        .rev()
        .find(|&&(d, _)| d <= df)
        .map_or(TABLE[0].1, |&(_, t)| t)
}

/// The `--forecast` columns: seconds until `free` (and `worst_dst_free`) reach 0 at the fitted
/// rate; `None` without enough samples or when not falling significantly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ForecastColumns {
    pub exhaust_in_sec: Option<u64>,
    pub dst_exhaust_in_sec: Option<u64>,
}

/// Both series of a run.
#[derive(Debug, Clone)]
pub struct Forecast {
    free: Series,
    dst_free: Series,
}

impl Forecast {
    pub fn new(window: Window) -> Self {
        Forecast {
            free: Series::new(window),
            dst_free: Series::new(window),
        }
    }

    /// Adds a sample's free ports and (`dst`: when the run has `--dst`) its busiest
    /// destination's free ports, and gives its forecast columns.
    pub fn columns(
        &mut self,
        epoch_ms: u64,
        free: u32,
        dst: Option<Option<u32>>,
    ) -> ForecastColumns {
        let t = epoch_ms as f64 / 1000.0;
        self.free.push(t, Some(free.into()));
        self.dst_free.push(t, dst.flatten().map(f64::from));
        ForecastColumns {
            exhaust_in_sec: self.free.exhaust_in_sec(),
            dst_exhaust_in_sec: dst.and(self.dst_free.exhaust_in_sec()),
        }
    }
}

#[cfg(test)]
mod tests;
