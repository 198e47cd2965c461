//! Full-text questions in several languages: unspaced scripts match by bigram terms (not as
//! phrases), stems match inflected forms whatever language the question is detected as, and a
//! mixed-script page does not count its bigrams twice.

use crate::common::Env;
use lore::{AddOptions, NoProgress, SearchMode, SearchOptions};

fn top_names(kb: &lore::KnowledgeBase<'_>, query: &str) -> Vec<String> {
    let r = kb
        .search_with(
            query,
            &SearchOptions {
                k: 5,
                min_confidence: 0.0,
                record_gaps: false,
                mode: SearchMode::Text,
                ..Default::default()
            },
        )
        .unwrap();
    let mut names: Vec<String> = Vec::new();
    for h in r.hits {
        if !names.contains(&h.source_name) {
            names.push(h.source_name);
        }
    }
    names
}

fn add(kb: &lore::KnowledgeBase<'_>, name: &str, text: &str) {
    kb.add_text(name, text, &AddOptions::default(), &NoProgress)
        .unwrap();
}

#[test]
fn a_japanese_question_finds_its_answer_by_bigrams_without_a_phrase_match() {
    let env = Env::new();
    let lore = env.lore();
    let kb = lore.kb("ja").unwrap();
    add(
        &kb,
        "pronunciation",
        "プロジェクト名は Deb'-ee-en と発音し、最初の音節に強勢があります。この語は創設者の名前を短縮したものです。",
    );
    add(
        &kb,
        "returns",
        "返品は商品の到着から30日以内に受け付けます。送料はお客様のご負担となります。",
    );
    add(
        &kb,
        "shipping",
        "チリとアルゼンチンへの配送は五営業日かかります。追跡番号はメールでお知らせします。",
    );
    // The question shares a word (発音) with the answer but is no substring of it: as one
    // phrase of bigrams it matched nothing.
    assert_eq!(
        top_names(&kb, "Debian の発音とその意味は何?").first(),
        Some(&"pronunciation".to_string())
    );
    assert_eq!(
        top_names(&kb, "返品できる期間は何日ですか?").first(),
        Some(&"returns".to_string())
    );
}

#[test]
fn stems_match_whatever_language_the_question_is_taken_for() {
    let env = Env::new();
    let lore = env.lore();
    let kb = lore.kb("de").unwrap();
    add(
        &kb,
        "pakete",
        "Debian-Pakete werden mit dem Paketverwaltungswerkzeug installiert. Die installierten \
         Pakete lassen sich jederzeit wieder entfernen, und ihre Konfigurationsdateien bleiben \
         dabei erhalten, bis man sie ausdrücklich löscht.",
    );
    add(
        &kb,
        "spiegel",
        "Die Spiegelserver des Projekts verteilen die Archive weltweit. Eine Liste aller \
         Spiegel steht auf der Webseite des Projekts und wird regelmäßig aktualisiert.",
    );
    // Two words, too short for a reliable language guess; "installiere" only meets
    // "installiert" through the German stem.
    assert_eq!(
        top_names(&kb, "installiere Paket").first(),
        Some(&"pakete".to_string())
    );
}

#[test]
fn mixed_script_pages_do_not_count_bigrams_twice() {
    let env = Env::new();
    let lore = env.lore();
    let kb = lore.kb("mixed").unwrap();
    // Mostly English, so detected as English and given a stemmed field too.
    add(
        &kb,
        "english-with-japanese",
        "The package manager installs, upgrades and removes software packages, and keeps a \
         log of every change it makes to the system so that administrators can review what \
         happened later. 安定版では動作しません.",
    );
    add(
        &kb,
        "japanese",
        "安定版で動作しない場合は不安定版を試してください。新しいハードウェアは安定版では動作しません。",
    );
    assert_eq!(
        top_names(&kb, "安定版で動作しないハードウェア").first(),
        Some(&"japanese".to_string())
    );
}
