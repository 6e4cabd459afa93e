//! Layer 2: the async adapter for tokio (feature `tokio`).
//!
//! Work in progress: the adapter lands in the following commits.

pub mod proxy;
