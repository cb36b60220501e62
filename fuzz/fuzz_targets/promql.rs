#![no_main]
libfuzzer_sys::fuzz_target!(init: server::fuzzing::init(), |data: &[u8]| server::fuzzing::promql_query(data));
