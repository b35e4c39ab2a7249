//! The netfilter connection table's usage counters and sysctls.

pub mod grout;
pub mod sysctl;
pub mod usage;
