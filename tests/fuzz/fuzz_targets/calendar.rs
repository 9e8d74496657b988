#![no_main]
//! Fuzz target `calendar`: see `onewindow_tests::fuzz::calendar`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| onewindow_tests::fuzz::calendar(data));
