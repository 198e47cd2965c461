//! placeholder
use super::*;
pub struct MarkdownParser;
impl Parser for MarkdownParser {
    fn format(&self) -> Format {
        Format::Text
    }
    fn parse(&self, bytes: &[u8]) -> Result<Document> {
        let text = decode::decode_text(bytes)?.text;
        let blocks = text
            .split("\n\n")
            .filter(|p| !p.trim().is_empty())
            .map(|p| Block {
                heading_path: vec![],
                text: normalize_ws(p),
                kind: BlockKind::Paragraph,
                location: Location::default(),
            })
            .collect();
        Document {
            blocks,
            ..Default::default()
        }
        .non_empty("file")
    }
}
