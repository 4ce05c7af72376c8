//! Digesting the queue: background workers ([`worker`]) that run batches ([`batch`]).

pub mod batch;
pub mod worker;
