//! Carrier webhook bodies and signatures are untrusted bytes from the internet: reading and
//! verifying them must refuse anything, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = shipping::webhooks::parse(data);
    let signature = String::from_utf8_lossy(data);
    let _ = shipping::webhooks::verify(b"fuzz-secret", data, &signature);
});
