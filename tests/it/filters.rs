//! Search filters: agents and their linked sources, topic tags, languages, kinds.

use crate::common::Env;
use lore::{AddOptions, NoProgress, SearchOptions, SourceFilter};

fn search_ids(kb: &lore::KnowledgeBase<'_>, query: &str, filter: SourceFilter) -> Vec<i64> {
    let r = kb
        .search_with(
            query,
            &SearchOptions {
                k: 10,
                filter,
                min_confidence: 0.0,
                record_gaps: false,
                ..Default::default()
            },
        )
        .unwrap();
    let mut ids: Vec<i64> = r.hits.iter().map(|h| h.source_id).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

#[test]
fn agents_see_only_their_linked_sources_and_tags_and_languages_filter() {
    let env = Env::new();
    let lore = env.lore();
    let kb = lore.kb("shop").unwrap();
    let returns = kb
        .add_text(
            "Returns policy",
            "You can return any order within 30 days for a full refund of the order.",
            &AddOptions {
                tags: vec!["Returns".into()],
                ..Default::default()
            },
            &NoProgress,
        )
        .unwrap()
        .source_id;
    let envios = kb
        .add_text(
            "Envíos",
            "Hacemos envíos de cada order a Chile y a Argentina en cinco días hábiles; \
             el seguimiento del pedido llega por correo electrónico.",
            &AddOptions {
                tags: vec!["shipping".into()],
                ..Default::default()
            },
            &NoProgress,
        )
        .unwrap()
        .source_id;
    let q = "order";
    assert_eq!(
        search_ids(&kb, q, SourceFilter::default()),
        vec![returns, envios]
    );

    // Tags are normalised to lowercase and filter by any match.
    assert_eq!(kb.source("Returns policy").unwrap().tags, vec!["returns"]);
    let by_tag = |t: &str| SourceFilter {
        tags: vec![t.into()],
        ..Default::default()
    };
    assert_eq!(search_ids(&kb, q, by_tag("returns")), vec![returns]);
    assert_eq!(search_ids(&kb, q, by_tag("shipping")), vec![envios]);
    assert!(search_ids(&kb, q, by_tag("privacy")).is_empty());
    assert!(kb
        .set_tags("Envíos", &["no spaces allowed".into()])
        .is_err());

    // Language: detected from the content unless declared.
    let by_lang = |l: &str| SourceFilter {
        languages: vec![l.into()],
        ..Default::default()
    };
    assert_eq!(search_ids(&kb, q, by_lang("es")), vec![envios]);
    assert_eq!(search_ids(&kb, q, by_lang("en")), vec![returns]);
    kb.set_language("Envíos", Some("pt")).unwrap();
    assert_eq!(search_ids(&kb, q, by_lang("pt")), vec![envios]);
    assert!(search_ids(&kb, q, by_lang("es")).is_empty());
    kb.set_language("Envíos", None).unwrap();
    assert_eq!(search_ids(&kb, q, by_lang("es")), vec![envios]);
    assert!(kb.set_language("Envíos", Some("spanish!")).is_err());

    // Agents: nothing until linked; linking and unlinking; a source serves many agents.
    let sales = kb.create_agent("sales").unwrap();
    let support = kb.create_agent("support").unwrap();
    assert!(kb.create_agent("sales").is_err(), "names are unique");
    let as_agent = |id: i64| SourceFilter {
        agent: Some(id),
        ..Default::default()
    };
    assert!(search_ids(&kb, q, as_agent(sales.id)).is_empty());
    kb.link("sales", &envios.to_string()).unwrap();
    kb.link("support", &envios.to_string()).unwrap();
    let support_row = kb.link("support", "Returns policy").unwrap();
    assert_eq!(support_row.sources, vec![returns, envios]);
    assert_eq!(search_ids(&kb, q, as_agent(sales.id)), vec![envios]);
    assert_eq!(
        search_ids(&kb, q, as_agent(support.id)),
        vec![returns, envios]
    );
    assert_eq!(
        kb.source("Envíos").unwrap().agents,
        vec![sales.id, support.id]
    );
    kb.unlink("support", "Envíos").unwrap();
    assert_eq!(search_ids(&kb, q, as_agent(support.id)), vec![returns]);
    assert!(kb.source("Envíos").is_ok(), "unlinking keeps the source");
    // Disabling turns a source off for every agent.
    kb.set_enabled("Envíos", false).unwrap();
    assert!(search_ids(&kb, q, as_agent(sales.id)).is_empty());
    kb.set_enabled("Envíos", true).unwrap();
    // Filters combine.
    let mut both = as_agent(support.id);
    both.tags = vec!["shipping".into()];
    assert!(search_ids(&kb, q, both).is_empty());

    // Another knowledge base cannot see or use these agents.
    let other = lore.kb("other").unwrap();
    assert!(other.agent("sales").is_err());
    assert!(other.agent(&sales.id.to_string()).is_err());
    assert!(other.agents().unwrap().is_empty());
}
