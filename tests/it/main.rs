//! conntrend's one integration-test crate: it runs the real binary, mostly inside private network
//! namespaces the tests create, and checks every column against a socket mix it built itself.

mod alloc;
mod architecture;
mod bpf;
mod cli;
mod columns;
mod conns;
mod conntrack;
mod deploy;
mod dst;
mod fixtures;
mod generate;
mod netns;
mod owners;
mod plot;
mod recipes;
mod reliability;
mod rtt;
mod serve;
mod source;
mod states;
mod stream;
mod top;
mod util;
