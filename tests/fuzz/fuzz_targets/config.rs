#![no_main]
//! Fuzz target `config`: see `onewindow_tests::fuzz::config`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| onewindow_tests::fuzz::config(data));
