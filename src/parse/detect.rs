//! placeholder
use super::Format;
use crate::error::{Error, Reason, Result};
pub fn detect(bytes: &[u8], name: Option<&str>) -> Result<Format> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Error::rejected(Reason::Empty, "empty"));
    }
    if bytes.contains(&0) {
        return Err(Error::rejected(Reason::Binary, "binary"));
    }
    if name.is_some_and(|n| n.ends_with(".md")) {
        return Ok(Format::Markdown);
    }
    if name.is_some_and(|n| n.ends_with(".html")) {
        return Ok(Format::Html);
    }
    Ok(Format::Text)
}
