//! The netfilter connection table's usage counters and sysctls.

pub mod sysctl;
pub mod usage;
