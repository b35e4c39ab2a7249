//! conntrend: an exact timeline of the ephemeral port pool and TCP/UDP socket states, folded from
//! netlink sock_diag dumps, and seven modes over the same kernel seam and fold.
//!
//! Data flows one way, and imports point only downward:
//! `cli → modes → app → report → engine → fold → probes → diag → util`
//! (tests/it/architecture.rs keeps it so). The layers are private; what the binary, the
//! integration tests, the benches, the fuzz targets and the fixture recorder use is exported
//! through [`api`], and nothing else.

mod app;
mod cli;
mod diag;
mod engine;
mod fold;
mod modes;
mod probes;
mod report;
mod util;

pub mod api {
    //! Everything used from outside the library, in one place.
    //!
    //! - the binary (src/main.rs): the command line, its lowering and dispatch, the exit status;
    //! - tests, benches and fuzz targets: the kernel seam's records and dump walk, recorded dumps,
    //!   the sampler and its folds, the pool, the conntrack usage reader, rtt's frame parser.

    /// The command line: its clap definition, `--generate`, and the checked [`Action`].
    pub use crate::cli::generate::generate;
    pub use crate::cli::lower::Action;
    pub use crate::cli::{Cli, command};

    /// How a run ends: the exit status, and the message line on stderr.
    pub use crate::app::exit::Exit;
    pub use crate::app::sink::{check_stdout_open, note_stdout_at_startup};
    pub use crate::report::reporter::say;

    /// The kernel seam: records read in place, the dump walk, the socket, recorded dumps.
    pub mod diag {
        pub use crate::diag::procnet::parse_line;
        pub use crate::diag::replay::Answer;
        pub use crate::diag::{
            DiagSocket, Family, Protocol, Protocols, Record, RecordBuf, Replay, walk,
        };
    }

    /// The sampler and the folds of its one pass.
    pub use crate::engine::sampler::Sampler;
    pub use crate::fold::dst::DstTally;
    pub use crate::fold::sample::{Sample, Tally};

    /// Small reads beside the dump.
    pub use crate::probes::conntrack::usage::UsageReader;
    pub use crate::probes::pool::{Pool, PoolReader};

    /// Entering a network namespace (the fixture recorder).
    pub use crate::app::netns::enter as enter_netns;

    /// ctnetlink entries as `conntrack show` parses and writes them (its fuzz target).
    pub mod conntrack {
        pub use crate::diag::ctnetlink::entry::Entry;
        pub use crate::modes::conntrack::show::{json_row, text_row};
    }

    /// `rtt`'s frame parser, for its fuzz target and its cost bench.
    pub mod rtt {
        pub use crate::modes::rtt::packet::{ACK, SYN, Segment, frame};
        pub use crate::modes::rtt::packet::{Link, parse};
        pub use crate::modes::rtt::{Limits, engine::Engine};
    }

    /// `serve`'s request-head parser and its limits, for its fuzz target.
    pub mod serve {
        pub use crate::modes::serve::http::{
            MAX_HEAD, MAX_HEADERS, Refusal, Request, parse_head, read_head,
        };
    }
}
