pub mod clock;
pub mod header;
