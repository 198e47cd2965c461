//! placeholder until the parse helper's version lands
use crate::error::Result;
pub struct Decoded {
    pub text: String,
    pub encoding: &'static str,
    pub replaced: usize,
}
pub fn decode_text(bytes: &[u8]) -> Result<Decoded> {
    Ok(Decoded {
        text: String::from_utf8_lossy(bytes).into_owned(),
        encoding: "UTF-8",
        replaced: 0,
    })
}
