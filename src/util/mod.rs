//! Small helpers with no knowledge of the domain: hashing, number/address text, time text.

pub mod fs;
pub mod hash;
pub mod prefix;
pub mod text;
pub mod time;
