//! conntrend: an exact timeline of the ephemeral port pool and TCP/UDP socket states, folded from
//! netlink sock_diag dumps, and seven modes over the same kernel seam and fold.
//!
//! Data flows one way, and imports point only downward:
//! `main → cli → modes → app → report → engine → fold → probes → diag → util`
//! (tests/it/architecture.rs keeps it so).

pub mod app;
pub mod cli;
pub mod diag;
pub mod engine;
pub mod fold;
pub mod modes;
pub mod probes;
pub mod report;
pub mod util;
