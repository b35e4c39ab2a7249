//! Small reads that are not a socket dump: the pool sysctls, conntrack usage and settings, and
//! the processes that own sockets.

pub mod cgroup;
pub mod conntrack;
pub mod owners;
pub mod pool;
