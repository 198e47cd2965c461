//! DOCX (stub).
use super::{Document, Format, ParseOptions, Parser};
use crate::error::Result;

pub struct DocxParser;

impl Parser for DocxParser {
    fn format(&self) -> Format {
        Format::Docx
    }
    fn parse(&self, _bytes: &[u8], _opts: &ParseOptions) -> Result<Document> {
        Ok(Document::default())
    }
}
