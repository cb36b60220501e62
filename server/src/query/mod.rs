//! Reading metrics back: the PromQL engine, and series selection by PromQL selectors.

pub mod promql;
pub mod series;
