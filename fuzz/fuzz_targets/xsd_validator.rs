//! The XSD validator (UK profile schema, embedded, so no file is needed) on any bytes.
#![no_main]

thread_local! {
    // The compiled schema is not `Sync`; libFuzzer runs the target on one thread.
    static CHECKER: ivi::profile::ProfileValidator =
        ivi::profile::ProfileValidator::from_sources(ivi::Profile::Uk, None).expect("UK schema compiles");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    CHECKER.with(|checker| {
        let _ = checker.check(data);
    });
});
