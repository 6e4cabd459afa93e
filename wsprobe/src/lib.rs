//! wsprobe: diagnose WebSocket endpoints and test WebSocket implementations, built on rfc6455.
//!
//! - [`doctor`]: connect to a URL step by step and explain what went wrong and how to fix it.
//! - [`cases`]: the conformance cases (RFC 6455 and RFC 7692), usable from a project's own
//!   tests: [`server::run`] plays them against a server URL, [`client::serve`] against the
//!   clients that connect to a listener.
//!
//! ```no_run
//! // In a project's test, against its own server on 127.0.0.1:9001:
//! let report = wsprobe::server::run("ws://127.0.0.1:9001/", &Default::default()).unwrap();
//! assert_eq!(report.problems().count(), 0, "{}", report.summary());
//! ```

pub mod cases;
pub mod client;
pub mod doctor;
pub mod report;
pub mod server;
