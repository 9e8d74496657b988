#![no_main]
//! Fuzz target `http`: see `onewindow_tests::fuzz::http`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| onewindow_tests::fuzz::http(data));
