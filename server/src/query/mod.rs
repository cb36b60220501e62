//! Reading metrics back: series selection by PromQL selectors (the PromQL engine will live
//! beside it).

pub mod series;
