//! Versions: unchanged content, new versions, failed updates, revert, enable/disable, remove,
//! retention and crash recovery.

use crate::common::*;
use lore::store::{NewChunk, VersionState};
use lore::{Config, Lore, NoProgress, Outcome, SourceStatus};

#[test]
fn unchanged_content_makes_no_version_and_changed_content_replaces_it() {
    let env = Env::new();
    let lore = env.lore();
    let kb = lore.kb("shop").unwrap();
    let path = env.write(
        "returns.md",
        "# Returns\n\nYou have 30 days to return a grinder.\n",
    );
    assert_eq!(created(&add(&kb, &path)), 1);

    // Adding the same file again, and syncing it, find nothing new.
    let again = add(&kb, &path);
    assert_eq!(again.outcome, Outcome::Unchanged { version: 1 });
    assert_eq!(
        sync(&kb, "returns.md").outcome,
        Outcome::Unchanged { version: 1 }
    );
    assert_eq!(kb.show("returns.md").unwrap().versions.len(), 1);

    // Changed content makes v2, and search returns only v2's text.
    std::fs::write(
        &path,
        "# Returns\n\nYou have 45 days to return a grinder.\n",
    )
    .unwrap();
    assert_eq!(created(&sync(&kb, "returns.md")), 2);
    let texts = hit_texts(&kb, "return grinder days");
    assert_eq!(
        texts,
        vec!["You have 45 days to return a grinder.".to_string()]
    );
    let hits = kb.search("return grinder", 5).unwrap().hits;
    assert_eq!(hits[0].version, 2);
    assert_eq!(hits[0].source_name, "returns.md");
    assert_eq!(hits[0].heading_path, vec!["Returns"]);
}

#[test]
fn a_failed_update_keeps_serving_the_last_good_version() {
    for breakage in ["random-bytes", "deleted", "emptied"] {
        let env = Env::new();
        let lore = env.lore();
        let kb = lore.kb("shop").unwrap();
        let path = env.write(
            "policy.txt",
            "Refunds reach your card within five business days.\n",
        );
        assert_eq!(created(&add(&kb, &path)), 1);

        let expected_reason = match breakage {
            "random-bytes" => {
                std::fs::write(&path, random_bytes(4096, 7)).unwrap();
                "binary"
            }
            "deleted" => {
                std::fs::remove_file(&path).unwrap();
                "origin-missing"
            }
            _ => {
                std::fs::write(&path, "  \n\n ").unwrap();
                "empty"
            }
        };
        let r = sync(&kb, "policy.txt");
        assert_eq!(failed_reason(&r), expected_reason, "{breakage}");

        // Search still answers from v1.
        let hits = kb.search("refunds card business days", 5).unwrap().hits;
        assert_eq!(hits.len(), 1, "{breakage}");
        assert_eq!(hits[0].version, 1);
        assert!(hits[0].text.contains("five business days"));

        // show reports the failed version with its reason; the source is stale.
        let d = kb.show("policy.txt").unwrap();
        assert_eq!(d.status, SourceStatus::Stale, "{breakage}");
        assert_eq!(d.source.active_version, Some(1));
        assert_eq!(d.versions.len(), 2);
        assert_eq!(d.versions[1].state, VersionState::Failed);
        assert_eq!(
            d.versions[1].error.as_ref().unwrap().reason,
            expected_reason
        );
        assert_eq!(
            d.source.last_error.as_ref().unwrap().reason,
            expected_reason
        );

        // Repairing the origin with the same content clears the stale mark, with no new
        // version.
        std::fs::write(
            &path,
            "Refunds reach your card within five business days.\n",
        )
        .unwrap();
        assert_eq!(
            sync(&kb, "policy.txt").outcome,
            Outcome::Unchanged { version: 1 }
        );
        assert_eq!(kb.show("policy.txt").unwrap().status, SourceStatus::Ready);
    }
}

#[test]
fn a_first_ingestion_that_fails_leaves_a_failed_source_with_its_reason() {
    let env = Env::new();
    let lore = env.lore();
    let kb = lore.kb("shop").unwrap();
    let path = env.write("photo.txt", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".repeat(10));
    let r = add(&kb, &path);
    assert_eq!(failed_reason(&r), "unsupported-format");
    let d = kb.show("photo.txt").unwrap();
    assert_eq!(d.status, SourceStatus::Failed);
    assert_eq!(d.source.active_version, None);
    assert!(kb.search("png", 5).unwrap().hits.is_empty());
}

#[test]
fn revert_disable_enable_and_remove() {
    let env = Env::new();
    let lore = env.lore();
    let kb = lore.kb("shop").unwrap();
    let path = env.write("hours.md", "# Hours\n\nThe cafe opens at seven.\n");
    add(&kb, &path);
    std::fs::write(&path, "# Hours\n\nThe cafe opens at eight.\n").unwrap();
    assert_eq!(created(&sync(&kb, "hours.md")), 2);
    assert_eq!(
        hit_texts(&kb, "cafe opens"),
        vec!["The cafe opens at eight."]
    );

    kb.revert("hours.md", 1).unwrap();
    assert_eq!(
        hit_texts(&kb, "cafe opens"),
        vec!["The cafe opens at seven."]
    );
    assert_eq!(kb.source("hours.md").unwrap().active_version, Some(1));
    // A version that does not exist cannot be served.
    let e = kb.revert("hours.md", 9).unwrap_err();
    assert_eq!(e.reason(), Some(lore::Reason::NotFound));

    kb.set_enabled("hours.md", false).unwrap();
    assert!(hit_texts(&kb, "cafe opens").is_empty());
    assert_eq!(kb.show("hours.md").unwrap().status, SourceStatus::Disabled);
    kb.set_enabled("hours.md", true).unwrap();
    assert_eq!(
        hit_texts(&kb, "cafe opens"),
        vec!["The cafe opens at seven."]
    );

    let other = env.write("other.md", "# Other\n\nTea is also sold.\n");
    add(&kb, &other);
    let before = kb.indexed_chunks().unwrap();
    assert_eq!(before, 3);
    kb.remove("hours.md").unwrap();
    assert_eq!(
        kb.indexed_chunks().unwrap(),
        1,
        "chunks of both versions deleted"
    );
    assert!(hit_texts(&kb, "cafe opens").is_empty());
    assert_eq!(
        kb.source("hours.md").unwrap_err().reason(),
        Some(lore::Reason::NotFound)
    );
    assert_eq!(hit_texts(&kb, "tea"), vec!["Tea is also sold."]);
    // The original bytes of the removed source are gone too; the other source's remain.
    let blobs: Vec<_> = walk_files(&env.data.path().join("kbs"))
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("blobs"))
        .collect();
    assert_eq!(blobs.len(), 1, "{blobs:?}");
}

fn walk_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn retention_keeps_the_last_versions_and_prunes_older_ones() {
    let env = Env::new();
    let lore = env.lore();
    let kb = lore.kb("shop").unwrap();
    let path = env.write("note.txt", "edition 1 of the note\n");
    add(&kb, &path);
    for i in 2..=5 {
        std::fs::write(&path, format!("edition {i} of the note\n")).unwrap();
        assert_eq!(created(&sync(&kb, "note.txt")), i);
    }
    // keep_versions = 3: v3, v4, v5 remain, v1 and v2 are pruned from catalog and index.
    let d = kb.show("note.txt").unwrap();
    let pruned: Vec<u32> = d
        .versions
        .iter()
        .filter(|v| v.pruned)
        .map(|v| v.number)
        .collect();
    assert_eq!(pruned, vec![1, 2]);
    assert_eq!(kb.indexed_chunks().unwrap(), 3);
    let e = kb.revert("note.txt", 2).unwrap_err();
    assert!(e.to_string().contains("pruned"), "{e}");
    kb.revert("note.txt", 3).unwrap();
    assert_eq!(
        hit_texts(&kb, "edition note"),
        vec!["edition 3 of the note"]
    );
}

#[test]
fn knowledge_bases_are_isolated() {
    let env = Env::new();
    let lore = env.lore();
    let a = lore.kb("acme").unwrap();
    let b = lore.kb("globex").unwrap();
    add(
        &a,
        &env.write(
            "secret.md",
            "# Secret\n\nThe acme discount code is KETTLE42.\n",
        ),
    );
    add(
        &b,
        &env.write("public.md", "# Public\n\nGlobex sells kettles.\n"),
    );
    assert!(hit_texts(&b, "discount code KETTLE42").is_empty());
    assert_eq!(hit_texts(&a, "KETTLE42").len(), 1);
    let acme_id = a.sources().unwrap()[0].id;
    assert_eq!(
        b.source(&acme_id.to_string()).unwrap_err().reason(),
        Some(lore::Reason::NotFound)
    );
    assert!(lore.kb("../etc").is_err(), "kb names are plain");
}

#[test]
fn an_interrupted_build_is_recovered_and_its_job_resumed() {
    let env = Env::new();
    let path = env.write("menu.md", "# Menu\n\nEspresso costs three dollars.\n");
    {
        let lore = env.lore();
        let kb = lore.kb("shop").unwrap();
        add(&kb, &path);
        std::fs::write(&path, "# Menu\n\nEspresso costs four dollars.\n").unwrap();
        // Simulate a process that queued a sync, claimed it, created a building version
        // and died before publishing.
        let c = lore.catalog();
        let id = kb.source("menu.md").unwrap().id;
        c.enqueue(kb.id(), id, None).unwrap();
        assert_eq!(c.claim_jobs(kb.id(), 10).unwrap().len(), 1);
        let loc = lore::parse::Location::default();
        c.begin_version(
            id,
            &"0".repeat(64),
            "markdown",
            &[NewChunk {
                ord: 0,
                heading_path: &[],
                location: &loc,
                text: "half-built",
                fields: None,
            }],
            &[],
        )
        .unwrap();
        assert_eq!(kb.show("menu.md").unwrap().status, SourceStatus::Processing);
    }
    // A new process: the abandoned version is failed, the job runs again and publishes.
    let lore = env.lore();
    let kb = lore.kb("shop").unwrap();
    assert_eq!(
        hit_texts(&kb, "espresso"),
        vec!["Espresso costs three dollars."]
    );
    let reports = kb.run_pending(&NoProgress).unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(created(&reports[0]), 3);
    let d = kb.show("menu.md").unwrap();
    assert_eq!(d.versions[1].state, VersionState::Failed);
    assert!(d.versions[1]
        .error
        .as_ref()
        .unwrap()
        .message
        .contains("interrupted"));
    assert_eq!(d.status, SourceStatus::Ready);
    assert_eq!(
        hit_texts(&kb, "espresso"),
        vec!["Espresso costs four dollars."]
    );
}

#[test]
fn text_entries_version_like_files() {
    let env = Env::new();
    let lore = env.lore();
    let kb = lore.kb("shop").unwrap();
    let o = lore::AddOptions::default();
    let r = kb
        .add_text("Holiday hours", "Closed on December 25.", &o, &NoProgress)
        .unwrap();
    assert_eq!(created(&r), 1);
    let r = kb
        .add_text("Holiday hours", "Closed on December 25.", &o, &NoProgress)
        .unwrap();
    assert_eq!(r.outcome, Outcome::Unchanged { version: 1 });
    let r = kb
        .add_text(
            "Holiday hours",
            "Closed on December 25 and January 1.",
            &o,
            &NoProgress,
        )
        .unwrap();
    assert_eq!(created(&r), 2);
    assert_eq!(
        sync(&kb, "Holiday hours").outcome,
        Outcome::Unchanged { version: 2 }
    );
    assert_eq!(
        hit_texts(&kb, "closed december"),
        vec!["Closed on December 25 and January 1."]
    );
    let e = kb.add_text("  ", "x", &o, &NoProgress).unwrap_err();
    assert!(e.is_user_fault());
}

#[test]
fn custom_retention_from_config() {
    let env = Env::new();
    let cfg = Config {
        keep_versions: 1,
        ..Config::default()
    };
    let lore = Lore::open_with(env.data.path(), cfg).unwrap();
    let kb = lore.kb("k").unwrap();
    let path = env.write("a.txt", "first words\n");
    add(&kb, &path);
    std::fs::write(&path, "second words\n").unwrap();
    sync(&kb, "a.txt");
    assert_eq!(kb.indexed_chunks().unwrap(), 1);
}

#[test]
fn a_lost_index_is_rebuilt_from_the_catalog() {
    let env = Env::new();
    let body = |days: &str| {
        format!(
            "# Envíos\n\nRealizamos envíos a Chile en {days} días hábiles. Los aranceles e \
             impuestos de importación los paga el cliente al recibir el paquete.\n"
        )
    };
    let path = env.write("faq.md", body("7 a 12"));
    {
        let lore = env.lore();
        let kb = lore.kb("shop").unwrap();
        add(&kb, &path);
        std::fs::write(&path, body("5 a 9")).unwrap();
        sync(&kb, "faq.md");
        kb.revert("faq.md", 1).unwrap();
    }
    let index_dir = env.data.path().join("kbs").join("1").join("index");
    assert!(index_dir.is_dir());
    std::fs::remove_dir_all(&index_dir).unwrap();
    let lore = env.lore();
    let kb = lore.kb("shop").unwrap();
    assert_eq!(
        kb.indexed_chunks().unwrap(),
        2,
        "both retained versions are back"
    );
    // The stemmed Spanish field is rebuilt too: the singular finds the plural.
    let hits = kb.search("envío chile", 5).unwrap().hits;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].version, 1, "still serving the reverted version");
    assert_eq!(hits[0].language.as_deref(), Some("es"));
}

#[test]
fn confidence_withholds_unrelated_results_and_records_gaps() {
    let env = Env::new();
    let lore = env.lore();
    let kb = lore.kb("shop").unwrap();
    add(
        &kb,
        &env.write(
            "faq.md",
            "# Returns\n\nYou can return unopened coffee within 30 days of delivery.\n\n\
             # Shipping\n\nWe ship to Chile, Brazil and Portugal.\n",
        ),
    );
    let good = kb.search("can I return coffee within 30 days?", 3).unwrap();
    assert!(!good.nothing_relevant);
    assert!(good.confidence > 0.6, "{}", good.confidence);
    assert_eq!(good.hits[0].heading_path, vec!["Returns"]);

    // Shares only function words with the documents.
    let bad = kb
        .search("do you have a loyalty program for students?", 3)
        .unwrap();
    assert!(bad.nothing_relevant, "confidence {}", bad.confidence);
    assert!(bad.hits.is_empty());
    kb.search("Do you have a loyalty program for students", 3)
        .unwrap();
    let gaps = kb.gaps().unwrap();
    assert_eq!(gaps.len(), 1);
    assert_eq!(
        gaps[0].count, 2,
        "case and punctuation do not make a new question"
    );

    // The admin's test view shows what was found anyway, and records nothing.
    let opts = lore::SearchOptions {
        k: 3,
        min_confidence: 0.0,
        record_gaps: false,
        ..Default::default()
    };
    let all = kb
        .search_with("loyalty program for students that ship", &opts)
        .unwrap();
    assert!(!all.hits.is_empty());
    assert_eq!(kb.gaps().unwrap().len(), 1);
}
