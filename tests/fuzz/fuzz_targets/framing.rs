#![no_main]
//! Fuzz target `framing`: see `onewindow_tests::fuzz::framing`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| onewindow_tests::fuzz::framing(data));
