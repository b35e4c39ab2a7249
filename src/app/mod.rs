//! What the modes share: the settings vocabulary, the session (stop signal → namespace →
//! sampler), the one rounds loop, output opening and the process's exit codes.

pub mod exit;
pub mod netns;
pub mod rounds;
pub mod schedule;
pub mod session;
pub mod settings;
pub mod signal;
pub mod sink;
