//! Idle overhead: `conntrend -i 1 -d N` on ~1k sockets, CPU time over wall time, run
//! `--idle-runs` times one after the other on the same load.

use std::io;
use std::thread;
use std::time::{Duration, Instant};

use crate::load::Load;
use crate::measure::Launcher;
use crate::report::mb;

/// One idle run.
pub struct Idle {
    pub secs: u64,
    pub wall: Duration,
    pub cpu: Duration,
    pub maxrss_kib: u64,
}

impl Idle {
    pub fn percent(&self) -> f64 {
        100.0 * self.cpu.as_secs_f64() / self.wall.as_secs_f64()
    }

    pub fn line(&self) -> String {
        format!(
            "Idle: `conntrend -i 1 -d {}` on ~1k sockets: {:.3} s CPU in {:.1} s = {:.3}% of one core, peak RSS {:.2} MB",
            self.secs,
            self.cpu.as_secs_f64(),
            self.wall.as_secs_f64(),
            self.percent(),
            mb(self.maxrss_kib)
        )
    }
}

/// `runs` runs of `conntrend -i 1 -d secs` on `load` (~1k sockets), started by `launcher`;
/// TIME_WAIT is topped up every 30 s meanwhile, so the load stays between ~1k and ~2k sockets.
pub fn measure(
    conntrend: &str,
    secs: u64,
    runs: usize,
    load: &mut Load,
    launcher: &mut Launcher,
) -> io::Result<Vec<Idle>> {
    let d = secs.to_string();
    let argv = [conntrend, "-i", "1", "-d", &d, "-o", "/dev/null"];
    let mut next_top_up = Instant::now() + Duration::from_secs(30);
    let mut idles = Vec::new();
    for run in 1..=runs {
        eprintln!("idle {run}/{runs}: conntrend -i 1 -d {secs} on ~1k sockets…");
        // The launcher waits for conntrend on a thread of this namespace; this one tops up.
        let usage = thread::scope(|scope| {
            let measured = scope.spawn(|| launcher.run(&argv, false));
            while !measured.is_finished() {
                if Instant::now() >= next_top_up {
                    load.add_time_wait(load.plan.time_wait)?;
                    next_top_up += Duration::from_secs(30);
                }
                thread::sleep(Duration::from_millis(100));
            }
            measured.join().expect("launcher thread panicked")
        })?
        .0;
        idles.push(Idle {
            secs,
            wall: usage.wall,
            cpu: usage.cpu,
            maxrss_kib: usage.maxrss_kib,
        });
    }
    Ok(idles)
}
