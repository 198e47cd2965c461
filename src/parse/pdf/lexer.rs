//! A tokenizer for content streams and CMaps.
//!
//! lopdf can decode content streams into `Operation`s, but that allocates an `Object` per
//! operand and fails the whole stream on one bad token. Text extraction needs only a few
//! operators and must keep going past garbage, so lore reads the bytes itself: tokens borrow
//! from the stream where they can, and anything unrecognised becomes [`Tok::Other`].

use std::borrow::Cow;

/// One token of a content stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok<'a> {
    Num(f32),
    Name(Cow<'a, [u8]>),
    /// A literal or hexadecimal string, decoded to its bytes.
    Str(Cow<'a, [u8]>),
    /// A hexadecimal string as written (only from a lexer made with [`Lexer::raw_hex`]):
    /// the interpreter decodes it into a reused buffer instead of allocating.
    Hex(&'a [u8]),
    ArrayStart,
    ArrayEnd,
    DictStart,
    DictEnd,
    /// An operator (a bare keyword other than `true`, `false` and `null`).
    Op(&'a [u8]),
    /// `true`, `false`, `null`, braces, or a token that is none of the above.
    Other,
}

pub struct Lexer<'a> {
    buf: &'a [u8],
    pos: usize,
    raw_hex: bool,
}

#[inline]
fn is_white(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t' | b'\x0C' | b'\0')
}

#[inline]
fn is_delim(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

#[inline]
pub fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

impl<'a> Lexer<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Lexer {
            buf,
            pos: 0,
            raw_hex: false,
        }
    }

    /// A lexer that returns hexadecimal strings undecoded, as [`Tok::Hex`].
    pub fn raw_hex(buf: &'a [u8]) -> Self {
        Lexer {
            buf,
            pos: 0,
            raw_hex: true,
        }
    }

    fn skip_white_and_comments(&mut self) {
        while let Some(&b) = self.buf.get(self.pos) {
            if is_white(b) {
                self.pos += 1;
            } else if b == b'%' {
                while let Some(&c) = self.buf.get(self.pos) {
                    if c == b'\n' || c == b'\r' {
                        break;
                    }
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    /// The bytes of a regular token (up to whitespace or a delimiter) starting at `pos`.
    fn regular(&mut self) -> &'a [u8] {
        let start = self.pos;
        while let Some(&b) = self.buf.get(self.pos) {
            if is_white(b) || is_delim(b) {
                break;
            }
            self.pos += 1;
        }
        &self.buf[start..self.pos]
    }

    /// Skips the data of an inline image: called after `ID`, returns after its `EI`. The data
    /// is binary, so the end is the first `EI` between whitespace (or at the end of stream).
    pub fn skip_inline_image(&mut self) {
        let data = &self.buf[self.pos.min(self.buf.len())..];
        let mut i = 1;
        while i + 1 < data.len() {
            if data[i] == b'E'
                && data[i + 1] == b'I'
                && is_white(data[i - 1])
                && data.get(i + 2).is_none_or(|&b| is_white(b) || is_delim(b))
            {
                self.pos += i + 2;
                return;
            }
            i += 1;
        }
        self.pos = self.buf.len();
    }

    fn literal_string(&mut self) -> Cow<'a, [u8]> {
        // `pos` is just after the opening parenthesis.
        let start = self.pos;
        let mut depth = 1usize;
        // Fast path: no escapes, so the string borrows from the stream.
        let mut i = start;
        while let Some(&b) = self.buf.get(i) {
            match b {
                b'\\' => break,
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        self.pos = i + 1;
                        return Cow::Borrowed(&self.buf[start..i]);
                    }
                }
                _ => {}
            }
            i += 1;
        }
        if i >= self.buf.len() {
            self.pos = self.buf.len();
            return Cow::Borrowed(&self.buf[start..]);
        }
        let mut out = self.buf[start..i].to_vec();
        while let Some(&b) = self.buf.get(i) {
            i += 1;
            match b {
                b'\\' => {
                    let Some(&e) = self.buf.get(i) else { break };
                    i += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'\r' => {
                            if self.buf.get(i) == Some(&b'\n') {
                                i += 1;
                            }
                        }
                        b'\n' => {}
                        b'0'..=b'7' => {
                            let mut v = u32::from(e - b'0');
                            for _ in 0..2 {
                                match self.buf.get(i) {
                                    Some(&d @ b'0'..=b'7') => {
                                        v = v * 8 + u32::from(d - b'0');
                                        i += 1;
                                    }
                                    _ => break,
                                }
                            }
                            out.push(v as u8);
                        }
                        other => out.push(other),
                    }
                }
                b'(' => {
                    depth += 1;
                    out.push(b);
                }
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                    out.push(b);
                }
                _ => out.push(b),
            }
        }
        self.pos = i;
        Cow::Owned(out)
    }

    fn hex_string(&mut self) -> Cow<'a, [u8]> {
        // `pos` is just after `<`.
        let mut out = Vec::new();
        let mut hi: Option<u8> = None;
        while let Some(&b) = self.buf.get(self.pos) {
            self.pos += 1;
            if b == b'>' {
                break;
            }
            if let Some(v) = hex_val(b) {
                match hi.take() {
                    Some(h) => out.push(h << 4 | v),
                    None => hi = Some(v),
                }
            }
        }
        if let Some(h) = hi {
            out.push(h << 4);
        }
        Cow::Owned(out)
    }

    fn name(&mut self) -> Cow<'a, [u8]> {
        // `pos` is just after `/`.
        let raw = self.regular();
        if !raw.contains(&b'#') {
            return Cow::Borrowed(raw);
        }
        let mut out = Vec::with_capacity(raw.len());
        let mut i = 0;
        while i < raw.len() {
            if raw[i] == b'#' {
                if let (Some(h), Some(l)) = (
                    raw.get(i + 1).copied().and_then(hex_val),
                    raw.get(i + 2).copied().and_then(hex_val),
                ) {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
            }
            out.push(raw[i]);
            i += 1;
        }
        Cow::Owned(out)
    }
}

/// Parses a number token leniently (`4.`, `.5`, `-.002`, `+3`); `None` when it is not one.
pub fn parse_number(tok: &[u8]) -> Option<f32> {
    let (neg, digits) = match tok.first()? {
        b'-' => (true, &tok[1..]),
        b'+' => (false, &tok[1..]),
        _ => (false, tok),
    };
    // Some producers write `--5` or `-+5`; treat the extra signs as noise.
    let digits = digits.strip_prefix(b"-").unwrap_or(digits);
    let mut int: f64 = 0.0;
    let mut frac: f64 = 0.0;
    let mut scale = 1.0;
    let mut seen_dot = false;
    let mut any = false;
    for &b in digits {
        match b {
            b'0'..=b'9' => {
                any = true;
                if seen_dot {
                    scale /= 10.0;
                    frac += f64::from(b - b'0') * scale;
                } else {
                    int = int * 10.0 + f64::from(b - b'0');
                }
            }
            b'.' if !seen_dot => seen_dot = true,
            _ => return None,
        }
    }
    if !any {
        return if seen_dot { Some(0.0) } else { None };
    }
    let v = (int + frac) as f32;
    Some(if neg { -v } else { v })
}

impl<'a> Iterator for Lexer<'a> {
    type Item = Tok<'a>;

    fn next(&mut self) -> Option<Tok<'a>> {
        self.skip_white_and_comments();
        let &b = self.buf.get(self.pos)?;
        self.pos += 1;
        let tok = match b {
            b'/' => Tok::Name(self.name()),
            b'(' => Tok::Str(self.literal_string()),
            b'<' => {
                if self.buf.get(self.pos) == Some(&b'<') {
                    self.pos += 1;
                    Tok::DictStart
                } else if self.raw_hex {
                    let start = self.pos;
                    let end = self.buf[start..]
                        .iter()
                        .position(|&b| b == b'>')
                        .map_or(self.buf.len(), |i| start + i);
                    self.pos = (end + 1).min(self.buf.len());
                    Tok::Hex(&self.buf[start..end])
                } else {
                    Tok::Str(self.hex_string())
                }
            }
            b'>' => {
                if self.buf.get(self.pos) == Some(&b'>') {
                    self.pos += 1;
                }
                Tok::DictEnd
            }
            b'[' => Tok::ArrayStart,
            b']' => Tok::ArrayEnd,
            b'{' | b'}' | b')' => Tok::Other,
            _ => {
                self.pos -= 1;
                let word = self.regular();
                if word.is_empty() {
                    // Cannot happen (the byte is neither white nor a delimiter we handle
                    // above), but never loop forever on a surprise.
                    self.pos += 1;
                    return Some(Tok::Other);
                }
                match word[0] {
                    b'0'..=b'9' | b'+' | b'-' | b'.' => match parse_number(word) {
                        Some(v) => Tok::Num(v),
                        None => Tok::Other,
                    },
                    _ => match word {
                        b"true" | b"false" | b"null" => Tok::Other,
                        _ => Tok::Op(word),
                    },
                }
            }
        };
        Some(tok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &[u8]) -> Vec<Tok<'_>> {
        Lexer::new(s).collect()
    }

    #[test]
    fn tokens_of_a_text_object() {
        let t = toks(b"BT /F1 12 Tf 72 712.5 Td (Hello \\(x\\) \\101) Tj [(A) -250 <4142>] TJ ET");
        assert_eq!(t[0], Tok::Op(b"BT"));
        assert_eq!(t[1], Tok::Name(Cow::Borrowed(b"F1")));
        assert_eq!(t[2], Tok::Num(12.0));
        assert_eq!(t[5], Tok::Num(712.5));
        assert_eq!(t[7], Tok::Str(Cow::Owned(b"Hello (x) A".to_vec())));
        assert_eq!(t[9], Tok::ArrayStart);
        assert_eq!(t[11], Tok::Num(-250.0));
        assert_eq!(t[12], Tok::Str(Cow::Owned(b"AB".to_vec())));
        assert_eq!(t[13], Tok::ArrayEnd);
        assert_eq!(t.last(), Some(&Tok::Op(b"ET")));
    }

    #[test]
    fn numbers_are_lenient() {
        assert_eq!(parse_number(b"4."), Some(4.0));
        assert_eq!(parse_number(b".5"), Some(0.5));
        assert_eq!(parse_number(b"-.25"), Some(-0.25));
        assert_eq!(parse_number(b"--3"), Some(-3.0));
        assert_eq!(parse_number(b"1.2.3"), None);
        assert_eq!(parse_number(b"-"), None);
    }

    #[test]
    fn nested_parens_names_and_inline_images() {
        let t = toks(b"(a(b)c) /A#20B BI /W 1 ID \x00EI\xff EI Q");
        assert_eq!(t[0], Tok::Str(Cow::Borrowed(b"a(b)c")));
        assert_eq!(t[1], Tok::Name(Cow::Owned(b"A B".to_vec())));
        let mut lx = Lexer::new(b"BI /W 1 ID \x00EI\xff EI Q");
        while let Some(t) = lx.next() {
            if t == Tok::Op(b"ID") {
                lx.skip_inline_image();
                break;
            }
        }
        assert_eq!(lx.next(), Some(Tok::Op(b"Q")));
    }

    #[test]
    fn garbage_never_loops() {
        let junk: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
        assert!(Lexer::new(&junk).count() > 0);
        assert_eq!(
            toks(b"(unterminated"),
            vec![Tok::Str(Cow::Borrowed(b"unterminated"))]
        );
    }
}
