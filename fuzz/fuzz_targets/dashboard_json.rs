#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| server::fuzzing::dashboard_json(data));
