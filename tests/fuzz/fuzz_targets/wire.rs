#![no_main]
//! Fuzz target `wire`: see `onewindow_tests::fuzz::wire`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| onewindow_tests::fuzz::wire(data));
