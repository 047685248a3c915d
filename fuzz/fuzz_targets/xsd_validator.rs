//! The XSD validator (UK profile schema, embedded, so no file is needed) on any bytes.
#![no_main]
use std::sync::OnceLock;

static CHECKER: OnceLock<ivi::profile::ProfileValidator> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let checker = CHECKER.get_or_init(|| {
        ivi::profile::ProfileValidator::from_sources(ivi::Profile::Uk, None).expect("UK schema compiles")
    });
    let _ = checker.check(data);
});
