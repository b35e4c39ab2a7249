//! `conntrack events`: the table's events (NEW, UPDATE, DESTROY) as they come, as lines or JSON,
//! until a stop signal; then what was seen, on stderr. The socket and the stop signal's pipe are
//! polled together, so a signal ends the wait at once. Events the kernel dropped because the
//! socket's queue was full are told as they happen (once) and counted in the summary.

use anyhow::Result;
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::filter::CtFilter;
use super::show::{event_row, event_table, json_event};
use super::{ctnetlink, write};
use crate::app::signal;
use crate::diag::DiagError;
use crate::diag::ctnetlink::events::{EventKind, EventSocket};
use crate::report::reporter::say;

/// What `events` was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsConfig {
    pub filter: CtFilter,
    pub json: bool,
    /// The events to subscribe to (conntrack's -e).
    pub kinds: Vec<EventKind>,
    /// The socket's receive queue in bytes (conntrack's -b).
    pub buffer: Option<usize>,
}

/// Counts of what was seen.
#[derive(Debug, Default)]
struct Seen {
    shown: [u64; 3],
    overruns: u64,
}

pub fn events(
    config: &EventsConfig,
    events_on: Option<bool>,
    out: &mut impl std::io::Write,
    text: &mut Vec<u8>,
) -> Result<()> {
    let what = "subscribe to the conntrack events";
    let mut socket =
        EventSocket::open(&config.kinds, config.buffer).map_err(|e| ctnetlink(what, e))?;
    if let (Some(_), Some(size)) = (config.buffer, socket.rcvbuf()) {
        // conntrack -b says so too.
        say(&format!("the socket's receive queue is {size} bytes"));
    }
    if events_on == Some(false) {
        say(
            "nf_conntrack_events is 0 in this namespace: the kernel sends no events until it is set to 1 or 2",
        );
    }
    let mut table = event_table();
    if !config.json {
        table.header(text);
        write(out, text)?;
    }
    let mut seen = Seen::default();
    let ended = watch(
        config,
        &mut socket,
        &mut seen,
        |kind, e, text| {
            if config.json {
                json_event(kind, e, text);
            } else {
                event_row(&mut table, kind, e, text);
            }
        },
        out,
        text,
    );
    summary(&seen, socket.dropped());
    ended
}

/// Reads events until a stop signal, writing each batch as it arrives.
fn watch(
    config: &EventsConfig,
    socket: &mut EventSocket,
    seen: &mut Seen,
    mut row: impl FnMut(EventKind, &crate::diag::ctnetlink::entry::Entry, &mut Vec<u8>),
    out: &mut impl std::io::Write,
    text: &mut Vec<u8>,
) -> Result<()> {
    while !signal::requested() {
        let ready = {
            let mut fds = vec![PollFd::new(
                std::os::fd::AsFd::as_fd(socket),
                PollFlags::POLLIN,
            )];
            if let Some(stop) = signal::wake_fd() {
                fds.push(PollFd::new(stop, PollFlags::POLLIN));
            }
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => {
                    return Err(anyhow::Error::new(e).context("cannot wait for conntrack events"));
                }
            }
            fds[0].revents().is_some_and(|r| !r.is_empty())
        };
        if !ready {
            continue;
        }
        let batch = socket
            .read(|kind, e| {
                if config.filter.matches(e) {
                    seen.shown[kind as usize] += 1;
                    row(kind, e, text);
                }
            })
            .map_err(|e: DiagError| ctnetlink("read the conntrack events", e))?;
        if batch.overruns > 0 && seen.overruns == 0 {
            say(
                "events are being lost: the socket's receive queue overflowed (ENOBUFS); --buffer-size makes it larger",
            );
        }
        seen.overruns += batch.overruns;
        write(out, text)?;
    }
    Ok(())
}

/// One line on stderr: the events shown by kind, then what was lost if the queue overflowed.
fn summary(seen: &Seen, dropped: Option<u64>) {
    let total: u64 = seen.shown.iter().sum();
    let each: Vec<String> = EventKind::ALL
        .iter()
        .map(|k| format!("{} {}", k.name(), seen.shown[*k as usize]))
        .collect();
    say(&format!(
        "{total} conntrack events shown: {}",
        each.join(", ")
    ));
    if seen.overruns > 0 || dropped.is_some_and(|d| d > 0) {
        let lost = dropped.map_or("an unknown number of".to_string(), |d| d.to_string());
        say(&format!(
            "events lost: {lost} (the receive queue overflowed; ENOBUFS {} times)",
            seen.overruns
        ));
    }
}
