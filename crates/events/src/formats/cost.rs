//! FOCUS and OpenCost adapters (in progress).

use super::{ParseContext, ParseError, Parsed};

pub(super) fn is_focus_column(c: &str) -> bool {
    matches!(
        c,
        "BilledCost"
            | "EffectiveCost"
            | "ChargePeriodStart"
            | "ChargePeriodEnd"
            | "BillingCurrency"
            | "ListUnitPrice"
            | "ChargeType"
            | "AmortizedCost"
    )
}

pub(super) fn parse_focus(_bytes: &[u8], _ctx: &ParseContext) -> Result<Parsed, ParseError> {
    Err(ParseError::new("this format is not supported yet"))
}

pub(super) fn parse_opencost(_bytes: &[u8], _ctx: &ParseContext) -> Result<Parsed, ParseError> {
    Err(ParseError::new("this format is not supported yet"))
}
