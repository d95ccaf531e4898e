#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| scheme_host_fuzz::xml_error::check(data));
