//! The `lore` binary: what a user types, what another process sees, and the JSON shapes.

use crate::common::*;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn lore(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lore"))
        .arg("--data")
        .arg(data)
        .args(args)
        .env_remove("LORE_KB")
        // Hybrid search with a deterministic embedder: no model download in tests.
        .env("LORE_EMBEDDER", "hash")
        .output()
        .expect("run lore")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn json(out: &Output) -> Value {
    serde_json::from_str(&ok(out)).expect("valid json")
}

#[test]
fn a_second_process_sees_the_same_sources_versions_and_results() {
    let env = Env::new();
    let data = env.data.path();
    let file = env.write(
        "returns.md",
        "# Returns\n\nReturn unopened coffee within 30 days.\n",
    );
    ok(&lore(data, &["add", file.to_str().unwrap()]));
    std::fs::write(
        &file,
        "# Returns\n\nReturn unopened coffee within 45 days.\n",
    )
    .unwrap();
    ok(&lore(data, &["sync", "returns.md"]));

    // Every command below is a fresh process over the same data folder.
    let sources = json(&lore(data, &["sources", "--json"]));
    assert_eq!(sources["kb"], "default");
    let list = sources["sources"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["name"], "returns.md");
    assert_eq!(list[0]["status"], "ready");
    assert_eq!(list[0]["active_version"], 2);

    let show = json(&lore(data, &["show", "returns.md", "--json"]));
    let versions = show["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[1]["state"], "ready");
    assert_eq!(versions[1]["stats"]["chunks"], 1);

    let search = json(&lore(
        data,
        &["search", "return coffee days", "--json", "-k", "3"],
    ));
    let hits = search["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 1);
    let h = &hits[0];
    for field in [
        "source_id",
        "source_name",
        "version",
        "score",
        "text",
        "location",
        "heading_path",
        "citation",
    ] {
        assert!(!h[field].is_null(), "hit lacks {field}: {h}");
    }
    assert_eq!(h["version"], 2);
    assert_eq!(h["source_name"], "returns.md");
    assert_eq!(h["text"], "Return unopened coffee within 45 days.");
    assert_eq!(h["location"]["line_start"], 3);
    assert!(h["score"].as_f64().unwrap() > 0.0);

    // The same answer through the library in this (third) process.
    let lore_lib = lore::Lore::open(data).unwrap();
    let kb = lore_lib.kb("default").unwrap();
    assert_eq!(
        kb.search("return coffee days", 3).unwrap().hits[0].version,
        2
    );
}

#[test]
fn the_cli_covers_the_source_lifecycle() {
    let env = Env::new();
    let data = env.data.path();
    let file = env.write("hours.txt", "The shop opens at nine.\n");
    let kb = ["--kb", "cafe"];
    let add = json(&lore(
        data,
        &[&kb[..], &["add", file.to_str().unwrap(), "--json"]].concat(),
    ));
    assert_eq!(add["reports"][0]["outcome"], "created");
    assert_eq!(add["failed"], 0);

    // Broken origin: exit status 2, the reason printed, the source stale, search unchanged.
    std::fs::write(&file, random_bytes(2048, 11)).unwrap();
    let out = lore(data, &[&kb[..], &["sync", "--all"]].concat());
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("FAILED") && stdout.contains("binary"),
        "{stdout}"
    );
    let show = ok(&lore(data, &[&kb[..], &["show", "hours.txt"]].concat()));
    assert!(show.contains("stale") && show.contains("binary"), "{show}");
    let s = ok(&lore(data, &[&kb[..], &["search", "shop opens"]].concat()));
    assert!(
        s.contains("The shop opens at nine.") && s.contains("hours.txt v1"),
        "{s}"
    );

    ok(&lore(data, &[&kb[..], &["disable", "hours.txt"]].concat()));
    let s = json(&lore(
        data,
        &[&kb[..], &["search", "shop opens", "--json"]].concat(),
    ));
    assert_eq!(s["hits"].as_array().unwrap().len(), 0);
    ok(&lore(data, &[&kb[..], &["enable", "hours.txt"]].concat()));

    let text = json(&lore(
        data,
        &[
            &kb[..],
            &[
                "add-text",
                "--title",
                "Holidays",
                "--body",
                "Closed on New Year's Day.",
                "--json",
            ],
        ]
        .concat(),
    ));
    assert_eq!(text["reports"][0]["version"], 1);
    let s = json(&lore(
        data,
        &[&kb[..], &["search", "new year", "--json"]].concat(),
    ));
    assert_eq!(s["hits"][0]["source_name"], "Holidays");

    ok(&lore(data, &[&kb[..], &["remove", "hours.txt"]].concat()));
    let out = lore(data, &[&kb[..], &["show", "hours.txt"]].concat());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not-found"), "{err}");

    // The default knowledge base never saw any of it.
    let s = json(&lore(data, &["sources", "--json"]));
    assert!(s["sources"].as_array().unwrap().is_empty());
}

#[test]
fn revert_through_the_cli() {
    let env = Env::new();
    let data = env.data.path();
    let file = env.write("price.md", "# Price\n\nThe kettle costs 89 dollars.\n");
    ok(&lore(data, &["add", file.to_str().unwrap()]));
    std::fs::write(&file, "# Price\n\nThe kettle costs 99 dollars.\n").unwrap();
    ok(&lore(data, &["sync", "price.md"]));
    ok(&lore(data, &["revert", "price.md", "1"]));
    let s = json(&lore(data, &["search", "kettle costs", "--json"]));
    assert_eq!(s["hits"][0]["text"], "The kettle costs 89 dollars.");
    assert_eq!(s["hits"][0]["version"], 1);
    let out = lore(data, &["revert", "price.md", "7"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn demo_ingests_the_samples_and_prints_cited_answers() {
    let out = Command::new(env!("CARGO_BIN_EXE_lore"))
        .arg("demo")
        .env("LORE_EMBEDDER", "hash")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stdout = ok(&out);
    // Every sample ingests; the only failure is the demo's deliberately broken update.
    assert_eq!(stdout.matches("FAILED").count(), 1, "{stdout}");
    assert!(stdout.contains("FAILED   opening-hours.md"), "{stdout}");
    // Citations name the sample files and their versions.
    assert!(
        stdout.contains("returns-policy.md v1") || stdout.contains("faq.md v1"),
        "{stdout}"
    );
    assert!(
        stdout.contains("envios.html v1") || stdout.contains("preguntas-frecuentes.html v1"),
        "{stdout}"
    );
    assert!(
        stdout.contains("politica-de-devolucoes.md v1")
            || stdout.contains("perguntas-frequentes.txt v1"),
        "{stdout}"
    );
    // The versioning part: a broken update leaves v1 serving.
    assert!(stdout.contains("status: stale (serving v1)"), "{stdout}");
    assert!(stdout.contains("7:00 to 19:00"), "{stdout}");
}

#[test]
fn search_filters_by_source_and_kind() {
    let env = Env::new();
    let data = env.data.path();
    let a = env.write("a.md", "# A\n\nThe espresso blend is dark.\n");
    let b = env.write("b.md", "# B\n\nThe espresso machine is red.\n");
    ok(&lore(
        data,
        &["add", a.to_str().unwrap(), b.to_str().unwrap()],
    ));
    ok(&lore(
        data,
        &[
            "add-text",
            "--title",
            "Note",
            "--body",
            "Espresso is served until noon.",
        ],
    ));
    let names = |args: &[&str]| -> Vec<String> {
        let v = json(&lore(
            data,
            &[&["search", "espresso", "--json"], args].concat(),
        ));
        let mut n: Vec<String> = v["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["source_name"].as_str().unwrap().to_string())
            .collect();
        n.sort();
        n
    };
    assert_eq!(names(&[]), vec!["Note", "a.md", "b.md"]);
    assert_eq!(names(&["--source", "b.md"]), vec!["b.md"]);
    assert_eq!(names(&["--kind", "text"]), vec!["Note"]);
    assert_eq!(names(&["--kind", "file", "--source", "a.md"]), vec!["a.md"]);
    let out = lore(data, &["search", "espresso", "--source", "nope.md"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn bench_parse_reports_per_format_json() {
    let out = Command::new(env!("CARGO_BIN_EXE_lore"))
        .args(["bench", "parse", "--json"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-sources"))
        .output()
        .unwrap();
    let v = json(&out);
    assert_eq!(v["panics"], 0);
    let formats = v["formats"].as_object().unwrap();
    for f in ["text", "markdown", "html"] {
        let s = &formats[f];
        assert!(s["files"].as_u64().unwrap() >= 3, "{f}: {s}");
        assert!(s["pages"].as_u64().unwrap() >= 3, "{f}: {s}");
        assert!(s["bytes"].as_u64().unwrap() > 5000, "{f}: {s}");
        assert!(s["pages_per_s"].as_f64().unwrap() > 0.0, "{f}: {s}");
        assert!(s["mb_per_s"].as_f64().unwrap() > 0.0, "{f}: {s}");
        assert!(s["failed"].as_object().unwrap().is_empty(), "{f}: {s}");
    }
}

#[test]
fn agents_are_created_linked_renamed_and_removed_from_the_cli() {
    let env = Env::new();
    let data = env.data.path();
    let file = env.write("returns.md", "# Returns\n\nReturn coffee within 30 days.\n");
    ok(&lore(data, &["add", file.to_str().unwrap()]));
    ok(&lore(data, &["agent", "add", "support"]));
    ok(&lore(data, &["link", "support", "returns.md"]));

    let out = ok(&lore(data, &["agent", "rename", "support", "help desk"]));
    assert!(out.contains("is now help desk"), "{out}");
    let agents = json(&lore(data, &["agent", "list", "--json"]));
    assert_eq!(agents["agents"][0]["name"], "help desk");
    assert_eq!(agents["agents"][0]["sources"], serde_json::json!([1]));

    // A taken name and an unknown agent are refused with their reasons.
    ok(&lore(data, &["agent", "add", "sales"]));
    let taken = lore(data, &["agent", "rename", "sales", "help desk"]);
    assert!(!taken.status.success());
    assert!(
        String::from_utf8_lossy(&taken.stderr).contains("already-exists"),
        "{}",
        String::from_utf8_lossy(&taken.stderr)
    );
    let unknown = lore(data, &["agent", "remove", "nobody"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("not-found"));

    let out = ok(&lore(data, &["agent", "remove", "help desk"]));
    assert!(out.contains("removed with 1 link(s)"), "{out}");
    let agents = json(&lore(data, &["agent", "list", "--json"]));
    assert_eq!(agents["agents"].as_array().unwrap().len(), 1);
    assert_eq!(agents["agents"][0]["name"], "sales");
    let sources = json(&lore(data, &["sources", "--json"]));
    assert_eq!(
        sources["sources"][0]["name"], "returns.md",
        "the source stays"
    );
}
