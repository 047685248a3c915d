//! The bounded IVI reader and the model on any bytes: an error, never a panic or a hang.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(doc) = ivi::xml::parse(data) {
        // What was read writes and reads back.
        let text = ivi::xml::write(&doc.root);
        assert!(ivi::xml::parse(text.as_bytes()).is_ok(), "written XML does not read back");
        let _ = ivi::Ivi::from_element(&doc.root);
    }
});
