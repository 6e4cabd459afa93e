//! wsprobe: diagnose WebSocket endpoints and test WebSocket implementations, built on rfc6455.
//!
//! - [`doctor`]: connect to a URL step by step and explain what went wrong and how to fix it.
//! - `cases`: the conformance cases (RFC 6455 and RFC 7692), usable from a project's own tests.
pub mod doctor;
