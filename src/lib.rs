//! conntrend: an exact timeline of the ephemeral port pool and TCP/UDP socket states, folded from
//! netlink sock_diag dumps. Data flows one way: flags → config → (kernel seam) → fold → writer.

pub mod alert;
pub mod cli;
pub mod config;
pub mod conns;
pub mod conntrack;
pub mod diag;
pub mod dst;
pub mod fold;
pub mod forecast;
pub mod generate;
pub mod hash;
pub mod metrics;
pub mod netns;
pub mod output;
pub mod plot;
pub mod pool;
pub mod reporter;
pub mod rtt;
pub mod run;
pub mod sample;
pub mod sampler;
pub mod schedule;
pub mod schema;
pub mod serve;
pub mod session;
pub mod signal;
pub mod sink;
pub mod states;
pub mod summary;
pub mod text;
pub mod top;
