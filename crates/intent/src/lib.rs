//! Bearing's intent: the model of what an organisation wants from delivery,
//! typed units, the metric catalog, loading and validation of `bearing.yaml`.

pub mod catalog;
pub mod expr;
pub mod load;
pub mod model;
pub mod units;

pub use load::{Diagnostic, LoadError, Loaded, Severity, load, load_str};
pub use model::*;
pub use units::{Comparator, Duration, Money, Percent, Period, Quantity, Rate, Target, Unit};
