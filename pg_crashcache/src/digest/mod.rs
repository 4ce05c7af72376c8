//! Digesting the queue: background workers ([`worker`]) that run batches ([`batch`]), which
//! learn dimension ids ([`dimensions`]) and store typed rows ([`store`]), or JSON for a schema
//! not yet updated ([`legacy`]).

pub mod batch;
pub(crate) mod dimensions;
mod legacy;
pub(crate) mod session;
pub(crate) mod store;
pub mod worker;
