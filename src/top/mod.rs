//! `conntrend top`: placeholder while the report is built.

use anyhow::{Result, bail};

use crate::config::TopConfig;

pub fn run(_config: &TopConfig) -> Result<()> {
    bail!("conntrend top is not implemented yet")
}
