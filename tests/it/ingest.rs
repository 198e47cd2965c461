//! Ingestion: limits, named failures, folders, encodings and formats end to end.

use crate::common::*;
use lore::{AddOptions, LimitOverrides, LimitPolicy, NoProgress, Outcome};

fn add_with(
    kb: &lore::KnowledgeBase<'_>,
    path: &std::path::Path,
    limits: LimitOverrides,
) -> lore::IngestReport {
    let mut r = kb
        .add_paths(
            &[path.to_path_buf()],
            &AddOptions {
                limits,
                ..Default::default()
            },
            &NoProgress,
        )
        .unwrap();
    r.pop().unwrap()
}

#[test]
fn byte_limit_rejects_and_char_limit_rejects_or_truncates() {
    let env = Env::new();
    let lore = env.lore();
    let kb = lore.kb("k").unwrap();
    let text = "Coffee is roasted on Mondays. ".repeat(100); // 3,000 chars
    let path = env.write("long.txt", &text);

    let r = add_with(
        &kb,
        &path,
        LimitOverrides {
            max_bytes: Some(1000),
            ..Default::default()
        },
    );
    assert_eq!(failed_reason(&r), "too-large");
    match &r.outcome {
        Outcome::Failed { message, .. } => assert!(message.contains("1000"), "{message}"),
        _ => unreachable!(),
    }

    let r = add_with(
        &kb,
        &path,
        LimitOverrides {
            max_bytes: Some(1_000_000),
            max_chars: Some(500),
            on_limit: Some(LimitPolicy::Reject),
            ..Default::default()
        },
    );
    assert_eq!(failed_reason(&r), "too-many-chars");

    let r = add_with(
        &kb,
        &path,
        LimitOverrides {
            max_chars: Some(500),
            on_limit: Some(LimitPolicy::Truncate),
            ..Default::default()
        },
    );
    match &r.outcome {
        Outcome::Created { warnings, .. } => {
            assert!(
                warnings.iter().any(|w| w.contains("truncated")),
                "{warnings:?}"
            )
        }
        other => panic!("{other:?}"),
    }
    let d = kb.show("long.txt").unwrap();
    let v = d.versions.last().unwrap();
    assert!(v.stats.truncated);
    assert!(v.stats.chars <= 500, "{}", v.stats.chars);
    assert!(
        v.warnings[0].contains("of 2999 characters"),
        "{:?}",
        v.warnings
    );
    // The limits chosen at add time are kept for later syncs.
    assert_eq!(d.source.options.limits.max_chars, Some(500));
}

#[test]
fn every_format_honours_the_limits() {
    let env = Env::new();
    let lore = env.lore();
    let kb = lore.kb("k").unwrap();
    let para = "Our kettles keep water at the chosen temperature. ".repeat(20);
    let files = [
        ("limits.txt", format!("{para}\n\n{para}\n")),
        ("limits.md", format!("# Kettles\n\n{para}\n\n{para}\n")),
        (
            "limits.html",
            format!(
                "<html><body><main><h1>Kettles</h1><p>{para}</p><p>{para}</p></main></body></html>"
            ),
        ),
    ];
    for (name, body) in &files {
        let path = env.write(name, body);
        let over_bytes = LimitOverrides {
            max_bytes: Some(100),
            ..Default::default()
        };
        assert_eq!(
            failed_reason(&add_with(&kb, &path, over_bytes)),
            "too-large",
            "{name}"
        );
        let reject = LimitOverrides {
            max_chars: Some(300),
            on_limit: Some(LimitPolicy::Reject),
            ..Default::default()
        };
        assert_eq!(
            failed_reason(&add_with(&kb, &path, reject)),
            "too-many-chars",
            "{name}"
        );
        let truncate = LimitOverrides {
            max_chars: Some(300),
            on_limit: Some(LimitPolicy::Truncate),
            ..Default::default()
        };
        let r = add_with(&kb, &path, truncate);
        assert!(
            matches!(r.outcome, Outcome::Created { .. }),
            "{name}: {r:?}"
        );
        let v = kb.show(name).unwrap().versions.pop().unwrap();
        assert!(v.stats.truncated && v.stats.chars <= 300, "{name}: {v:?}");
    }
}

#[test]
fn bad_content_gets_named_reasons() {
    let env = Env::new();
    let lore = env.lore();
    let kb = lore.kb("k").unwrap();
    let cases: &[(&str, Vec<u8>, &str)] = &[
        ("empty.txt", Vec::new(), "empty"),
        ("blank.md", b"   \n\n\t\n".to_vec(), "empty"),
        (
            "nul.txt",
            [b"abc\0\0\0def".as_slice(), &random_bytes(512, 3)].concat(),
            "binary",
        ),
        (
            "doc.pdf",
            b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n".to_vec(),
            "corrupted",
        ),
        (
            "scripts.html",
            b"<html><body><script>var a=1;</script><nav>Home</nav></body></html>".to_vec(),
            "empty",
        ),
    ];
    for (name, bytes, reason) in cases {
        let r = add(&kb, &env.write(name, bytes));
        assert_eq!(&failed_reason(&r), reason, "{name}");
        let d = kb.show(name).unwrap();
        assert_eq!(d.source.last_error.as_ref().unwrap().reason, *reason);
    }
}

#[test]
fn folders_are_added_recursively_skipping_hidden_files_and_named_by_relative_path() {
    let env = Env::new();
    let root = env.files.path().join("site");
    std::fs::create_dir_all(root.join("policies")).unwrap();
    std::fs::create_dir_all(root.join(".git")).unwrap();
    std::fs::write(root.join("index.md"), "# Welcome\n\nWelcome to the shop.\n").unwrap();
    std::fs::write(
        root.join("policies/returns.md"),
        "# Returns\n\nThirty days.\n",
    )
    .unwrap();
    std::fs::write(root.join(".DS_Store"), [0u8; 64]).unwrap();
    std::fs::write(root.join(".git/config"), "[core]\n").unwrap();
    let lore = env.lore();
    let kb = lore.kb("k").unwrap();
    let reports = kb
        .add_paths(
            std::slice::from_ref(&root),
            &AddOptions::default(),
            &NoProgress,
        )
        .unwrap();
    let mut names: Vec<_> = reports.iter().map(|r| r.source_name.clone()).collect();
    names.sort();
    assert_eq!(names, vec!["index.md", "policies/returns.md"]);
    assert!(reports
        .iter()
        .all(|r| matches!(r.outcome, Outcome::Created { .. })));
    // A path that does not exist is refused before anything is queued.
    let e = kb
        .add_paths(
            &[root.join("index.md"), root.join("missing.md")],
            &AddOptions::default(),
            &NoProgress,
        )
        .unwrap_err();
    assert_eq!(e.reason(), Some(lore::Reason::OriginMissing));
    assert_eq!(kb.sources().unwrap().len(), 2);
}

#[test]
fn legacy_encodings_are_decoded_and_searchable_without_accents() {
    let env = Env::new();
    let lore = env.lore();
    let kb = lore.kb("k").unwrap();
    // "Envío gratis a España en pedidos de más de 120 dólares." in windows-1252.
    let (bytes, _, _) = encoding_rs::WINDOWS_1252
        .encode("Envío gratis a España en pedidos de más de 120 dólares. ¿Preguntas? Escríbanos.");
    let r = add(&kb, &env.write("envio.txt", &bytes));
    assert!(matches!(r.outcome, Outcome::Created { .. }), "{r:?}");
    let hits = kb.search("envio espana", 5).unwrap().hits;
    assert_eq!(hits.len(), 1);
    assert!(
        hits[0].text.contains("Envío gratis a España"),
        "{}",
        hits[0].text
    );
}

#[test]
fn html_keeps_main_content_and_drops_navigation() {
    let env = Env::new();
    let lore = env.lore();
    let kb = lore.kb("k").unwrap();
    let html = r#"<!doctype html><html><head><title>Shipping</title><style>p{}</style></head>
<body><header>Brand menu</header><nav><a href="/">Home</a> Cart</nav>
<main><h1>Shipping</h1><h2>Chile</h2><p>Orders to Chile arrive in 7 to 12 business days.</p>
<table><thead><tr><th>Country</th><th>Days</th></tr></thead><tbody><tr><td>Brazil</td><td>10-15</td></tr></tbody></table>
</main><footer>Copyright footer</footer><script>track()</script></body></html>"#;
    add(&kb, &env.write("shipping.html", html));
    let hits = kb.search("chile business days", 5).unwrap().hits;
    assert_eq!(hits[0].heading_path, vec!["Shipping", "Chile"]);
    assert!(hits[0].text.contains("Country: Brazil"), "{}", hits[0].text);
    for dropped in ["Home", "Cart", "Copyright", "track", "Brand"] {
        assert!(
            kb.search(dropped, 5).unwrap().hits.is_empty(),
            "{dropped} should be dropped"
        );
    }
}

#[test]
fn product_catalogs_give_one_chunk_per_product_with_fields_and_a_stock_filter() {
    let env = Env::new();
    let lore = env.lore();
    let kb = lore.kb("k").unwrap();
    let csv = "Nombre;Descripción;Precio;Existencias;Enlace;Código\n\
               Andes Sunrise;Café de tueste medio de Huila, Colombia;US$ 16,00;120;https://brisacoffee.example/p/BR-ANDES-250;BR-ANDES-250\n\
               Boquete Geisha;Café de tueste claro de Panamá, jazmín y bergamota;US$ 38,00;0;https://brisacoffee.example/p/BR-GEISHA-100;BR-GEISHA-100\n\
               Cerrado Dark;Café de tueste oscuro de Minas Gerais, Brasil;US$ 24,00;35;https://brisacoffee.example/p/BR-CERR-500;BR-CERR-500\n";
    let path = env.write("productos.csv", csv);
    let r = kb
        .add_paths(
            &[path],
            &AddOptions {
                catalog: true,
                ..Default::default()
            },
            &NoProgress,
        )
        .unwrap();
    match &r[0].outcome {
        Outcome::Created { chunks, .. } => assert_eq!(*chunks, 3),
        other => panic!("{other:?}"),
    }
    let src = kb.source("productos.csv").unwrap();
    assert_eq!(src.kind, lore::SourceKind::Catalog);

    let hits = kb.search("café tueste Panamá", 3).unwrap().hits;
    let p = hits[0].product.as_ref().expect("product fields on the hit");
    assert_eq!(p["name"], "Boquete Geisha");
    assert_eq!(p["price"], 38.0);
    assert_eq!(p["currency"], "USD");
    assert_eq!(p["stock"], 0);
    assert_eq!(p["sku"], "BR-GEISHA-100");
    assert_eq!(hits[0].location.row_start, Some(3));

    let opts = lore::SearchOptions {
        k: 10,
        min_confidence: 0.0,
        index_filter: lore::index::IndexFilter {
            in_stock_only: true,
        },
        ..Default::default()
    };
    let names: Vec<String> = kb
        .search_with("café tueste", &opts)
        .unwrap()
        .hits
        .iter()
        .map(|h| {
            h.product.as_ref().unwrap()["name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(!names.contains(&"Boquete Geisha".to_string()));

    // A catalog without a name column is refused with the columns it has.
    let bad = env.write("bad.csv", "Precio;Existencias\n10;2\n");
    let r = kb
        .add_paths(
            &[bad],
            &AddOptions {
                catalog: true,
                ..Default::default()
            },
            &NoProgress,
        )
        .unwrap();
    assert_eq!(failed_reason(&r[0]), "malformed");
}

/// An ODS workbook of one sheet whose `<table:table>` body is `rows`.
fn ods_of(rows: &str) -> Vec<u8> {
    use std::io::Write;
    let content = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:spreadsheet><table:table table:name="Prices">{rows}</table:table></office:spreadsheet></office:body></office:document-content>"#
    );
    let manifest = r#"<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>"#;
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, body) in [
        ("mimetype", "application/vnd.oasis.opendocument.spreadsheet"),
        ("META-INF/manifest.xml", manifest),
        ("content.xml", content.as_str()),
    ] {
        zip.start_file(name, stored).unwrap();
        zip.write_all(body.as_bytes()).unwrap();
    }
    zip.finish().unwrap();
    out.into_inner()
}

#[test]
fn a_sheet_spanning_millions_of_cells_is_refused_and_the_last_good_version_serves() {
    let env = Env::new();
    let lore = env.lore();
    let kb = lore.kb("k").unwrap();
    let cell = |text: &str| {
        format!(
            r#"<table:table-cell office:value-type="string"><text:p>{text}</text:p></table:table-cell>"#
        )
    };
    let good = format!(
        "<table:table-row>{}{}</table:table-row><table:table-row>{}{}</table:table-row>",
        cell("Item"),
        cell("Price"),
        cell("Cold Brew Tower"),
        cell("129")
    );
    let path = env.write("prices.ods", ods_of(&good));
    assert_eq!(created(&add(&kb, &path)), 1);

    // The same sheet with one stray cell 10,000 rows down and 9,000 columns right: 900 bytes
    // that would make the reader build a grid of 90 million cells.
    let bomb = format!(
        r#"{good}<table:table-row>{}<table:table-cell table:number-columns-repeated="9000"/>{}</table:table-row><table:table-row table:number-rows-repeated="10000"><table:table-cell/></table:table-row><table:table-row>{}</table:table-row>"#,
        cell("x"),
        cell("y"),
        cell("z")
    );
    std::fs::write(&path, ods_of(&bomb)).unwrap();
    let r = sync(&kb, "prices.ods");
    assert_eq!(failed_reason(&r), "too-many-cells");
    let d = kb.show("prices.ods").unwrap();
    let error = d.source.last_error.as_ref().unwrap();
    assert!(error.message.contains("\"Prices\""), "{}", error.message);
    assert_eq!(d.source.active_version, Some(1));
    let hits = kb.search("cold brew tower price", 5).unwrap().hits;
    assert_eq!(hits[0].version, 1);
    assert!(hits[0].text.contains("129"), "{}", hits[0].text);
}

/// The parse time limit comes from `[limits] parse_timeout_ms`; a document that cannot be read
/// in time is refused as `parse-timeout` and the version before it keeps serving.
#[test]
fn a_parse_over_its_time_limit_is_refused_and_the_last_good_version_serves() {
    let env = Env::new();
    let path = env.write(
        "care.md",
        "# Descaling\n\nDescale the kettle every month with citric acid.\n",
    );
    {
        let lore = env.lore();
        let kb = lore.kb("k").unwrap();
        assert_eq!(created(&add(&kb, &path)), 1);
    }
    std::fs::write(
        env.data.path().join("lore.toml"),
        "[limits]\nparse_timeout_ms = 0\n",
    )
    .unwrap();
    std::fs::write(
        &path,
        "# Descaling\n\nDescale the kettle every two weeks with vinegar.\n",
    )
    .unwrap();
    let lore = env.lore();
    let kb = lore.kb("k").unwrap();
    let r = sync(&kb, "care.md");
    assert_eq!(failed_reason(&r), "parse-timeout");
    let d = kb.show("care.md").unwrap();
    let error = d.source.last_error.as_ref().unwrap();
    assert!(
        error
            .message
            .contains("markdown parsing took longer than the parse time limit (0 ms)"),
        "{}",
        error.message
    );
    assert_eq!(d.source.active_version, Some(1));
    let hits = kb.search("descale kettle", 5).unwrap().hits;
    assert_eq!(hits[0].version, 1);
    assert!(hits[0].text.contains("every month"), "{}", hits[0].text);
}
