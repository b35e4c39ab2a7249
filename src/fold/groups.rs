//! The optional column groups a run asks for (`--dst`, `--conntrack`, `--forecast`, …): which
//! folds a sample carries, and so which columns the schema (report::schema) writes.

/// A set of columns that a flag adds (or that every run has).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// The columns every run has.
    Base,
    /// `--time iso`: the sample time as ISO-8601 UTC beside `epoch_ms`.
    Time,
    /// `--dst`: the busiest destination.
    Dst,
    /// `--conntrack`: the netfilter connection tracking table's usage.
    Conntrack,
    /// `--forecast`: time until the pool runs out.
    Forecast,
    /// `--forecast` with `--dst`: time until the busiest destination runs out.
    ForecastDst,
    /// `--alert`: how many alerts started.
    Alert,
    /// `--owners`: who holds the pool's ports.
    Owners,
}

impl Group {
    pub const ALL: [Group; 8] = [
        Group::Base,
        Group::Time,
        Group::Dst,
        Group::Conntrack,
        Group::Forecast,
        Group::ForecastDst,
        Group::Alert,
        Group::Owners,
    ];

    /// The flag that adds the group; `None` for the base columns.
    pub fn flag(self) -> Option<&'static str> {
        match self {
            Group::Base => None,
            Group::Time => Some("--time iso"),
            Group::Dst => Some("--dst"),
            Group::Conntrack => Some("--conntrack"),
            Group::Forecast => Some("--forecast"),
            Group::ForecastDst => Some("--forecast with --dst"),
            Group::Alert => Some("--alert"),
            Group::Owners => Some("--owners"),
        }
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// The groups a run writes. The base columns are always in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Groups(u8);

impl Default for Groups {
    fn default() -> Self {
        Groups(Group::Base.bit())
    }
}

impl Groups {
    /// This set and `group`.
    pub fn with(self, group: Group) -> Groups {
        Groups(self.0 | group.bit())
    }

    /// This set and `group` when `on`.
    pub fn with_if(self, group: Group, on: bool) -> Groups {
        if on { self.with(group) } else { self }
    }

    pub fn contains(self, group: Group) -> bool {
        self.0 & group.bit() != 0
    }
}
