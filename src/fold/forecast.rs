//! `--forecast[=N]`: seconds until `free` (and with `--dst`, `worst_dst_free`) reaches 0, at the
//! rate a least-squares line fits through the last N samples. Nothing is forecast from fewer than
//! three samples, or when the fitted rate is not falling.

use std::collections::VecDeque;

/// The last samples of one series: (seconds, value).
#[derive(Debug, Clone, Default)]
pub struct Series {
    window: usize,
    points: VecDeque<(f64, f64)>,
}

impl Series {
    pub fn new(window: usize) -> Self {
        Series {
            window: window.max(3),
            points: VecDeque::with_capacity(window.max(3)),
        }
    }

    /// Adds a point (a sample without the value leaves a gap: the window restarts).
    pub fn push(&mut self, t: f64, value: Option<f64>) {
        let Some(v) = value else {
            self.points.clear();
            return;
        };
        if self.points.len() == self.window {
            self.points.pop_front();
        }
        self.points.push_back((t, v));
    }

    /// The least-squares slope of the window, per second; `None` below three points.
    pub fn slope(&self) -> Option<f64> {
        let n = self.points.len();
        if n < 3 {
            return None;
        }
        let (t0, _) = self.points[0];
        let nf = n as f64;
        let mean_t = self.points.iter().map(|&(t, _)| t - t0).sum::<f64>() / nf;
        let mean_v = self.points.iter().map(|&(_, v)| v).sum::<f64>() / nf;
        let (mut cov, mut var) = (0.0, 0.0);
        for &(t, v) in &self.points {
            let dt = t - t0 - mean_t;
            cov += dt * (v - mean_v);
            var += dt * dt;
        }
        (var > 0.0).then(|| cov / var)
    }

    /// Seconds until the value reaches 0 at the fitted rate, from the last point's value; `None`
    /// when it is not falling (or already at 0: then 0).
    pub fn exhaust_in_sec(&self) -> Option<u64> {
        let &(_, last) = self.points.back()?;
        if last <= 0.0 {
            return Some(0);
        }
        let slope = self.slope()?;
        (slope < 0.0).then(|| (last / -slope).round() as u64)
    }
}

/// The `--forecast` columns: seconds until `free` (and `worst_dst_free`) reach 0 at the fitted
/// rate; `None` without enough samples or when not falling.
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
    pub fn new(window: usize) -> Self {
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
mod tests {
    use super::*;

    #[test]
    fn a_known_slope_gives_the_time_to_zero() {
        let mut s = Series::new(12);
        // free falls 10 per second from 1000: at t=4 it is 960, 96 s to go.
        for t in 0..=4 {
            s.push(f64::from(t), Some(1000.0 - 10.0 * f64::from(t)));
        }
        assert_eq!(s.slope(), Some(-10.0));
        assert_eq!(s.exhaust_in_sec(), Some(96));
    }

    #[test]
    fn noise_is_fitted_and_the_window_slides() {
        let mut s = Series::new(4);
        // Points on v = 500 - 5t with ±1 alternating noise: the fit still finds -5 closely.
        for t in 0..40 {
            let noise = if t % 2 == 0 { 1.0 } else { -1.0 };
            s.push(f64::from(t), Some(500.0 - 5.0 * f64::from(t) + noise));
        }
        let slope = s.slope().unwrap();
        assert!((slope + 5.0).abs() < 0.7, "{slope}");
        // Only the last 4 points count: a flat tail means no forecast.
        for t in 40..44 {
            s.push(f64::from(t), Some(300.0));
        }
        assert_eq!(s.exhaust_in_sec(), None);
    }

    #[test]
    fn too_few_points_rising_values_and_gaps() {
        let mut s = Series::new(12);
        s.push(0.0, Some(10.0));
        s.push(1.0, Some(9.0));
        assert_eq!(s.exhaust_in_sec(), None, "two points");
        s.push(2.0, Some(8.0));
        assert_eq!(s.exhaust_in_sec(), Some(8));
        s.push(3.0, None);
        assert_eq!(s.exhaust_in_sec(), None, "a gap restarts the window");
        let mut up = Series::new(12);
        for t in 0..5 {
            up.push(f64::from(t), Some(f64::from(t)));
        }
        assert_eq!(up.exhaust_in_sec(), None);
        let mut zero = Series::new(12);
        zero.push(0.0, Some(0.0));
        assert_eq!(zero.exhaust_in_sec(), Some(0));
    }
}
