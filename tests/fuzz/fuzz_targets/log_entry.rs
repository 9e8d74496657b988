#![no_main]
//! Fuzz target `log_entry`: see `onewindow_tests::fuzz::log_entry`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| onewindow_tests::fuzz::log_entry(data));
