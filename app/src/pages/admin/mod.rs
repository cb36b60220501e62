//! The administration pages under Settings: users, teams, folder grants and tokens, and the audit log.

pub mod audit;
pub mod teams;
pub mod users;
