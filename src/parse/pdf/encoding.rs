//! Character encodings of simple PDF fonts and text strings, and glyph names → Unicode.
//!
//! A simple font maps a one-byte code to a glyph *name* (through a base encoding plus a
//! `/Differences` array); the name then says which character it is. The tables here hold the
//! four base encodings PDF defines and a compact glyph list: the names real fonts use (Latin
//! letters with accents, punctuation, ligatures, Greek and common math), not all of Adobe's
//! 4,500. Names outside it are still understood when they follow the `uniXXXX` / `uXXXX`
//! conventions, carry a variant suffix (`a.sc`), or join components with `_` (`f_f_i`).

use std::collections::HashMap;
use std::sync::OnceLock;

/// The base encodings a simple font can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseEncoding {
    Standard,
    WinAnsi,
    MacRoman,
    PdfDoc,
}

impl BaseEncoding {
    /// The encoding called `name` in an `/Encoding` or `/BaseEncoding` entry.
    pub fn from_name(name: &[u8]) -> Option<Self> {
        match name {
            b"StandardEncoding" => Some(BaseEncoding::Standard),
            b"WinAnsiEncoding" => Some(BaseEncoding::WinAnsi),
            b"MacRomanEncoding" | b"MacExpertEncoding" => Some(BaseEncoding::MacRoman),
            b"PDFDocEncoding" => Some(BaseEncoding::PdfDoc),
            _ => None,
        }
    }

    /// The character of `code`, if the encoding defines one.
    pub fn char(self, code: u8) -> Option<char> {
        let table = match self {
            BaseEncoding::Standard => standard(),
            BaseEncoding::WinAnsi => win_ansi(),
            BaseEncoding::MacRoman => mac_roman(),
            BaseEncoding::PdfDoc => pdf_doc(),
        };
        table[code as usize]
    }
}

type Table = [Option<char>; 256];

/// ASCII printable characters, the common ground of every base encoding.
fn ascii() -> Table {
    let mut t = [None; 256];
    for c in 0x20u8..0x7F {
        t[c as usize] = Some(c as char);
    }
    t
}

/// Adobe StandardEncoding: ASCII with curly quotes at 0x27/0x60 and its own upper half.
fn standard() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| {
        let mut t = ascii();
        t[0x27] = Some('\u{2019}');
        t[0x60] = Some('\u{2018}');
        const UPPER: &[(u8, char)] = &[
            (0xA1, '¡'),
            (0xA2, '¢'),
            (0xA3, '£'),
            (0xA4, '⁄'),
            (0xA5, '¥'),
            (0xA6, 'ƒ'),
            (0xA7, '§'),
            (0xA8, '¤'),
            (0xA9, '\''),
            (0xAA, '“'),
            (0xAB, '«'),
            (0xAC, '‹'),
            (0xAD, '›'),
            (0xAE, 'ﬁ'),
            (0xAF, 'ﬂ'),
            (0xB1, '–'),
            (0xB2, '†'),
            (0xB3, '‡'),
            (0xB4, '·'),
            (0xB6, '¶'),
            (0xB7, '•'),
            (0xB8, '‚'),
            (0xB9, '„'),
            (0xBA, '”'),
            (0xBB, '»'),
            (0xBC, '…'),
            (0xBD, '‰'),
            (0xBF, '¿'),
            (0xC1, '`'),
            (0xC2, '´'),
            (0xC3, 'ˆ'),
            (0xC4, '˜'),
            (0xC5, '¯'),
            (0xC6, '˘'),
            (0xC7, '˙'),
            (0xC8, '¨'),
            (0xCA, '˚'),
            (0xCB, '¸'),
            (0xCD, '˝'),
            (0xCE, '˛'),
            (0xCF, 'ˇ'),
            (0xD0, '—'),
            (0xE1, 'Æ'),
            (0xE3, 'ª'),
            (0xE8, 'Ł'),
            (0xE9, 'Ø'),
            (0xEA, 'Œ'),
            (0xEB, 'º'),
            (0xF1, 'æ'),
            (0xF5, 'ı'),
            (0xF8, 'ł'),
            (0xF9, 'ø'),
            (0xFA, 'œ'),
            (0xFB, 'ß'),
        ];
        for &(code, c) in UPPER {
            t[code as usize] = Some(c);
        }
        t
    })
}

/// Decodes every byte with one of encoding_rs' single-byte encodings.
fn single_byte(encoding: &'static encoding_rs::Encoding) -> Table {
    let mut t = [None; 256];
    for (b, slot) in t.iter_mut().enumerate().skip(0x20) {
        let bytes = [b as u8];
        let (text, _) = encoding.decode_without_bom_handling(&bytes);
        let c = text.chars().next().unwrap_or('\u{FFFD}');
        if c != '\u{FFFD}' && !c.is_control() {
            *slot = Some(c);
        }
    }
    t
}

/// WinAnsiEncoding is Windows code page 1252; PDF shows a non-breaking space at 0xA0 and a
/// hyphen at 0xAD, which for text extraction are a space and a hyphen.
fn win_ansi() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| {
        let mut t = single_byte(encoding_rs::WINDOWS_1252);
        t[0xA0] = Some(' ');
        t[0xAD] = Some('-');
        t
    })
}

/// MacRomanEncoding is Mac OS Roman.
fn mac_roman() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| {
        let mut t = single_byte(encoding_rs::MACINTOSH);
        t[0xCA] = Some(' ');
        t
    })
}

/// PDFDocEncoding, the encoding of text strings that have no byte order mark: Latin-1 with
/// typographic characters in 0x18–0x1F and 0x80–0xA0.
fn pdf_doc() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| {
        let mut t = [None; 256];
        for (b, slot) in t.iter_mut().enumerate() {
            if (0x20..0x7F).contains(&b) || (0xA1..=0xFF).contains(&b) && b != 0xAD {
                *slot = char::from_u32(b as u32);
            }
        }
        for b in [b'\t', b'\n', b'\r'] {
            t[b as usize] = Some(b as char);
        }
        let low = ['˘', 'ˇ', 'ˆ', '˙', '˝', '˛', '˚', '˜'];
        for (i, c) in low.into_iter().enumerate() {
            t[0x18 + i] = Some(c);
        }
        let high = [
            '•', '†', '‡', '…', '—', '–', 'ƒ', '⁄', '‹', '›', '−', '‰', '„', '“', '”', '‘', '’',
            '‚', '™', 'ﬁ', 'ﬂ', 'Ł', 'Œ', 'Š', 'Ÿ', 'Ž', 'ı', 'ł', 'œ', 'š', 'ž',
        ];
        for (i, c) in high.into_iter().enumerate() {
            t[0x80 + i] = Some(c);
        }
        t[0xA0] = Some('€');
        t
    })
}

/// Decodes a PDF text string (the Info dictionary's `/Title`, …): UTF-16BE or UTF-8 when it
/// starts with their byte order mark, else PDFDocEncoding.
pub fn decode_text_string(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|p| u16::from_be_bytes([p[0], p[1]]))
            .collect();
        return String::from_utf16_lossy(&units);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return String::from_utf8_lossy(rest).into_owned();
    }
    bytes
        .iter()
        .filter_map(|&b| BaseEncoding::PdfDoc.char(b))
        .collect()
}

/// Glyph names of ASCII 0x20–0x7E, in code order.
const ASCII_NAMES: [&str; 95] = [
    "space",
    "exclam",
    "quotedbl",
    "numbersign",
    "dollar",
    "percent",
    "ampersand",
    "quotesingle",
    "parenleft",
    "parenright",
    "asterisk",
    "plus",
    "comma",
    "hyphen",
    "period",
    "slash",
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "colon",
    "semicolon",
    "less",
    "equal",
    "greater",
    "question",
    "at",
    "A",
    "B",
    "C",
    "D",
    "E",
    "F",
    "G",
    "H",
    "I",
    "J",
    "K",
    "L",
    "M",
    "N",
    "O",
    "P",
    "Q",
    "R",
    "S",
    "T",
    "U",
    "V",
    "W",
    "X",
    "Y",
    "Z",
    "bracketleft",
    "backslash",
    "bracketright",
    "asciicircum",
    "underscore",
    "grave",
    "a",
    "b",
    "c",
    "d",
    "e",
    "f",
    "g",
    "h",
    "i",
    "j",
    "k",
    "l",
    "m",
    "n",
    "o",
    "p",
    "q",
    "r",
    "s",
    "t",
    "u",
    "v",
    "w",
    "x",
    "y",
    "z",
    "braceleft",
    "bar",
    "braceright",
    "asciitilde",
];

/// Glyph names of U+00A0–U+00FF (Latin-1 supplement), in code order.
const LATIN1_NAMES: &str = "nbspace exclamdown cent sterling currency yen brokenbar section \
    dieresis copyright ordfeminine guillemotleft logicalnot sfthyphen registered macron \
    degree plusminus twosuperior threesuperior acute mu paragraph periodcentered cedilla \
    onesuperior ordmasculine guillemotright onequarter onehalf threequarters questiondown \
    Agrave Aacute Acircumflex Atilde Adieresis Aring AE Ccedilla Egrave Eacute Ecircumflex \
    Edieresis Igrave Iacute Icircumflex Idieresis Eth Ntilde Ograve Oacute Ocircumflex Otilde \
    Odieresis multiply Oslash Ugrave Uacute Ucircumflex Udieresis Yacute Thorn germandbls \
    agrave aacute acircumflex atilde adieresis aring ae ccedilla egrave eacute ecircumflex \
    edieresis igrave iacute icircumflex idieresis eth ntilde ograve oacute ocircumflex otilde \
    odieresis divide oslash ugrave uacute ucircumflex udieresis yacute thorn ydieresis";

/// Glyph names of U+0100–U+017F (Latin Extended-A), in code order.
const LATIN_EXT_A_NAMES: &str = "Amacron amacron Abreve abreve Aogonek aogonek Cacute cacute \
    Ccircumflex ccircumflex Cdotaccent cdotaccent Ccaron ccaron Dcaron dcaron Dcroat dcroat \
    Emacron emacron Ebreve ebreve Edotaccent edotaccent Eogonek eogonek Ecaron ecaron \
    Gcircumflex gcircumflex Gbreve gbreve Gdotaccent gdotaccent Gcommaaccent gcommaaccent \
    Hcircumflex hcircumflex Hbar hbar Itilde itilde Imacron imacron Ibreve ibreve Iogonek \
    iogonek Idotaccent dotlessi IJ ij Jcircumflex jcircumflex Kcommaaccent kcommaaccent \
    kgreenlandic Lacute lacute Lcommaaccent lcommaaccent Lcaron lcaron Ldot ldot Lslash lslash \
    Nacute nacute Ncommaaccent ncommaaccent Ncaron ncaron napostrophe Eng eng Omacron omacron \
    Obreve obreve Ohungarumlaut ohungarumlaut OE oe Racute racute Rcommaaccent rcommaaccent \
    Rcaron rcaron Sacute sacute Scircumflex scircumflex Scedilla scedilla Scaron scaron \
    Tcommaaccent tcommaaccent Tcaron tcaron Tbar tbar Utilde utilde Umacron umacron Ubreve \
    ubreve Uring uring Uhungarumlaut uhungarumlaut Uogonek uogonek Wcircumflex wcircumflex \
    Ycircumflex ycircumflex Ydieresis Zacute zacute Zdotaccent zdotaccent Zcaron zcaron longs";

/// Greek capitals U+0391–U+03A9 (U+03A2 is unassigned) and small letters U+03B1–U+03C9.
const GREEK_UPPER: &str = "Alpha Beta Gamma Delta Epsilon Zeta Eta Theta Iota Kappa Lambda Mu \
    Nu Xi Omicron Pi Rho - Sigma Tau Upsilon Phi Chi Psi Omega";
const GREEK_LOWER: &str = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda \
    mugreek nu xi omicron pi rho sigma1 sigma tau upsilon phi chi psi omega";

/// Everything else: punctuation, ligatures, accents, arrows and the common math symbols.
const OTHER_NAMES: &[(&str, &str)] = &[
    ("quoteleft", "\u{2018}"),
    ("quoteright", "\u{2019}"),
    ("quotesinglbase", "\u{201A}"),
    ("quotedblleft", "\u{201C}"),
    ("quotedblright", "\u{201D}"),
    ("quotedblbase", "\u{201E}"),
    ("guilsinglleft", "\u{2039}"),
    ("guilsinglright", "\u{203A}"),
    ("endash", "\u{2013}"),
    ("emdash", "\u{2014}"),
    ("figuredash", "\u{2012}"),
    ("horizontalbar", "\u{2015}"),
    ("dagger", "\u{2020}"),
    ("daggerdbl", "\u{2021}"),
    ("bullet", "\u{2022}"),
    ("ellipsis", "\u{2026}"),
    ("perthousand", "\u{2030}"),
    ("minute", "\u{2032}"),
    ("second", "\u{2033}"),
    ("prime", "\u{2032}"),
    ("fraction", "\u{2044}"),
    ("Euro", "\u{20AC}"),
    ("euro", "\u{20AC}"),
    ("trademark", "\u{2122}"),
    ("minus", "\u{2212}"),
    ("florin", "\u{0192}"),
    ("circumflex", "\u{02C6}"),
    ("caron", "\u{02C7}"),
    ("breve", "\u{02D8}"),
    ("dotaccent", "\u{02D9}"),
    ("ring", "\u{02DA}"),
    ("ogonek", "\u{02DB}"),
    ("tilde", "\u{02DC}"),
    ("hungarumlaut", "\u{02DD}"),
    ("dotlessj", "\u{0237}"),
    ("ff", "ff"),
    ("fi", "fi"),
    ("fl", "fl"),
    ("ffi", "ffi"),
    ("ffl", "ffl"),
    ("st", "st"),
    ("IJ", "IJ"),
    ("ij", "ij"),
    ("space", " "),
    ("nonbreakingspace", " "),
    ("visiblespace", "\u{2423}"),
    ("hyphenminus", "-"),
    ("softhyphen", "-"),
    ("sfthyphen", "-"),
    ("quotesingle", "'"),
    ("Omegagreek", "\u{03A9}"),
    ("Deltagreek", "\u{0394}"),
    ("mu", "\u{03BC}"),
    ("mu1", "\u{00B5}"),
    ("theta1", "\u{03D1}"),
    ("phi1", "\u{03D5}"),
    ("omega1", "\u{03D6}"),
    ("arrowleft", "\u{2190}"),
    ("arrowup", "\u{2191}"),
    ("arrowright", "\u{2192}"),
    ("arrowdown", "\u{2193}"),
    ("arrowboth", "\u{2194}"),
    ("arrowupdn", "\u{2195}"),
    ("arrowdblleft", "\u{21D0}"),
    ("arrowdblup", "\u{21D1}"),
    ("arrowdblright", "\u{21D2}"),
    ("arrowdbldown", "\u{21D3}"),
    ("arrowdblboth", "\u{21D4}"),
    ("universal", "\u{2200}"),
    ("partialdiff", "\u{2202}"),
    ("existential", "\u{2203}"),
    ("emptyset", "\u{2205}"),
    ("increment", "\u{2206}"),
    ("gradient", "\u{2207}"),
    ("nabla", "\u{2207}"),
    ("element", "\u{2208}"),
    ("notelement", "\u{2209}"),
    ("suchthat", "\u{220B}"),
    ("product", "\u{220F}"),
    ("summation", "\u{2211}"),
    ("asteriskmath", "\u{2217}"),
    ("radical", "\u{221A}"),
    ("proportional", "\u{221D}"),
    ("infinity", "\u{221E}"),
    ("angle", "\u{2220}"),
    ("logicaland", "\u{2227}"),
    ("logicalor", "\u{2228}"),
    ("intersection", "\u{2229}"),
    ("union", "\u{222A}"),
    ("integral", "\u{222B}"),
    ("therefore", "\u{2234}"),
    ("similar", "\u{223C}"),
    ("congruent", "\u{2245}"),
    ("approxequal", "\u{2248}"),
    ("notequal", "\u{2260}"),
    ("equivalence", "\u{2261}"),
    ("lessequal", "\u{2264}"),
    ("greaterequal", "\u{2265}"),
    ("propersubset", "\u{2282}"),
    ("propersuperset", "\u{2283}"),
    ("notsubset", "\u{2284}"),
    ("reflexsubset", "\u{2286}"),
    ("reflexsuperset", "\u{2287}"),
    ("circleplus", "\u{2295}"),
    ("circlemultiply", "\u{2297}"),
    ("perpendicular", "\u{22A5}"),
    ("dotmath", "\u{22C5}"),
    ("angleleft", "\u{2329}"),
    ("angleright", "\u{232A}"),
    ("lozenge", "\u{25CA}"),
    ("spade", "\u{2660}"),
    ("club", "\u{2663}"),
    ("heart", "\u{2665}"),
    ("diamond", "\u{2666}"),
    ("checkmark", "\u{2713}"),
    ("aleph", "\u{2135}"),
    ("Ifraktur", "\u{2111}"),
    ("Rfraktur", "\u{211C}"),
    ("weierstrass", "\u{2118}"),
    ("degree", "\u{00B0}"),
    ("onesuperior", "\u{00B9}"),
    ("copyrightserif", "\u{00A9}"),
    ("registerserif", "\u{00AE}"),
    ("trademarkserif", "\u{2122}"),
    ("Lslash", "\u{0141}"),
    ("lslash", "\u{0142}"),
];

fn glyph_table() -> &'static HashMap<&'static str, &'static str> {
    static T: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    T.get_or_init(|| {
        // The values live as long as the program: leak one string holding every character the
        // generated ranges need, then slice it.
        let mut m: HashMap<&'static str, &'static str> = HashMap::with_capacity(512);
        let mut put_range = |names: Vec<&'static str>, first: u32| {
            let chars: String = (0..names.len() as u32)
                .map(|i| char::from_u32(first + i).unwrap_or('\u{FFFD}'))
                .collect();
            let chars: &'static str = Box::leak(chars.into_boxed_str());
            let mut offsets = chars.char_indices().map(|(i, c)| (i, c.len_utf8()));
            for name in names {
                let Some((i, len)) = offsets.next() else {
                    break;
                };
                if name != "-" {
                    m.entry(name).or_insert(&chars[i..i + len]);
                }
            }
        };
        put_range(ASCII_NAMES.to_vec(), 0x20);
        put_range(LATIN1_NAMES.split_whitespace().collect(), 0xA0);
        put_range(LATIN_EXT_A_NAMES.split_whitespace().collect(), 0x100);
        put_range(GREEK_UPPER.split_whitespace().collect(), 0x391);
        put_range(GREEK_LOWER.split_whitespace().collect(), 0x3B1);
        for &(name, text) in OTHER_NAMES {
            m.insert(name, text);
        }
        // The hyphen glyph of Latin-1 is a soft hyphen, but fonts mean the visible one.
        m.insert("hyphen", "-");
        m.insert("nbspace", " ");
        m
    })
}

/// The text of a glyph name: the glyph list, then `uniXXXX…` and `uXXXX[XX]`, then the name
/// without its variant suffix (`a.sc`), then `_`-joined components (`f_f_i`).
pub fn glyph_to_unicode(name: &str) -> Option<String> {
    if let Some(text) = glyph_table().get(name) {
        return Some((*text).to_owned());
    }
    if let Some(hex) = name.strip_prefix("uni") {
        if !hex.is_empty() && hex.len() % 4 == 0 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            let units: Vec<u16> = hex
                .as_bytes()
                .chunks(4)
                .filter_map(|c| u16::from_str_radix(std::str::from_utf8(c).ok()?, 16).ok())
                .collect();
            let s = String::from_utf16_lossy(&units);
            return (!s.contains('\u{FFFD}')).then_some(s);
        }
    }
    if let Some(hex) = name.strip_prefix('u') {
        if (4..=6).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return u32::from_str_radix(hex, 16)
                .ok()
                .and_then(char::from_u32)
                .map(String::from);
        }
    }
    if let Some((base, _)) = name.split_once('.') {
        if !base.is_empty() {
            return glyph_to_unicode(base);
        }
        return None;
    }
    if name.contains('_') {
        let parts: Option<String> = name
            .split('_')
            .filter(|p| !p.is_empty())
            .map(glyph_to_unicode)
            .collect();
        return parts.filter(|s| !s.is_empty());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_name_ranges_have_the_right_lengths() {
        assert_eq!(LATIN1_NAMES.split_whitespace().count(), 96);
        assert_eq!(LATIN_EXT_A_NAMES.split_whitespace().count(), 128);
        assert_eq!(GREEK_UPPER.split_whitespace().count(), 25);
        assert_eq!(GREEK_LOWER.split_whitespace().count(), 25);
    }

    #[test]
    fn glyph_names_map_to_text() {
        let g = |n: &str| glyph_to_unicode(n);
        assert_eq!(g("A").as_deref(), Some("A"));
        assert_eq!(g("eacute").as_deref(), Some("é"));
        assert_eq!(g("Scaron").as_deref(), Some("Š"));
        assert_eq!(g("zcaron").as_deref(), Some("ž"));
        assert_eq!(g("longs").as_deref(), Some("ſ"));
        assert_eq!(g("ydieresis").as_deref(), Some("ÿ"));
        assert_eq!(g("omega").as_deref(), Some("ω"));
        assert_eq!(g("Omega").as_deref(), Some("Ω"));
        assert_eq!(g("fi").as_deref(), Some("fi"));
        assert_eq!(g("ffl").as_deref(), Some("ffl"));
        assert_eq!(g("quotedblleft").as_deref(), Some("“"));
        assert_eq!(g("endash").as_deref(), Some("–"));
        assert_eq!(g("hyphen").as_deref(), Some("-"));
        assert_eq!(g("uni00E9").as_deref(), Some("é"));
        assert_eq!(g("uni00660069").as_deref(), Some("fi"));
        assert_eq!(g("u1F600").as_deref(), Some("😀"));
        assert_eq!(g("a.sc").as_deref(), Some("a"));
        assert_eq!(g("f_f_i").as_deref(), Some("ffi"));
        assert_eq!(g("g123"), None);
        assert_eq!(g(".notdef"), None);
    }

    #[test]
    fn base_encodings() {
        assert_eq!(BaseEncoding::WinAnsi.char(0x80), Some('€'));
        assert_eq!(BaseEncoding::WinAnsi.char(0x93), Some('“'));
        assert_eq!(BaseEncoding::WinAnsi.char(0xE9), Some('é'));
        assert_eq!(BaseEncoding::Standard.char(0x27), Some('’'));
        assert_eq!(BaseEncoding::Standard.char(0xAE), Some('ﬁ'));
        assert_eq!(BaseEncoding::MacRoman.char(0x8E), Some('é'));
        assert_eq!(BaseEncoding::PdfDoc.char(0x84), Some('—'));
        assert_eq!(BaseEncoding::PdfDoc.char(0xA0), Some('€'));
        assert_eq!(decode_text_string(b"\xFE\xFF\0H\0i"), "Hi");
        assert_eq!(decode_text_string(b"Caf\xE9 \x8Dx\x8E \x93"), "Café “x” ﬁ");
    }
}
