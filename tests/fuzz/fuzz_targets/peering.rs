#![no_main]
//! Fuzz target `peering`: see `onewindow_tests::fuzz::peering`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| onewindow_tests::fuzz::peering(data));
