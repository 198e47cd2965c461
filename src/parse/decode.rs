//! Decoding: bytes in whatever encoding the author's editor used → a Rust `String`.
//!
//! Knowledge sources come from everywhere: old Windows tools write windows-1252 or
//! windows-1251, Notepad writes UTF-16 with a BOM, web servers mislabel pages. The order of
//! trust is always the same: a byte-order mark (it cannot be there by accident), then a
//! declaration inside the content (HTML only), then valid UTF-8 (legacy text is almost never
//! valid UTF-8 by chance), then statistical detection with `chardetng`.
//!
//! Decoding never fails silently: every malformed sequence is counted in
//! [`Decoded::replaced`] and surfaced as a warning by the parsers, and content that decodes
//! to mostly garbage is refused with [`Reason::Encoding`] instead of being indexed as noise.

use crate::error::{Error, Reason, Result};
use chardetng::{EncodingDetector, Iso2022JpDetection, Utf8Detection};
use encoding_rs::{DecoderResult, Encoding, UTF_8};

/// How many bytes [`looks_binary`] inspects: enough to see through any text header, small
/// enough to be free on large files.
const BINARY_SNIFF_LEN: usize = 8 * 1024;

/// How many bytes `chardetng` sees. Its guess stabilises long before this; feeding a whole
/// multi-megabyte file would only cost time.
const DETECT_LEN: usize = 256 * 1024;

/// How far into an HTML document a `<meta charset>` may appear to be honoured.
const META_SCAN_LEN: usize = 2 * 1024;

/// Text decoded from bytes, with what it took to get there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The text, without any byte-order mark.
    pub text: String,
    /// The WHATWG name of the encoding used (`UTF-8`, `windows-1252`, `UTF-16LE`, …).
    pub encoding: &'static str,
    /// How many malformed byte sequences were replaced with U+FFFD.
    pub replaced: usize,
}

impl Decoded {
    /// Warnings for the admin: a non-UTF-8 encoding (so they know why accents look the way
    /// they do, or that detection may have guessed wrong) and any replaced bytes.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.encoding != UTF_8.name() {
            out.push(format!("text is not utf-8: decoded as {}", self.encoding));
        }
        if self.replaced > 0 {
            let noun = if self.replaced == 1 {
                "invalid byte sequence"
            } else {
                "invalid byte sequences"
            };
            out.push(format!(
                "{} {noun} replaced (decoded as {})",
                self.replaced, self.encoding
            ));
        }
        out
    }
}

/// Decodes text content: BOM, else valid UTF-8, else mostly-valid UTF-8, else detection.
///
/// Fails with [`Reason::Binary`] when the bytes are not text at all (see [`looks_binary`]) and
/// with [`Reason::Encoding`] when the best decoding is still mostly replacement or control
/// characters.
pub fn decode_text(bytes: &[u8]) -> Result<Decoded> {
    reject_binary(bytes)?;
    if let Some(decoded) = decode_bom(bytes) {
        return check(decoded);
    }
    check(decode_undeclared(bytes))
}

/// Decodes an HTML document: BOM, else a `<meta charset>` in the first 2 KiB, else as
/// [`decode_text`] does.
///
/// A declaration the bytes contradict (decoding with it produces replacement characters) is
/// checked against detection, and the cleaner result wins: servers and templates routinely
/// declare `utf-8` over Latin-1 content.
pub fn decode_html(bytes: &[u8]) -> Result<Decoded> {
    reject_binary(bytes)?;
    if let Some(decoded) = decode_bom(bytes) {
        return check(decoded);
    }
    if let Some(declared) = meta_charset(bytes) {
        let decoded = decode_with(declared, bytes);
        if decoded.replaced == 0 {
            return check(decoded);
        }
        let detected = decode_undeclared(bytes);
        if detected.replaced < decoded.replaced {
            tracing::debug!(
                declared = declared.name(),
                detected = detected.encoding,
                "html charset declaration contradicted by content; using detection"
            );
            return check(detected);
        }
        return check(decoded);
    }
    check(decode_undeclared(bytes))
}

/// True when `bytes` are binary data rather than text in any ASCII-compatible encoding:
/// there is a NUL byte, or more than one in ten of the first 8 KiB are C0 control
/// characters other than tab, newline, carriage return, form feed and escape (ANSI colour
/// codes in logs are text).
///
/// UTF-16 is full of NUL bytes, so content starting with a UTF-16 BOM is never binary here;
/// whether it decodes is [`decode_text`]'s business.
pub fn looks_binary(bytes: &[u8]) -> bool {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return false;
    }
    let sample = &bytes[..bytes.len().min(BINARY_SNIFF_LEN)];
    if sample.contains(&0) {
        return true;
    }
    let controls = sample
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0C | 0x1B))
        .count();
    controls * 10 > sample.len()
}

fn reject_binary(bytes: &[u8]) -> Result<()> {
    if looks_binary(bytes) {
        return Err(Error::rejected(
            Reason::Binary,
            "content is binary data, not text",
        ));
    }
    Ok(())
}

/// Decodes with the encoding named by a byte-order mark, if there is one.
fn decode_bom(bytes: &[u8]) -> Option<Decoded> {
    let (encoding, bom_len) = Encoding::for_bom(bytes)?;
    Some(decode_with(
        encoding,
        bytes.get(bom_len..).unwrap_or_default(),
    ))
}

/// Decodes content that declares no encoding.
fn decode_undeclared(bytes: &[u8]) -> Decoded {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Decoded {
            text: text.to_owned(),
            encoding: UTF_8.name(),
            replaced: 0,
        };
    }
    if mostly_utf8(bytes) {
        // A UTF-8 file with a stray Latin-1 byte (a pasted fragment, a truncated write) would
        // otherwise be detected as windows-1252 and every accented letter turned to mojibake.
        return decode_with(UTF_8, bytes);
    }
    let mut detector = EncodingDetector::new(Iso2022JpDetection::Deny);
    let sample = &bytes[..bytes.len().min(DETECT_LEN)];
    detector.feed(sample, sample.len() == bytes.len());
    decode_with(detector.guess(None, Utf8Detection::Allow), bytes)
}

/// True when `bytes` are UTF-8 with a few invalid sequences: valid multi-byte characters
/// outnumber invalid sequences at least ten to one. Legacy single-byte text almost never
/// contains valid multi-byte UTF-8 sequences, so it does not pass.
fn mostly_utf8(bytes: &[u8]) -> bool {
    let mut multibyte = 0usize;
    let mut invalid = 0usize;
    for chunk in bytes.utf8_chunks() {
        multibyte += chunk.valid().chars().filter(|c| !c.is_ascii()).count();
        if !chunk.invalid().is_empty() {
            invalid += 1;
        }
    }
    multibyte > 0 && multibyte >= invalid.saturating_mul(10)
}

/// Decodes `bytes` (without BOM) as `encoding`, counting malformed sequences.
fn decode_with(encoding: &'static Encoding, bytes: &[u8]) -> Decoded {
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let mut text = String::new();
    let mut replaced = 0usize;
    let mut rest = bytes;
    loop {
        let needed = decoder
            .max_utf8_buffer_length_without_replacement(rest.len())
            .unwrap_or(rest.len().saturating_mul(3).saturating_add(16));
        text.reserve(needed);
        let (result, read) = decoder.decode_to_string_without_replacement(rest, &mut text, true);
        rest = rest.get(read..).unwrap_or_default();
        match result {
            DecoderResult::InputEmpty => break,
            DecoderResult::OutputFull => continue,
            DecoderResult::Malformed(_, _) => {
                replaced += 1;
                text.push(char::REPLACEMENT_CHARACTER);
            }
        }
    }
    Decoded {
        text,
        encoding: encoding.name(),
        replaced,
    }
}

/// Refuses a decoding that is mostly garbage: more than 2% replacement characters, or more
/// than a tenth control characters (no human-written text has that many; it means the bytes
/// were decoded with the wrong encoding or are not text).
fn check(decoded: Decoded) -> Result<Decoded> {
    let chars = decoded.text.chars().count();
    if decoded.replaced > 0 && decoded.replaced.saturating_mul(50) > chars {
        return Err(Error::rejected(
            Reason::Encoding,
            format!(
                "cannot decode text: {} of {chars} characters are invalid as {}",
                decoded.replaced, decoded.encoding
            ),
        ));
    }
    let controls = decoded
        .text
        .chars()
        .filter(|&c| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\x0c' | '\x1b'))
        .count();
    if controls.saturating_mul(10) > chars {
        return Err(Error::rejected(
            Reason::Encoding,
            format!(
                "cannot decode text: decoded as {} it is mostly control characters",
                decoded.encoding
            ),
        ));
    }
    Ok(decoded)
}

/// The encoding declared by a `<meta charset=…>` or
/// `<meta http-equiv="Content-Type" content="…; charset=…">` in the first 2 KiB.
///
/// Works on raw bytes: every encoding a `<meta>` can usefully declare is ASCII-compatible,
/// so the declaration reads the same whatever the encoding turns out to be. Following the
/// HTML standard, a declared UTF-16 means UTF-8 (ASCII-readable bytes cannot be UTF-16) and
/// `x-user-defined` means windows-1252.
fn meta_charset(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = bytes[..bytes.len().min(META_SCAN_LEN)].to_ascii_lowercase();
    let mut pos = 0;
    while let Some(found) = find(&head[pos..], b"<meta") {
        let start = pos + found + b"<meta".len();
        let end = find(&head[start..], b">").map_or(head.len(), |e| start + e);
        if let Some(encoding) = charset_in_tag(&head[start..end]) {
            return Some(match encoding.name() {
                "UTF-16LE" | "UTF-16BE" => UTF_8,
                "x-user-defined" => encoding_rs::WINDOWS_1252,
                _ => encoding,
            });
        }
        pos = end;
    }
    None
}

/// Finds `charset` followed by `=` inside the attributes of one `<meta>` tag and resolves the
/// label after it (quoted or not).
fn charset_in_tag(tag: &[u8]) -> Option<&'static Encoding> {
    let mut pos = 0;
    while let Some(found) = find(&tag[pos..], b"charset") {
        let mut i = pos + found + b"charset".len();
        pos = i;
        while tag.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        if tag.get(i) != Some(&b'=') {
            continue;
        }
        i += 1;
        while tag
            .get(i)
            .is_some_and(|b| b.is_ascii_whitespace() || matches!(b, b'"' | b'\''))
        {
            i += 1;
        }
        let label_end = tag[i..]
            .iter()
            .position(|b| b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b';' | b'/'))
            .map_or(tag.len(), |e| i + e);
        if let Some(encoding) = Encoding::for_label(&tag[i..label_end]) {
            return Some(encoding);
        }
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(r: Result<Decoded>) -> Reason {
        r.expect_err("expected an error")
            .reason()
            .expect("user fault")
    }

    #[test]
    fn plain_utf8_is_taken_as_is() {
        let d = decode_text("¿Dónde está mi pedido?".as_bytes()).unwrap();
        assert_eq!(d.text, "¿Dónde está mi pedido?");
        assert_eq!(d.encoding, "UTF-8");
        assert_eq!(d.replaced, 0);
        assert!(d.warnings().is_empty());
    }

    #[test]
    fn utf8_bom_is_stripped() {
        let mut bytes = vec![0xEF, 0xBB, 0xBF];
        bytes.extend_from_slice("Envío".as_bytes());
        let d = decode_text(&bytes).unwrap();
        assert_eq!(d.text, "Envío");
        assert_eq!(d.encoding, "UTF-8");
    }

    #[test]
    fn utf16_with_bom_both_endians() {
        let text = "Hola, ¿qué tal?\nПривет";
        let mut le = vec![0xFF, 0xFE];
        let mut be = vec![0xFE, 0xFF];
        for unit in text.encode_utf16() {
            le.extend_from_slice(&unit.to_le_bytes());
            be.extend_from_slice(&unit.to_be_bytes());
        }
        assert!(!looks_binary(&le) && !looks_binary(&be));
        let d = decode_text(&le).unwrap();
        assert_eq!((d.text.as_str(), d.encoding), (text, "UTF-16LE"));
        let d = decode_text(&be).unwrap();
        assert_eq!((d.text.as_str(), d.encoding), (text, "UTF-16BE"));
    }

    #[test]
    fn windows_1252_spanish_is_detected() {
        let (bytes, _, _) = encoding_rs::WINDOWS_1252
            .encode("¿Dónde está mi pedido? Envío rápido a España. Devolución en treinta días.");
        let d = decode_text(&bytes).unwrap();
        assert_eq!(
            d.text,
            "¿Dónde está mi pedido? Envío rápido a España. Devolución en treinta días."
        );
        assert_eq!(d.encoding, "windows-1252");
        assert_eq!(d.replaced, 0);
        assert_eq!(
            d.warnings(),
            vec!["text is not utf-8: decoded as windows-1252"]
        );
    }

    #[test]
    fn windows_1251_russian_is_detected() {
        let text = "Где мой заказ? Доставка по всей России занимает от трёх до пяти дней.";
        let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(text);
        let d = decode_text(&bytes).unwrap();
        assert_eq!(d.text, text);
        assert_eq!(d.encoding, "windows-1251");
    }

    #[test]
    fn stray_byte_in_utf8_is_replaced_not_mojibaked() {
        let mut bytes = "Café crème, très bon, déjà vu, naïve façade, señor, ".repeat(3);
        bytes.push_str("end");
        let mut bytes = bytes.into_bytes();
        bytes.insert(5, 0xE9); // a lone Latin-1 "é"
        let d = decode_text(&bytes).unwrap();
        assert_eq!(d.encoding, "UTF-8");
        assert_eq!(d.replaced, 1);
        assert!(d.text.starts_with("Café\u{FFFD} crème"), "{}", d.text);
        assert_eq!(
            d.warnings(),
            vec!["1 invalid byte sequence replaced (decoded as UTF-8)"]
        );
    }

    #[test]
    fn mostly_invalid_utf16_is_an_encoding_error() {
        // A UTF-16LE BOM followed by unpaired surrogates: nothing decodes.
        let mut bytes = vec![0xFF, 0xFE];
        for _ in 0..50 {
            bytes.extend_from_slice(&0xD800u16.to_le_bytes());
            bytes.extend_from_slice(&u16::from(b'a').to_le_bytes());
        }
        assert_eq!(reason(decode_text(&bytes)), Reason::Encoding);
    }

    #[test]
    fn control_garbage_is_an_encoding_error() {
        // Under the 10% C0 threshold of `looks_binary`, but decoded as windows-1252 the
        // C1-range bytes (0x81, 0x8D, …) are control characters too.
        let mut bytes = Vec::new();
        for i in 0..200u32 {
            bytes.push(if i % 3 == 0 {
                0x81
            } else {
                b'a' + (i % 26) as u8
            });
            if i % 11 == 0 {
                bytes.push(0x01);
            }
        }
        assert!(!looks_binary(&bytes));
        assert_eq!(reason(decode_text(&bytes)), Reason::Encoding);
    }

    #[test]
    fn binary_detection() {
        assert!(looks_binary(b"abc\0def"));
        assert!(looks_binary(&[1, 2, 3, 4, 5, b'a', b'b']));
        assert!(!looks_binary(
            b"line one\r\n\tline two\x0c\x1b[31mred\x1b[0m"
        ));
        assert!(!looks_binary(b""));
        assert_eq!(reason(decode_text(b"PK\x03\x04\0\0")), Reason::Binary);
        assert_eq!(reason(decode_html(b"\0\0\0<html>")), Reason::Binary);
    }

    #[test]
    fn html_meta_charset_is_honoured() {
        let (body, _, _) = encoding_rs::WINDOWS_1252.encode("<p>Envío rápido</p>");
        let mut bytes = b"<html><head><meta charset=\"windows-1252\"></head><body>".to_vec();
        bytes.extend_from_slice(&body);
        let d = decode_html(&bytes).unwrap();
        assert_eq!(d.encoding, "windows-1252");
        assert!(d.text.contains("<p>Envío rápido</p>"));
    }

    #[test]
    fn html_http_equiv_charset_is_honoured() {
        // KOI8-R is something detection would not pick for this short text by itself.
        let (body, _, _) = encoding_rs::KOI8_R.encode("Привет");
        let mut bytes = b"<HTML><HEAD><META HTTP-EQUIV='Content-Type' \
            CONTENT='text/html; charset=KOI8-R'></HEAD><BODY>"
            .to_vec();
        bytes.extend_from_slice(&body);
        let d = decode_html(&bytes).unwrap();
        assert_eq!(d.encoding, "KOI8-R");
        assert!(d.text.ends_with("<BODY>Привет"));
    }

    #[test]
    fn html_false_utf8_declaration_loses_to_detection() {
        let (body, _, _) = encoding_rs::WINDOWS_1252
            .encode("<p>¿Dónde está mi pedido? Envío rápido a España.</p>");
        let mut bytes = b"<meta charset=utf-8>".to_vec();
        bytes.extend_from_slice(&body);
        let d = decode_html(&bytes).unwrap();
        assert_eq!(d.encoding, "windows-1252");
        assert_eq!(d.replaced, 0);
        assert!(d.text.contains("¿Dónde está"));
    }

    #[test]
    fn meta_charset_parsing() {
        assert_eq!(meta_charset(b"<meta charset=utf-8>"), Some(UTF_8));
        assert_eq!(
            meta_charset(b"<meta name=x><meta charset = 'ISO-8859-1' />"),
            Some(encoding_rs::WINDOWS_1252)
        );
        assert_eq!(meta_charset(b"<meta charset=utf-16le>"), Some(UTF_8));
        assert_eq!(meta_charset(b"<meta charset=nonsense>"), None);
        assert_eq!(meta_charset(b"<meta charset="), None);
        assert_eq!(meta_charset(b"<p>charset=utf-8</p>"), None);
        let mut late = vec![b' '; META_SCAN_LEN];
        late.extend_from_slice(b"<meta charset=koi8-r>");
        assert_eq!(meta_charset(&late), None);
    }
}
