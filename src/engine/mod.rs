//! The sampler: one kernel dump folded into a row, plus the extras a row may carry.

pub mod extras;
pub mod owners;
pub mod sampler;
