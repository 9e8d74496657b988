#![no_main]
//! Fuzz target `catalogue`: see `onewindow_tests::fuzz::catalogue`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| onewindow_tests::fuzz::catalogue(data));
