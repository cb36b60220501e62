//! Reading metrics back: the PromQL engine, series selection by PromQL selectors, and the
//! loading of what a query needs from PostgreSQL.

pub mod fetch;
pub mod promql;
pub mod series;
