#![no_main]
//! Thin wrapper: the body is `rfc6455::fuzz::utf8` (feature `__fuzz`).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rfc6455::fuzz::utf8(data));
