//! Everything about saying what was measured: the column schema, the writers behind one trait,
//! the Prometheus metrics, the run's summary, alerts and the stderr reporter.

pub mod alert;
pub mod metrics;
pub mod output;
pub mod reporter;
pub mod schema;
pub mod summary;
