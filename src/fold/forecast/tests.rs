//! The fit, the significance rule and the windows, on made-up series with known truth.

use super::*;

/// A small deterministic generator (xorshift64*) for noise: the same numbers every run.
struct Noise(u64);

impl Noise {
    /// Uniform in [-amp, amp].
    fn next(&mut self, amp: f64) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let u = (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64;
        (2.0 * u - 1.0) * amp
    }
}

/// One forecast per sample of `values` (one sample a second) over `window`.
fn forecasts(window: Window, values: impl IntoIterator<Item = f64>) -> Vec<Option<u64>> {
    let mut f = Forecast::new(window);
    values
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            f.columns(1_000_000 + i as u64 * 1000, v.round() as u32, None)
                .exhaust_in_sec
        })
        .collect()
}

#[test]
fn a_flat_noisy_series_gives_no_forecast_in_99_percent_of_rows() {
    // The load the issue saw: free ≈ 3130 ± 10, sampled every second.
    for window in [
        Window::Samples(12),
        Window::Samples(3),
        Window::Time(Duration::from_secs(300)),
    ] {
        let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
        let rows = forecasts(window, (0..5000).map(|_| 3130.0 + noise.next(10.0)));
        let given = rows.iter().filter(|r| r.is_some()).count();
        assert!(
            given * 100 <= rows.len(),
            "{window:?}: {given} of {} rows forecast",
            rows.len()
        );
    }
}

#[test]
fn a_steady_ramp_counts_down_within_ten_percent() {
    // free falls 20 a second from 60000, with ±10 of noise: the truth at second i is
    // (60000 - 20 i) / 20.
    let mut noise = Noise(42);
    let values: Vec<f64> = (0..2900)
        .map(|i| 60000.0 - 20.0 * f64::from(i) + noise.next(10.0))
        .collect();
    for window in [Window::Samples(12), Window::Time(Duration::from_secs(60))] {
        let rows = forecasts(window, values.iter().copied());
        for (i, row) in rows.iter().enumerate().skip(60) {
            let truth = (60000.0 - 20.0 * i as f64) / 20.0;
            let got = row.unwrap_or_else(|| panic!("{window:?}: no forecast at {i}")) as f64;
            assert!(
                (got - truth).abs() <= truth * 0.1,
                "{window:?} at {i}: {got} vs {truth}"
            );
        }
    }
}

#[test]
fn a_step_gives_no_forecast_once_it_has_left_the_window() {
    // Flat at 3130, one step of 1500 new connections at second 100, flat after.
    let mut noise = Noise(7);
    let values: Vec<f64> = (0..300)
        .map(|i| if i < 100 { 3130.0 } else { 1630.0 } + noise.next(10.0))
        .collect();
    let rows = forecasts(Window::Samples(12), values);
    assert!(rows[..100].iter().all(Option::is_none), "before the step");
    let after: Vec<usize> = (112..300).filter(|&i| rows[i].is_some()).collect();
    assert!(
        after.len() <= 2,
        "forecasts after the step settled at {after:?}"
    );
}

#[test]
fn a_time_window_holds_the_samples_of_its_span() {
    let mut s = Series::new(Window::Time(Duration::from_secs(10)));
    for t in 0..100 {
        s.push(f64::from(t), Some(1000.0 - f64::from(t)));
    }
    // Points at 89..=99: those not older than 10 s before the last.
    assert_eq!(s.points.len(), 11);
    assert_eq!(s.exhaust_in_sec(), Some(901));
}

#[test]
fn t_values_fall_with_the_degrees_of_freedom() {
    assert_eq!(t_999(1), 318.309);
    assert_eq!(t_999(11), 4.144);
    assert_eq!(t_999(1000), 3.160);
    assert!(t_999(0) >= t_999(1));
}

#[test]
fn a_known_slope_gives_the_time_to_zero() {
    let mut s = Series::new(Window::Samples(12));
    // free falls 10 per second from 1000: at t=4 it is 960, 96 s to go.
    for t in 0..=4 {
        s.push(f64::from(t), Some(1000.0 - 10.0 * f64::from(t)));
    }
    assert_eq!(s.slope(), Some(-10.0));
    assert_eq!(s.exhaust_in_sec(), Some(96));
}

#[test]
fn noise_is_fitted_and_the_window_slides() {
    let mut s = Series::new(Window::Samples(4));
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
    let mut s = Series::new(Window::Samples(12));
    s.push(0.0, Some(10.0));
    s.push(1.0, Some(9.0));
    assert_eq!(s.exhaust_in_sec(), None, "two points");
    s.push(2.0, Some(8.0));
    assert_eq!(
        s.exhaust_in_sec(),
        None,
        "three whole numbers on a line are not evidence yet"
    );
    s.push(3.0, Some(7.0));
    s.push(4.0, Some(6.0));
    assert_eq!(s.exhaust_in_sec(), Some(6));
    s.push(5.0, None);
    assert_eq!(s.exhaust_in_sec(), None, "a gap restarts the window");
    let mut up = Series::new(Window::Samples(12));
    for t in 0..5 {
        up.push(f64::from(t), Some(f64::from(t)));
    }
    assert_eq!(up.exhaust_in_sec(), None);
    let mut zero = Series::new(Window::Samples(12));
    zero.push(0.0, Some(0.0));
    assert_eq!(zero.exhaust_in_sec(), Some(0));
}
