//! One folder per subcommand: its settings and its `run`. A mode never imports the command line
//! or a sibling mode; what two modes share lives in `app` or below.

pub mod conns;
pub mod conntrack;
pub mod plot;
pub mod rtt;
pub mod serve;
pub mod states;
pub mod timeline;
pub mod top;
