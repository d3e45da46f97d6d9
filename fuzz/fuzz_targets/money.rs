//! Money arithmetic on arbitrary amounts: exact or refused, never wrapped, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| orders::domain::money::check_arithmetic(data));
