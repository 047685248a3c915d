//! The audit-log verifier on any text: an answer (holds together, or the first bad line) and no
//! panic, whatever a tampered export holds. A log that verifies names a line count it really has.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match pipeline::audit::verify_export(text, None) {
        Ok(verified) => assert!(verified.entries <= text.lines().count() as u64),
        // An empty text is refused at its (missing) first line.
        Err(broken) => assert!(broken.line <= text.lines().count().max(1)),
    }
});
