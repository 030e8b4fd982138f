//! Bearing's events: the canonical model of delivery facts, the records Bearing
//! keeps about its own decisions and plans, and adapters for real formats.

mod event_de;
pub mod formats;
pub mod model;
pub mod records;
pub mod timestamp;

pub use formats::{
    Format, InfracostProject, InfracostSummary, JsonlReader, ParseContext, ParseError, Parsed,
    RecordRef, Skipped, detect, github, infracost_summary, parse, parse_report,
};
pub use model::*;
pub use records::*;
