//! WebSocket extensions (RFC 6455 §9).
//!
//! One is implemented: [`deflate`], permessage-deflate (RFC 7692), behind the feature
//! `deflate`.

pub mod deflate;
