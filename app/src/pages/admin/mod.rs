//! The administration pages under Settings: users and tokens, and the audit log.

pub mod audit;
pub mod users;
