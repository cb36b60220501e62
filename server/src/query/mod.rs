//! Reading metrics back: the query service every caller goes through (with its guards), the
//! PromQL engine, series selection by PromQL selectors, and the loading of what a query needs.

pub mod fetch;
pub mod guard;
pub mod promql;
pub mod series;
pub mod service;

pub use service::{QueryError, QueryLimits, QueryRange, QueryService, RangeError};
