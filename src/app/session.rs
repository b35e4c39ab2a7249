//! The one setup path every mode shares: the stop signal first (so a signal during setup is not
//! lost), then the network namespace, then the sampler with its netlink socket opened inside it.
//! Modes bring their own visitors to the sampler's pass; nothing here knows about them.

use std::path::Path;

use anyhow::Result;

use crate::app::netns;
use crate::app::settings::Sources;
use crate::app::signal;
use crate::diag::{Protocols, Source};
use crate::engine::sampler::Sampler;

pub struct Session {
    pub sampler: Sampler<Source>,
    /// The namespace sampled as the header names it, when not the caller's own.
    pub netns: Option<String>,
}

impl Session {
    /// Sets up a run in the namespace at `netns` (or our own) sampling `protocols` from
    /// `source`.
    pub fn start(netns: Option<&Path>, source: &Sources, protocols: Protocols) -> Result<Session> {
        Session::start_with(netns, source, protocols, true)
    }

    /// The setup of a mode without a sampler (`conntrack`, `rtt`): the stop signal first, then
    /// the namespace at `netns` (or our own).
    pub fn enter(netns: Option<&Path>) -> Result<()> {
        signal::install()?;
        if let Some(path) = netns {
            netns::enter(path)?;
        }
        Ok(())
    }

    /// As [`Session::start`]; `needs_pool` false for modes that never look at the port pool.
    pub fn start_with(
        netns: Option<&Path>,
        source: &Sources,
        protocols: Protocols,
        needs_pool: bool,
    ) -> Result<Session> {
        Session::enter(netns)?;
        let root = source.proc_root.as_deref();
        let sampler = Sampler::from_choice(&source.choice, root, protocols, needs_pool)?;
        Ok(Session {
            sampler,
            netns: netns.map(|p| p.display().to_string()),
        })
    }
}
