//! Text analysis for the full-text index: a tokenizer that is safe for every script, and one
//! analyzer per stemmed language.
//!
//! Words are runs of letters and digits, as usual — except in scripts written without spaces
//! (Chinese, Japanese, Korean, Thai), where a "word" would be a whole sentence and nothing would
//! ever match. There each character pair becomes a token (overlapping bigrams; a lone
//! character is a unigram), the standard way to make such text searchable without a
//! dictionary.

use crate::lang::STEMMED;
use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RemoveLongFilter, Stemmer, StopWordFilter, TextAnalyzer, Token,
    TokenStream, Tokenizer, TokenizerManager,
};

/// The analyzer without stemming: every language, exact word forms (after case and accent
/// folding).
pub const BASE: &str = "lore_base";

/// The analyzer of `text_plain`: words without stemming, for passages in a language without
/// a stemmer (see `TextIndex::question_query`).
pub const PLAIN: &str = "lore_plain";

/// The name of the stemmed analyzer (and field suffix) of a language code.
pub fn stemmed_name(code: &str) -> String {
    format!("lore_{code}")
}

/// The name of a language's analyzer for measuring coverage and for questions against the
/// stemmed field: stemmed, without stop words.
pub fn coverage_name(code: &str) -> String {
    format!("lore_{code}_content")
}

/// Registers the base and the stemmed analyzers.
pub fn register(manager: &TokenizerManager) {
    manager.register(
        BASE,
        TextAnalyzer::builder(LoreTokenizer::default())
            .filter(RemoveLongFilter::limit(64))
            .filter(LowerCaser)
            .filter(AsciiFoldingFilter)
            .build(),
    );
    manager.register(
        PLAIN,
        TextAnalyzer::builder(LoreTokenizer::words_only())
            .filter(RemoveLongFilter::limit(64))
            .filter(LowerCaser)
            .filter(AsciiFoldingFilter)
            .build(),
    );
    for (code, lang) in STEMMED {
        // Stem before folding accents: the Snowball stemmers expect the real spelling.
        // Unspaced scripts are left out: their bigrams have no stems and are in the base
        // field already, and a document of mixed text (Japanese with English passages,
        // detected as English) would otherwise count every bigram twice.
        manager.register(
            &stemmed_name(code),
            TextAnalyzer::builder(LoreTokenizer::words_only())
                .filter(RemoveLongFilter::limit(64))
                .filter(LowerCaser)
                .filter(Stemmer::new(*lang))
                .filter(AsciiFoldingFilter)
                .build(),
        );
        // Coverage counts only content words: "do", "you", "a" say nothing about whether a
        // passage answers the question.
        let builder = TextAnalyzer::builder(LoreTokenizer::default())
            .filter(RemoveLongFilter::limit(64))
            .filter(LowerCaser)
            .dynamic();
        let stop = if *code == "en" {
            // tantivy's English list is the short Lucene one; questions are full of pronouns
            // and auxiliaries it lacks.
            Some(StopWordFilter::remove(
                ENGLISH_STOP_WORDS.iter().map(|w| w.to_string()),
            ))
        } else {
            StopWordFilter::new(*lang)
        };
        let builder = match stop {
            Some(stop) => builder.filter_dynamic(stop),
            None => builder,
        };
        manager.register(
            &coverage_name(code),
            builder
                .filter_dynamic(Stemmer::new(*lang))
                .filter_dynamic(AsciiFoldingFilter)
                .build(),
        );
    }
}

/// English function words, including the auxiliaries and pronouns of questions.
const ENGLISH_STOP_WORDS: &[&str] = &[
    "a", "about", "after", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be",
    "been", "before", "being", "but", "by", "can", "could", "did", "do", "does", "doing", "for",
    "from", "get", "got", "had", "has", "have", "having", "he", "her", "here", "him", "his", "how",
    "i", "if", "in", "into", "is", "it", "its", "just", "let", "me", "might", "more", "most",
    "much", "must", "my", "no", "nor", "not", "of", "on", "once", "only", "or", "other", "our",
    "ours", "out", "over", "please", "shall", "she", "should", "so", "some", "such", "than",
    "that", "the", "their", "them", "then", "there", "these", "they", "this", "those", "through",
    "to", "too", "under", "until", "up", "us", "very", "was", "we", "were", "what", "when",
    "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your",
    "yours",
];

/// Characters of scripts written without spaces between words.
pub(crate) fn is_unspaced(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF   // Hiragana, Katakana
        | 0x3400..=0x4DBF // CJK extension A
        | 0x4E00..=0x9FFF // CJK unified ideographs
        | 0xF900..=0xFAFF // CJK compatibility ideographs
        | 0xAC00..=0xD7AF // Hangul syllables
        | 0x0E00..=0x0E7F // Thai
        | 0x0E80..=0x0EFF // Lao
        | 0x1780..=0x17FF // Khmer
        | 0x20000..=0x2FFFF // CJK extensions B-F
    )
}

/// True for a bigram written in hiragana only (`です`, `には`, `ますか`): in Japanese these are
/// mostly particles and verb endings, the stop words of an unspaced script.
pub(crate) fn is_kana_grammar(word: &str) -> bool {
    !word.is_empty() && word.chars().all(is_hiragana)
}

pub(crate) fn is_hiragana(c: char) -> bool {
    ('\u{3041}'..='\u{309F}').contains(&c)
}

/// Words for spaced scripts, overlapping character bigrams for unspaced ones.
#[derive(Clone, Default)]
pub struct LoreTokenizer {
    tokens: Vec<Token>,
    /// Skip unspaced scripts (for the stemmed fields).
    words_only: bool,
}

impl LoreTokenizer {
    /// Words of spaced scripts only; text in unspaced scripts yields no tokens.
    pub fn words_only() -> LoreTokenizer {
        LoreTokenizer {
            tokens: Vec::new(),
            words_only: true,
        }
    }
}

pub struct LoreTokenStream<'a> {
    tokens: &'a mut Vec<Token>,
    next: usize,
}

impl Tokenizer for LoreTokenizer {
    type TokenStream<'a> = LoreTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> LoreTokenStream<'a> {
        self.tokens.clear();
        tokenize(text, self.words_only, &mut self.tokens);
        LoreTokenStream {
            tokens: &mut self.tokens,
            next: 0,
        }
    }
}

fn tokenize(text: &str, words_only: bool, out: &mut Vec<Token>) {
    let push = |out: &mut Vec<Token>, from: usize, to: usize| {
        out.push(Token {
            offset_from: from,
            offset_to: to,
            position: out.len(),
            text: text[from..to].to_string(),
            position_length: 1,
        });
    };
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let end_of = |i: usize| chars.get(i + 1).map_or(text.len(), |(o, _)| *o);
    let mut i = 0;
    while i < chars.len() {
        let (start, c) = chars[i];
        if is_unspaced(c) {
            let mut j = i;
            while j < chars.len() && is_unspaced(chars[j].1) {
                j += 1;
            }
            if words_only {
                // Nothing to stem here.
            } else if j - i == 1 {
                push(out, start, end_of(i));
            } else {
                for (k, (offset, _)) in chars.iter().enumerate().take(j - 1).skip(i) {
                    push(out, *offset, end_of(k + 1));
                }
            }
            i = j;
        } else if c.is_alphanumeric() {
            let mut j = i;
            while j < chars.len() && chars[j].1.is_alphanumeric() && !is_unspaced(chars[j].1) {
                j += 1;
            }
            push(out, start, end_of(j - 1));
            i = j;
        } else {
            i += 1;
        }
    }
}

impl TokenStream for LoreTokenStream<'_> {
    fn advance(&mut self) -> bool {
        if self.next < self.tokens.len() {
            self.next += 1;
            true
        } else {
            false
        }
    }

    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(analyzer: &str, text: &str) -> Vec<String> {
        let m = TokenizerManager::default();
        register(&m);
        let mut a = m.get(analyzer).unwrap();
        let mut s = a.token_stream(text);
        let mut out = Vec::new();
        while s.advance() {
            out.push(s.token().text.clone());
        }
        out
    }

    #[test]
    fn words_fold_case_and_accents() {
        assert_eq!(
            tokens(BASE, "¿Hacen ENVÍOS a São Paulo? BK-200"),
            vec!["hacen", "envios", "a", "sao", "paulo", "bk", "200"]
        );
    }

    #[test]
    fn unspaced_scripts_become_bigrams() {
        assert_eq!(
            tokens(BASE, "返品は30日以内"),
            vec!["返品", "品は", "30", "日以", "以内"]
        );
        assert_eq!(tokens(BASE, "a 日 b"), vec!["a", "日", "b"]);
        // The stemmed fields leave them to the base field.
        assert_eq!(
            tokens(&stemmed_name("en"), "Debian の発音 packages"),
            vec!["debian", "packag"]
        );
    }

    #[test]
    fn coverage_analyzers_drop_stop_words() {
        assert_eq!(
            tokens(&coverage_name("en"), "Do you offer a student discount?"),
            vec!["offer", "student", "discount"]
        );
        assert_eq!(
            tokens(&coverage_name("es"), "¿Los envíos a Chile?"),
            tokens(&coverage_name("es"), "envío Chile")
        );
    }

    #[test]
    fn stemmers_conflate_word_forms() {
        let es = stemmed_name("es");
        assert_eq!(tokens(&es, "envíos"), tokens(&es, "envío"));
        assert_eq!(
            tokens(&stemmed_name("en"), "returns returned"),
            vec!["return", "return"]
        );
        assert_eq!(
            tokens(&stemmed_name("pt"), "devoluções"),
            tokens(&stemmed_name("pt"), "devolução")
        );
        assert_eq!(
            tokens(&stemmed_name("ru"), "доставки"),
            tokens(&stemmed_name("ru"), "доставка")
        );
    }
}
