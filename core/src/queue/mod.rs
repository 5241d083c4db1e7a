//! The persistent change queue: local changes replayed to the server in order.

pub mod plan;
pub mod replay;
