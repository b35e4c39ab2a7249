//! The tables themselves: every column and summary field in output order. A new column group adds
//! its rows here (with its `Group`) and its values to the sample or summary.

use super::{Field, Group, Value};
use crate::fold::sample::Sample;
use crate::report::summary::Summary;

/// Every column a sample can carry, in output order.
pub static COLUMNS: &[Field<Sample>] = &[
    Field {
        name: "epoch_ms",
        group: Group::Base,
        meaning: "time of the sample, ms since the Unix epoch",
        get: |s| s.epoch_ms.into(),
    },
    Field {
        name: "time",
        group: Group::Time,
        meaning: "the same time as ISO-8601 UTC",
        get: |s| Value::Iso(s.epoch_ms),
    },
    Field {
        name: "total_port",
        group: Group::Base,
        meaning: "ports in the pool: ip_local_port_range minus reserved ports",
        get: |s| s.total_port.into(),
    },
    Field {
        name: "used",
        group: Group::Base,
        meaning: "distinct pool ports held by TCP or UDP sockets",
        get: |s| s.used.into(),
    },
    Field {
        name: "free",
        group: Group::Base,
        meaning: "total_port - used",
        get: |s| s.free.into(),
    },
    Field {
        name: "udp_used",
        group: Group::Base,
        meaning: "distinct pool ports held by UDP sockets",
        get: |s| s.udp_used.into(),
    },
    Field {
        name: "tcp_used",
        group: Group::Base,
        meaning: "distinct pool ports held by TCP sockets, any state",
        get: |s| s.tcp_used.into(),
    },
    Field {
        name: "time_wait",
        group: Group::Base,
        meaning: "TCP sockets in TIME_WAIT",
        get: |s| s.time_wait.into(),
    },
    Field {
        name: "estab",
        group: Group::Base,
        meaning: "TCP sockets in ESTABLISHED",
        get: |s| s.estab.into(),
    },
    Field {
        name: "syn",
        group: Group::Base,
        meaning: "TCP sockets in SYN_SENT or SYN_RECV",
        get: |s| s.syn.into(),
    },
    Field {
        name: "close_wait",
        group: Group::Base,
        meaning: "TCP sockets in CLOSE_WAIT",
        get: |s| s.close_wait.into(),
    },
    Field {
        name: "last_ack",
        group: Group::Base,
        meaning: "TCP sockets in LAST_ACK",
        get: |s| s.last_ack.into(),
    },
    Field {
        name: "fin_wait",
        group: Group::Base,
        meaning: "TCP sockets in FIN_WAIT1 or FIN_WAIT2",
        get: |s| s.fin_wait.into(),
    },
    Field {
        name: "worst_dst",
        group: Group::Dst,
        meaning: "the destination toward which the most pool ports are used",
        get: |s| s.dst.and_then(|d| d.worst_dst).into(),
    },
    Field {
        name: "worst_dst_used",
        group: Group::Dst,
        meaning: "distinct pool ports used toward it",
        get: |s| s.dst.and_then(|d| d.worst_dst_used).into(),
    },
    Field {
        name: "worst_dst_free",
        group: Group::Dst,
        meaning: "pool ports still usable toward it",
        get: |s| s.dst.and_then(|d| d.worst_dst_free).into(),
    },
    Field {
        name: "ct_used",
        group: Group::Conntrack,
        meaning: "entries in the conntrack table of the namespace",
        get: |s| s.ct.and_then(|c| c.used).into(),
    },
    Field {
        name: "ct_max",
        group: Group::Conntrack,
        meaning: "the table's limit, nf_conntrack_max (the host's, shared by every namespace)",
        get: |s| s.ct.and_then(|c| c.max).into(),
    },
    Field {
        name: "ct_drops",
        group: Group::Conntrack,
        meaning: "packets dropped because the table was full (drop + early_drop) since the previous sample",
        get: |s| s.ct.and_then(|c| c.drops).into(),
    },
    Field {
        name: "exhaust_in_sec",
        group: Group::Forecast,
        meaning: "seconds until free reaches 0 at the rate fitted over the last samples; empty when not falling",
        get: |s| s.forecast.and_then(|f| f.exhaust_in_sec).into(),
    },
    Field {
        name: "dst_exhaust_in_sec",
        group: Group::ForecastDst,
        meaning: "the same for worst_dst_free",
        get: |s| s.forecast.and_then(|f| f.dst_exhaust_in_sec).into(),
    },
    Field {
        name: "owner",
        group: Group::Owners,
        meaning: "the process holding the most pool ports, now and last known (comm[pid])",
        get: |s| s.owners.and_then(|o| o.owner).into(),
    },
    Field {
        name: "owner_ports",
        group: Group::Owners,
        meaning: "its pool ports: its sockets' now, and its closed ones' last known",
        get: |s| s.owners.and_then(|o| o.owner_ports).into(),
    },
    Field {
        name: "owner_last_known",
        group: Group::Owners,
        meaning: "of those, ports of ownerless sockets (TIME_WAIT...) it was seen owning",
        get: |s| s.owners.and_then(|o| o.owner_last_known).into(),
    },
    Field {
        name: "unattributed_ports",
        group: Group::Owners,
        meaning: "pool ports held only by ownerless sockets no owner is remembered for",
        get: |s| s.owners.map(|o| o.unattributed_ports).into(),
    },
    Field {
        name: "likely",
        group: Group::Owners,
        meaning: "who holds or lately held connections where most unattributed ones go",
        get: |s| s.owners.and_then(|o| o.likely).into(),
    },
];

/// Every summary field, in output order.
pub static SUMMARY: &[Field<Summary>] = &[
    Field {
        name: "start_ms",
        group: Group::Base,
        meaning: "start of the run, ms since the Unix epoch",
        get: |s| s.start_ms.into(),
    },
    Field {
        name: "end_ms",
        group: Group::Base,
        meaning: "end of the run",
        get: |s| s.end_ms.into(),
    },
    Field {
        name: "elapsed_sec",
        group: Group::Base,
        meaning: "run time, whole seconds",
        get: |s| s.elapsed_sec.into(),
    },
    Field {
        name: "samples",
        group: Group::Base,
        meaning: "data lines written",
        get: |s| s.samples.into(),
    },
    Field {
        name: "peak_used",
        group: Group::Base,
        meaning: "largest used",
        get: |s| s.peak_used.into(),
    },
    Field {
        name: "peak_time_wait",
        group: Group::Base,
        meaning: "largest time_wait",
        get: |s| s.peak_time_wait.into(),
    },
    Field {
        name: "min_free",
        group: Group::Base,
        meaning: "smallest free",
        get: |s| s.min_free.into(),
    },
    Field {
        name: "min_total_port",
        group: Group::Base,
        meaning: "smallest pool size",
        get: |s| s.min_total_port.into(),
    },
    Field {
        name: "max_total_port",
        group: Group::Base,
        meaning: "largest pool size",
        get: |s| s.max_total_port.into(),
    },
    Field {
        name: "peak_dst_used",
        group: Group::Dst,
        meaning: "largest worst_dst_used",
        get: |s| s.peak_dst_used.into(),
    },
    Field {
        name: "peak_dst",
        group: Group::Dst,
        meaning: "its destination",
        get: |s| s.peak_dst.into(),
    },
    Field {
        name: "peak_ct_used",
        group: Group::Conntrack,
        meaning: "largest ct_used",
        get: |s| s.peak_ct_used.into(),
    },
    Field {
        name: "ct_drops",
        group: Group::Conntrack,
        meaning: "packets dropped because the table was full, over the run",
        get: |s| s.ct_drops.into(),
    },
    Field {
        name: "alerts",
        group: Group::Alert,
        meaning: "how many times an --alert started to hold",
        get: |s| s.alerts.into(),
    },
];
