//! Trivy and Grype adapters (in progress).

use super::{ParseContext, ParseError, Parsed};

pub(super) fn parse_trivy(_bytes: &[u8], _ctx: &ParseContext) -> Result<Parsed, ParseError> {
    Err(ParseError::new("this format is not supported yet"))
}

pub(super) fn parse_grype(_bytes: &[u8], _ctx: &ParseContext) -> Result<Parsed, ParseError> {
    Err(ParseError::new("this format is not supported yet"))
}
