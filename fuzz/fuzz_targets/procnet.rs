//! One /proc/net/{tcp,tcp6,udp,udp6} line parsed in place (`diag::procnet::parse_line`): any
//! bytes give a record or an error, never a panic; every field of a record is readable.
#![no_main]

use conntrend::api::diag::RecordBuf;
use conntrend::api::diag::parse_line;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&v6, line)) = data.split_first() else {
        return;
    };
    let mut rec = RecordBuf::default();
    if parse_line(line, v6 & 1 == 1, &mut rec).is_ok() {
        let r = rec.record();
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
