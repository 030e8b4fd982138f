//! Bearing's events: the canonical model of delivery facts, the records Bearing
//! keeps about its own decisions and plans, and adapters for real formats.

pub mod model;
pub mod records;

pub use model::*;
pub use records::*;
