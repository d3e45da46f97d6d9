//! The payments domain. Pure: no I/O, no protobuf.

pub mod risk;
