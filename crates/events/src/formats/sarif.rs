//! sarif adapter (in progress).

use super::{ParseContext, ParseError, Parsed};

pub(super) fn parse(_bytes: &[u8], _ctx: &ParseContext) -> Result<Parsed, ParseError> {
    Err(ParseError::new("this format is not supported yet"))
}
