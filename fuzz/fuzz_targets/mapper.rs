//! The demo mapping (with its jq expressions) on any JSON record, and any bytes as a mapping
//! document: read, checked and compiled always; applied when it has no jq of its own (a jq
//! program may loop forever by design: in the service the host's request timeout bounds it).
#![no_main]
use std::time::SystemTime;

use pipeline::mapping::Mapping;

thread_local! {
    // A compiled mapping holds jq programs (reference-counted, not `Sync`): one per thread.
    static DEMO: Mapping =
        Mapping::from_json(include_bytes!("../../components/pipeline/demo/mapping.json")).expect("demo mapping");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| DEMO.with(|demo| {
    if let Ok(record) = pipeline::json::parse(data) {
        if let Ok(mapped) = demo.apply(&record, SystemTime::UNIX_EPOCH) {
            assert!(ivi::Ivi::from_xml(mapped.xml.as_bytes()).is_ok(), "mapped XML does not read back");
        }
    }
    if let Ok(mapping) = Mapping::from_json(data)
        && !mapping.has_expressions()
    {
        let _ = mapping.apply(&serde_json::json!({"vin": "WEX1M1AB2C3456789", "a": [1, {"b": "c"}]}), SystemTime::UNIX_EPOCH);
    }
}));
