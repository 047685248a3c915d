//! Both C14N methods on any bytes: an error or canonical bytes that are themselves a fixed point.
#![no_main]
use dsig::{C14nMethod, canonicalize};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for method in [
        C14nMethod::Inclusive { with_comments: false },
        C14nMethod::Exclusive { with_comments: true, inclusive_prefixes: Vec::new() },
    ] {
        if let Ok(once) = canonicalize(data, &method) {
            let twice = canonicalize(&once, &method).expect("canonical output must parse");
            assert_eq!(once, twice, "C14N is not idempotent");
        }
    }
});
