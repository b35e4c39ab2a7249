//! One ctnetlink entry (nested CTA_* attributes) parsed in place (`diag::ctnetlink::Entry`), then
//! written as `conntrack show` writes it, as text and as JSON: any bytes give an entry or a
//! refusal, never a panic, and every row written from an entry is valid UTF-8 (the JSON row
//! parses).
#![no_main]

use conntrend::api::conntrack::{Entry, json_row, text_row};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut entry = Entry::default();
    if !entry.parse(data) {
        return;
    }
    let (mut text, mut scratch, mut json) = (Vec::new(), Vec::new(), Vec::new());
    text_row(&entry, &mut text, &mut scratch);
    json_row(&entry, &mut json);
    assert!(std::str::from_utf8(&text).is_ok());
    let json = std::str::from_utf8(&json).expect("JSON row is UTF-8");
    let _: serde_json::Value = serde_json::from_str(json.trim_end()).expect("JSON row parses");
    std::hint::black_box(entry.state());
});
