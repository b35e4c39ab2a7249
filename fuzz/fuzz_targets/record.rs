//! The in-place `inet_diag_msg` view on arbitrary payloads: `Record::new` refuses short ones and
//! every accessor of an accepted one stays inside its bytes.
#![no_main]

use conntrend::api::diag::Record;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(r) = Record::new(data) {
        std::hint::black_box((
            r.family(),
            r.state(),
            r.src_port(),
            r.dst_port(),
            r.src_addr(),
            r.dst_addr(),
            r.uid(),
            r.inode(),
        ));
    }
});
