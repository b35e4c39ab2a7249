//! The sampler thread: it owns the sampler in the sampled namespace, answers each scrape with a
//! sample rendered in both formats (shared while younger than `--min-interval`), and checks the
//! alerts on every sample taken.

use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::app::rounds;
use crate::app::schedule::now_ms;
use crate::app::session::Session;
use crate::diag::Protocols;
use crate::engine::extras::Extras;
use crate::report::alert::{self, Alerts};
use crate::report::metrics::{self, Extra};
use crate::report::reporter::Reporter;

use super::ServeConfig;

/// One sample's metrics in both formats.
pub(super) struct Rendered {
    pub(super) openmetrics: String,
    pub(super) text: String,
}

pub(super) type Reply = Result<Arc<Rendered>, String>;

/// Owns the sampler in the sampled namespace and answers scrapes, one sample per
/// `min_interval` at most.
pub(super) fn sampler_thread(
    config: &ServeConfig,
    requests: Receiver<SyncSender<Reply>>,
    ready: SyncSender<Result<(), String>>,
    alert_stop: &Mutex<Option<String>>,
) {
    let session = Session::start_with(
        config.netns.as_deref(),
        &config.source,
        Protocols::ALL,
        true,
    );
    let Session { mut sampler, .. } = match session {
        Ok(s) => {
            let _ = ready.send(Ok(()));
            s
        }
        Err(e) => {
            let _ = ready.send(Err(format!("{e:#}")));
            return;
        }
    };
    let reporter = Reporter::new(false);
    let mut extras = Extras::for_groups(config.groups())
        .with_dst_top(config.dst_top)
        .with_forecast(config.forecast);
    let mut alerts = Alerts::new(config.alerts.clone());
    let mut cache: Option<(Instant, Arc<Rendered>)> = None;
    let (mut samples, mut errors, mut ct_drops) = (0u64, 0u64, None::<u64>);
    for reply in requests {
        if let Some((at, r)) = &cache
            && at.elapsed() < config.min_interval
        {
            let _ = reply.send(Ok(r.clone()));
            continue;
        }
        let started = Instant::now();
        let taken = rounds::take(&mut sampler, &reporter, |s| s.take(now_ms(), &mut extras));
        let mut sample = match taken {
            Ok(s) => s,
            Err(e) => {
                errors += 1;
                let _ = reply.send(Err(format!("{e:#}")));
                continue;
            }
        };
        extras.finish(sampler.pool(), &mut sample);
        if let Some(note) = extras.take_note() {
            reporter.warn(&note);
        }
        samples += 1;
        if let Some(d) = sample.ct.and_then(|c| c.drops) {
            ct_drops = Some(ct_drops.unwrap_or(0) + d);
        }
        for change in alerts.check(&sample) {
            reporter.warn(&alert::describe(&change, sample.epoch_ms));
            if let alert::Change::Started { expr, .. } = change
                && config.exit_on_alert
                && let Ok(mut stop) = alert_stop.lock()
            {
                stop.get_or_insert(expr);
            }
        }
        let openmetrics = metrics::render(
            &sample,
            &Extra {
                destinations: &sample.detail.destinations,
                min_free: Extra::min_free_of(&sample),
                ct_drops_total: sample.ct.map(|_| ct_drops.unwrap_or(0)),
                sample_seconds: Some(started.elapsed().as_secs_f64()),
                scrape_errors: Some(errors),
                samples: Some(samples),
                alerts: &alerts.list,
            },
        );
        let rendered = Arc::new(Rendered {
            text: metrics::text_format(&openmetrics),
            openmetrics,
        });
        cache = Some((Instant::now(), rendered.clone()));
        let _ = reply.send(Ok(rendered));
    }
}
