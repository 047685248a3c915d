//! The CSV batch reader on any bytes: every row is a record or a list of row errors.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(rows) = pipeline::csv_batch::CsvRows::new(data) {
        for row in rows.take(10_000) {
            if let Err(errors) = row.record {
                assert!(!errors.is_empty());
            }
        }
    }
});
