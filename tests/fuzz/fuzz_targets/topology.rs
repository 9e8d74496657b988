#![no_main]
//! Fuzz target `topology`: see `onewindow_tests::fuzz::topology`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| onewindow_tests::fuzz::topology(data));
