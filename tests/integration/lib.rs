//! Nothing here: this package exists for its tests and examples (see Cargo.toml). The tests are
//! the files beside this one; the examples are the root's `examples/wss.rs` and `examples/h2/`.
