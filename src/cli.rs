//! Argument parsing and output of the `lore` binary. All printing lives here; the library only
//! returns values and reports progress.

use anyhow::{Context as _, Result};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use lore::store::{format_time, SourceRow};
use lore::{
    AddOptions, IngestReport, KnowledgeBase, LimitOverrides, LimitPolicy, Lore, Outcome, Progress,
    SearchOptions, SearchResults, SourceDetail, SourceFilter, SourceKind,
};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Exit status when every command succeeded.
const EXIT_OK: i32 = 0;
/// Exit status for an error (bad arguments, a refused request, or lore's own failure).
const EXIT_ERROR: i32 = 1;
/// Exit status of `add`/`sync`/`add-text` when at least one source failed to ingest (its reason
/// is printed and stored on the source).
const EXIT_INGEST_FAILED: i32 = 2;

#[derive(Parser)]
#[command(
    name = "lore",
    version,
    about = "Knowledge-source ingestion and retrieval: versioned sources, cited search"
)]
struct Cli {
    /// Data folder (catalog, indexes, originals).
    #[arg(long, global = true, env = "LORE_DATA", default_value = "./lore-data")]
    data: PathBuf,
    /// Knowledge base to work in (created on first use).
    #[arg(long, global = true, env = "LORE_KB", default_value = "default")]
    kb: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Add files, folders (recursively) and URLs (http:// or https://) as sources and ingest
    /// them.
    Add {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// For URLs: also crawl the pages under it (same host, same path prefix).
        #[arg(long)]
        with_children: bool,
        /// For URLs with children: most pages crawled.
        #[arg(long, default_value_t = 200)]
        max_pages: usize,
        /// For URLs with children: most link hops from the URL.
        #[arg(long, default_value_t = 2)]
        max_depth: u32,
        /// For URLs with children: only paths matching this glob (repeatable), e.g. /docs/*.
        #[arg(long)]
        include: Vec<String>,
        /// For URLs with children: skip paths matching this glob (repeatable).
        #[arg(long)]
        exclude: Vec<String>,
        /// Re-sync automatically every this many seconds (run by `lore sync --due`).
        #[arg(long, value_name = "SECS")]
        every: Option<u64>,
        /// The files are product catalogs (CSV, XLSX or JSON: name, description, price,
        /// currency, stock, link): one chunk per product, filterable by stock.
        #[arg(long)]
        catalog: bool,
        #[command(flatten)]
        limits: LimitArgs,
        #[command(flatten)]
        labels: LabelArgs,
        #[arg(long)]
        json: bool,
    },
    /// Add a text entry, or update the entry with the same title.
    AddText {
        #[arg(long)]
        title: String,
        /// The text itself.
        #[arg(long, conflicts_with = "file", required_unless_present = "file")]
        body: Option<String>,
        /// Read the text from a file ("-" for standard input).
        #[arg(long)]
        file: Option<PathBuf>,
        #[command(flatten)]
        limits: LimitArgs,
        #[command(flatten)]
        labels: LabelArgs,
        #[arg(long)]
        json: bool,
    },
    /// Set a source's topic tags and/or language.
    Label {
        source: String,
        /// Replace the tags with these (repeatable); `--tag ''` clears them.
        #[arg(long = "tag")]
        tags: Option<Vec<String>>,
        /// Declare the language (ISO 639-1), or `auto` to use the detected one.
        #[arg(long)]
        language: Option<String>,
    },
    /// Manage agents: consumers that only see the sources linked to them.
    Agent {
        #[command(subcommand)]
        what: AgentCommand,
    },
    /// Link sources to an agent (a source can serve many agents).
    Link {
        /// Agent id or name.
        agent: String,
        #[arg(required = true)]
        sources: Vec<String>,
    },
    /// Unlink sources from an agent; they stay in the library.
    Unlink {
        agent: String,
        #[arg(required = true)]
        sources: Vec<String>,
    },
    /// List the sources of the knowledge base.
    Sources {
        #[arg(long)]
        json: bool,
    },
    /// Show one source: status, versions with stats, warnings and errors.
    Show {
        /// Source id or unique name.
        source: String,
        /// Also print the chunks of the active version.
        #[arg(long)]
        chunks: bool,
        #[arg(long)]
        json: bool,
    },
    /// Re-read the origin of sources and ingest what changed.
    Sync {
        #[arg(required_unless_present_any = ["all", "due"], conflicts_with_all = ["all", "due"])]
        sources: Vec<String>,
        #[arg(long, conflicts_with = "due")]
        all: bool,
        /// Only the sources whose automatic re-sync interval (`add --every`) has passed; for
        /// cron.
        #[arg(long)]
        due: bool,
        #[arg(long)]
        json: bool,
    },
    /// Serve an earlier version of a source.
    Revert { source: String, version: u32 },
    /// Include a source in search again.
    Enable { source: String },
    /// Exclude a source from search (its versions are kept).
    Disable { source: String },
    /// Delete a source, its versions and its indexed chunks.
    Remove { source: String },
    /// Search the served versions; prints ranked passages with citations.
    Search {
        query: String,
        /// Number of hits.
        #[arg(short, default_value_t = lore::retrieve::DEFAULT_K)]
        k: usize,
        /// Only these sources (id or name; repeatable).
        #[arg(long = "source")]
        sources: Vec<String>,
        /// Only products not known to be out of stock (product catalogs).
        #[arg(long)]
        in_stock: bool,
        /// Only sources of this kind (file, text, catalog, url; repeatable).
        #[arg(long = "kind", value_parser = parse_kind)]
        kinds: Vec<SourceKind>,
        /// Search as this agent: only the sources linked to it (id or name).
        #[arg(long)]
        agent: Option<String>,
        /// Only sources with this topic tag (repeatable).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// Only sources in this language (repeatable), e.g. es.
        #[arg(long = "lang")]
        languages: Vec<String>,
        /// text (BM25), vector (embeddings) or hybrid (both, fused).
        #[arg(long, default_value = "hybrid", value_parser = parse_mode)]
        mode: lore::SearchMode,
        /// Hybrid fusion by weighted scores instead of reciprocal rank fusion: 0 = all
        /// full-text, 1 = all semantic.
        #[arg(long, value_name = "RATIO")]
        semantic_ratio: Option<f32>,
        /// Withhold results below this confidence (0 to 1; 0 shows everything found).
        #[arg(long, default_value_t = lore::retrieve::DEFAULT_MIN_CONFIDENCE)]
        min_confidence: f32,
        /// Do not count this question as a knowledge gap if nothing relevant is found.
        #[arg(long)]
        no_gap: bool,
        #[arg(long)]
        json: bool,
    },
    /// Questions that found nothing relevant, most asked first.
    Gaps {
        #[arg(long)]
        json: bool,
    },
    /// Run BEIR-format retrieval evaluation sets end to end and print nDCG@10, Recall@10 and
    /// MRR@10 per set and mode.
    Eval {
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Retrieval mode to evaluate: text, vector, hybrid, or all three.
        #[arg(long, default_value = "all", value_parser = ["text", "vector", "hybrid", "all"])]
        mode: String,
        /// Hybrid by weighted scores (0 all full-text … 1 all semantic) instead of RRF.
        #[arg(long, value_name = "RATIO")]
        semantic_ratio: Option<f32>,
        /// One JSON object per line per set and mode.
        #[arg(long)]
        json: bool,
    },
    /// Run the HTTP API (with the admin page, background ingestion workers and scheduled
    /// re-syncs) until interrupted. Keys, quotas and workers: the `[serve]` table of
    /// lore.toml and LORE_OPERATOR_KEY.
    Serve {
        #[arg(long, default_value = "127.0.0.1:7700")]
        addr: std::net::SocketAddr,
    },
    /// Speak the Model Context Protocol on stdin/stdout: tools `search` and `list_sources`
    /// over the knowledge base given by --kb.
    Mcp {
        /// Search only as this agent (id or name): its linked sources.
        #[arg(long)]
        agent: Option<String>,
    },
    /// Quotas, current counts and usage per day (parses, pages, chunks, embeddings,
    /// searches) of the knowledge base.
    Usage {
        #[arg(long)]
        json: bool,
    },
    /// Measure parse throughput.
    Bench {
        #[command(subcommand)]
        what: BenchCommand,
    },
    /// Ingest the bundled sample-sources/ into a temporary knowledge base and ask it questions.
    Demo {
        /// Folder of sample sources (default: the bundled sample-sources/).
        #[arg(long)]
        samples: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum AgentCommand {
    /// Create an agent.
    Add { name: String },
    /// List agents with their linked sources.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Rename an agent (its links and keys stay).
    Rename {
        /// Agent id or name.
        agent: String,
        new_name: String,
    },
    /// Delete an agent with its links and API keys; the sources stay in the library.
    Remove {
        /// Agent id or name.
        agent: String,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Parse every file under DIR; report files, pages, bytes, seconds, pages/s, MB/s and
    /// failures by reason, per format.
    Parse {
        dir: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

/// Topic tags and language given to sources when they are added.
#[derive(Args, Clone, Default)]
struct LabelArgs {
    /// Topic tag (returns, shipping, privacy, terms, contacts, …; repeatable).
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// The sources' language (ISO 639-1, e.g. es); detected when not given.
    #[arg(long)]
    language: Option<String>,
}

#[derive(Args, Clone, Copy)]
struct LimitArgs {
    /// Refuse files larger than this many bytes.
    #[arg(long)]
    max_bytes: Option<u64>,
    /// Character limit of a source's text.
    #[arg(long)]
    max_chars: Option<u64>,
    /// Page limit of paged documents (PDF).
    #[arg(long)]
    page_limit: Option<u32>,
    /// What to do over the character or page limit: reject or truncate.
    #[arg(long, value_parser = parse_policy)]
    on_limit: Option<LimitPolicy>,
}

fn parse_kind(s: &str) -> Result<SourceKind, String> {
    SourceKind::parse(s)
        .map_err(|_| format!("unknown source kind {s:?} (file, text, catalog, url)"))
}

fn parse_mode(s: &str) -> Result<lore::SearchMode, String> {
    s.parse::<lore::SearchMode>().map_err(|e| e.to_string())
}

fn parse_policy(s: &str) -> Result<LimitPolicy, String> {
    s.parse::<LimitPolicy>().map_err(|e| e.to_string())
}

impl LimitArgs {
    fn options(self) -> AddOptions {
        AddOptions {
            catalog: false,
            web: None,
            sync_every_secs: None,
            limits: LimitOverrides {
                max_bytes: self.max_bytes,
                max_chars: self.max_chars,
                max_pages: self.page_limit,
                on_limit: self.on_limit,
            },
            ..AddOptions::default()
        }
    }
}

pub fn main() -> i32 {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LORE_LOG")
                // lopdf logs every repair it makes to a damaged PDF; what matters reaches the
                // user as the version's warnings or its named reason instead.
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,lopdf=off")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            EXIT_ERROR
        }
    }
}

fn run(cli: Cli) -> Result<i32> {
    match &cli.command {
        Command::Demo { samples } => return demo(samples.as_deref()),
        Command::Bench {
            what: BenchCommand::Parse { dir, json },
        } => return bench_parse(dir, *json),
        Command::Eval {
            dirs,
            mode,
            semantic_ratio,
            json,
        } => {
            let fusion = semantic_ratio.map_or(lore::Fusion::Rrf, |r| lore::Fusion::Weighted {
                semantic_ratio: r.clamp(0.0, 1.0),
            });
            return eval(dirs, mode, fusion, *json);
        }
        _ => {}
    }
    match &cli.command {
        Command::Serve { addr } => return serve(&cli.data, *addr),
        Command::Mcp { agent } => return mcp(&cli.data, &cli.kb, agent.as_deref()),
        _ => {}
    }
    let lore = Lore::open(&cli.data)
        .with_context(|| format!("opening data folder {}", cli.data.display()))?;
    // Commands that build versions, delete them or search need the embedder; listing and
    // showing do not, and stay instant.
    let semantic = matches!(
        cli.command,
        Command::Add { .. }
            | Command::AddText { .. }
            | Command::Sync { .. }
            | Command::Remove { .. }
            | Command::Search { .. }
    );
    let lore = if semantic { with_embedder(lore)? } else { lore };
    if let Command::Usage { json } = cli.command {
        return usage(&lore, &cli.data, &cli.kb, json);
    }
    let kb = lore.kb(&cli.kb)?;
    match cli.command {
        Command::Add {
            paths,
            with_children,
            max_pages,
            max_depth,
            include,
            exclude,
            every,
            catalog,
            limits,
            labels,
            json,
        } => {
            let bar = Bar::new(json);
            let opts = AddOptions {
                tags: labels.tags,
                language: labels.language,
                catalog,
                web: Some(lore::store::WebOptions {
                    with_children,
                    max_pages,
                    max_depth,
                    include,
                    exclude,
                }),
                sync_every_secs: every,
                ..limits.options()
            };
            let reports = kb.add_paths(&paths, &opts, &bar)?;
            Ok(print_reports(&reports, json))
        }
        Command::AddText {
            title,
            body,
            file,
            limits,
            labels,
            json,
        } => {
            let body = match (body, file) {
                (Some(b), _) => b,
                (None, Some(f)) if f.as_os_str() == "-" => {
                    std::io::read_to_string(std::io::stdin()).context("reading standard input")?
                }
                (None, Some(f)) => std::fs::read_to_string(&f)
                    .with_context(|| format!("reading {}", f.display()))?,
                (None, None) => anyhow::bail!("give --body or --file"),
            };
            let opts = AddOptions {
                tags: labels.tags,
                language: labels.language,
                ..limits.options()
            };
            let report = kb.add_text(&title, &body, &opts, &lore::NoProgress)?;
            Ok(print_reports(&[report], json))
        }
        Command::Sources { json } => {
            let sources = kb.sources()?;
            if json {
                let list: Vec<_> = sources.iter().map(source_json).collect();
                print_json(&serde_json::json!({ "kb": kb.name(), "sources": list }));
            } else {
                print_sources(&sources);
            }
            Ok(EXIT_OK)
        }
        Command::Show {
            source,
            chunks,
            json,
        } => {
            let detail = kb.show(&source)?;
            let chunk_rows = if chunks {
                kb.chunks(&source, None)?
            } else {
                Vec::new()
            };
            if json {
                let mut v = serde_json::to_value(&detail)?;
                if chunks {
                    v["chunks"] = serde_json::to_value(&chunk_rows)?;
                }
                print_json(&v);
            } else {
                print_detail(&detail);
                for c in &chunk_rows {
                    println!(
                        "\n[{}] {}\n{}",
                        c.ord,
                        lore::retrieve::citation(
                            &detail.source.name,
                            detail.source.active_version.unwrap_or(0),
                            &c.heading_path,
                            &c.location
                        ),
                        c.text
                    );
                }
            }
            Ok(EXIT_OK)
        }
        Command::Sync {
            sources,
            all,
            due,
            json,
        } => {
            let bar = Bar::new(json);
            let reports = if due {
                kb.sync_due(&bar)?
            } else if all {
                kb.sync_all(&bar)?
            } else {
                kb.sync(&sources, &bar)?
            };
            Ok(print_reports(&reports, json))
        }
        Command::Revert { source, version } => {
            let s = kb.revert(&source, version)?;
            println!("{} (id {}) now serves v{version}", s.name, s.id);
            Ok(EXIT_OK)
        }
        Command::Enable { source } => {
            let s = kb.set_enabled(&source, true)?;
            println!("{} (id {}) enabled", s.name, s.id);
            Ok(EXIT_OK)
        }
        Command::Disable { source } => {
            let s = kb.set_enabled(&source, false)?;
            println!("{} (id {}) disabled", s.name, s.id);
            Ok(EXIT_OK)
        }
        Command::Remove { source } => {
            let s = kb.remove(&source)?;
            println!("{} (id {}) removed", s.name, s.id);
            Ok(EXIT_OK)
        }
        Command::Search {
            query,
            k,
            sources,
            kinds,
            agent,
            tags,
            languages,
            mode,
            semantic_ratio,
            in_stock,
            min_confidence,
            no_gap,
            json,
        } => {
            let mut source_ids = Vec::new();
            for key in &sources {
                source_ids.push(kb.source(key)?.id);
            }
            let agent = match agent {
                Some(a) => Some(kb.agent(&a)?.id),
                None => None,
            };
            let opts = SearchOptions {
                k,
                filter: SourceFilter {
                    source_ids,
                    kinds,
                    tags: tags.iter().map(|t| t.to_lowercase()).collect(),
                    languages: languages.iter().map(|l| l.to_lowercase()).collect(),
                    agent,
                },
                min_confidence,
                record_gaps: !no_gap,
                index_filter: lore::index::IndexFilter {
                    in_stock_only: in_stock,
                },
                mode,
                fusion: match semantic_ratio {
                    Some(r) if (0.0..=1.0).contains(&r) => {
                        lore::Fusion::Weighted { semantic_ratio: r }
                    }
                    Some(r) => anyhow::bail!("--semantic-ratio must be between 0 and 1, not {r}"),
                    None => lore::Fusion::Rrf,
                },
            };
            let results = kb.search_with(&query, &opts)?;
            if json {
                print_json(&results);
            } else {
                print_hits(&results, 600);
            }
            Ok(EXIT_OK)
        }
        Command::Label {
            source,
            tags,
            language,
        } => {
            let mut s = kb.source(&source)?;
            if let Some(tags) = tags {
                let tags: Vec<String> = tags.into_iter().filter(|t| !t.is_empty()).collect();
                s = kb.set_tags(&source, &tags)?;
            }
            if let Some(l) = language {
                let l = (l != "auto").then_some(l);
                s = kb.set_language(&source, l.as_deref())?;
            }
            println!(
                "{} (id {}): tags [{}], language {}",
                s.name,
                s.id,
                s.tags.join(", "),
                s.language.as_deref().unwrap_or("detected")
            );
            Ok(EXIT_OK)
        }
        Command::Agent {
            what: AgentCommand::Add { name },
        } => {
            let a = kb.create_agent(&name)?;
            println!(
                "agent {} (id {}) created; link sources with `lore link`",
                a.name, a.id
            );
            Ok(EXIT_OK)
        }
        Command::Agent {
            what: AgentCommand::List { json },
        } => {
            let agents = kb.agents()?;
            if json {
                print_json(&serde_json::json!({ "kb": kb.name(), "agents": agents }));
            } else if agents.is_empty() {
                println!("no agents; create one with `lore agent add NAME`");
            } else {
                let names: std::collections::HashMap<i64, String> =
                    kb.sources()?.into_iter().map(|s| (s.id, s.name)).collect();
                for a in &agents {
                    let linked: Vec<String> = a
                        .sources
                        .iter()
                        .map(|id| names.get(id).cloned().unwrap_or_else(|| id.to_string()))
                        .collect();
                    println!("{:>4}  {:<24} {}", a.id, a.name, linked.join(", "));
                }
            }
            Ok(EXIT_OK)
        }
        Command::Agent {
            what: AgentCommand::Rename { agent, new_name },
        } => {
            let a = kb.rename_agent(&agent, &new_name)?;
            println!("agent {} is now {}", a.id, a.name);
            Ok(EXIT_OK)
        }
        Command::Agent {
            what: AgentCommand::Remove { agent },
        } => {
            let (a, keys) = kb.delete_agent(&agent)?;
            println!(
                "agent {} (id {}) removed with {} link(s) and {keys} key(s); its sources stay",
                a.name,
                a.id,
                a.sources.len()
            );
            Ok(EXIT_OK)
        }
        Command::Link { agent, sources } => link_sources(&kb, &agent, &sources, true),
        Command::Unlink { agent, sources } => link_sources(&kb, &agent, &sources, false),
        Command::Gaps { json } => {
            let gaps = kb.gaps()?;
            if json {
                print_json(&serde_json::json!({ "kb": kb.name(), "gaps": gaps }));
            } else if gaps.is_empty() {
                println!("no knowledge gaps: every question found something relevant");
            } else {
                println!(
                    "{:>5}  {:<20}  {:>10}  question",
                    "count", "last seen", "confidence"
                );
                for g in &gaps {
                    println!(
                        "{:>5}  {:<20}  {:>10.2}  {}",
                        g.count,
                        format_time(g.last_seen),
                        g.best_confidence,
                        g.query
                    );
                }
            }
            Ok(EXIT_OK)
        }
        Command::Demo { .. }
        | Command::Bench { .. }
        | Command::Eval { .. }
        | Command::Serve { .. }
        | Command::Mcp { .. }
        | Command::Usage { .. } => {
            unreachable!("handled above")
        }
    }
}

fn link_sources(
    kb: &KnowledgeBase<'_>,
    agent: &str,
    sources: &[String],
    link: bool,
) -> Result<i32> {
    let mut a = kb.agent(agent)?;
    for s in sources {
        a = if link {
            kb.link(agent, s)?
        } else {
            kb.unlink(agent, s)?
        };
    }
    println!(
        "agent {} (id {}) now sees {} source(s)",
        a.name,
        a.id,
        a.sources.len()
    );
    Ok(EXIT_OK)
}

/// Gives the engine its configured embedder (fetching the model on first use, with a
/// progress message); says plainly when semantic search is unavailable.
fn with_embedder(lore: Lore) -> Result<Lore> {
    let bar = Bar::new(false);
    let resolved = lore::embed::resolve::resolve(&lore.config().embed, &bar)?;
    if let Some(why) = &resolved.fallback {
        eprintln!("note: {why}");
    }
    Ok(match resolved.embedder {
        Some(e) => lore.with_embedder(e)?,
        None => lore,
    })
}

/// An indicatif bar behind the library's [`Progress`]; hidden for JSON output, for a single
/// item, and when standard error is not a terminal.
/// One bar per stage: a new `start` (ingesting, then embedding) replaces the finished one.
struct Bar {
    hidden: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl Bar {
    fn new(json: bool) -> Self {
        Bar {
            hidden: json,
            bar: Mutex::new(None),
        }
    }

    fn with(&self, f: impl FnOnce(&ProgressBar)) {
        if let Some(b) = self.bar.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            f(b);
        }
    }
}

impl Progress for Bar {
    fn start(&self, total: u64, what: &str) {
        if self.hidden || total < 2 {
            return;
        }
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {wide_msg} ({eta})")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(what.to_string());
        if let Some(old) = self
            .bar
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .replace(bar)
        {
            old.finish_and_clear();
        }
    }
    fn inc(&self, n: u64) {
        self.with(|b| b.inc(n));
    }
    fn message(&self, msg: &str) {
        if self.hidden {
            return;
        }
        let mut shown = false;
        self.with(|b| {
            b.set_message(msg.to_string());
            shown = true;
        });
        // Before any bar (the model download), a message is a line of its own.
        if !shown && msg.starts_with("downloading") {
            eprintln!("{msg}");
        }
    }
    fn finish(&self) {
        self.with(|b| b.finish_and_clear());
    }
}

fn print_json<T: serde::Serialize + ?Sized>(v: &T) {
    match serde_json::to_string_pretty(v) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("error: cannot encode json: {e}"),
    }
}

fn source_json(s: &SourceRow) -> serde_json::Value {
    let mut v = serde_json::to_value(s).unwrap_or_default();
    v["status"] = serde_json::Value::from(s.status().as_str());
    v
}

fn print_reports(reports: &[IngestReport], json: bool) -> i32 {
    let failed = reports
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Failed { .. }))
        .count();
    if json {
        print_json(&serde_json::json!({ "reports": reports, "failed": failed }));
    } else {
        for r in reports {
            match &r.outcome {
                Outcome::Created {
                    version,
                    chunks,
                    warnings,
                } => {
                    println!("added    {} v{version} ({chunks} chunks)", r.source_name);
                    for w in warnings {
                        println!("         warning: {w}");
                    }
                }
                Outcome::Unchanged { version } => {
                    println!("same     {} (v{version} unchanged)", r.source_name)
                }
                Outcome::Failed {
                    version,
                    reason,
                    message,
                } => println!(
                    "FAILED   {} (id {}) v{version}: {reason}: {message}",
                    r.source_name, r.source_id
                ),
            }
        }
        if reports.is_empty() {
            println!("nothing to do");
        } else if failed > 0 {
            println!(
                "{failed} of {} failed; sources that had a good version keep serving it",
                reports.len()
            );
        }
    }
    if failed > 0 {
        EXIT_INGEST_FAILED
    } else {
        EXIT_OK
    }
}

fn print_sources(sources: &[SourceRow]) {
    if sources.is_empty() {
        println!("no sources yet: add some with `lore add PATH` or `lore add-text`");
        return;
    }
    println!(
        "{:>4}  {:<5} {:<10} {:>6}  name",
        "id", "kind", "status", "active"
    );
    for s in sources {
        let active = s
            .active_version
            .map_or_else(|| "-".to_string(), |v| format!("v{v}"));
        let mut line = format!(
            "{:>4}  {:<5} {:<10} {:>6}  {}",
            s.id,
            s.kind.as_str(),
            s.status().as_str(),
            active,
            s.name
        );
        if let Some(e) = &s.last_error {
            line.push_str(&format!("  ({}: {})", e.reason, e.message));
        }
        println!("{line}");
    }
}

fn print_detail(d: &SourceDetail) {
    let s = &d.source;
    println!("{} (id {})", s.name, s.id);
    println!("  kind     {}", s.kind.as_str());
    if let Some(o) = &s.origin {
        println!("  origin   {o}");
    }
    println!("  status   {}", d.status.as_str());
    if let Some(e) = &s.last_error {
        println!("  error    {}: {}", e.reason, e.message);
    }
    println!(
        "  active   {}",
        s.active_version
            .map_or_else(|| "none".to_string(), |v| format!("v{v}"))
    );
    println!("  added    {}", format_time(s.created_at));
    println!("  versions");
    for v in &d.versions {
        let mut line = format!(
            "    v{:<3} {:<8} {}",
            v.number,
            v.state.as_str(),
            format_time(v.created_at)
        );
        if v.state == lore::VersionState::Ready {
            line.push_str(&format!(
                "  {} bytes, {} chars, {} chunks{}{}",
                v.stats.bytes,
                v.stats.chars,
                v.stats.chunks,
                v.format
                    .as_deref()
                    .map(|f| format!(", {f}"))
                    .unwrap_or_default(),
                if v.stats.truncated { ", truncated" } else { "" }
            ));
        }
        if v.pruned {
            line.push_str("  (pruned)");
        }
        if Some(v.number) == s.active_version {
            line.push_str("  <- active");
        }
        println!("{line}");
        if let Some(e) = &v.error {
            println!("         error: {}: {}", e.reason, e.message);
        }
        for w in &v.warnings {
            println!("         warning: {w}");
        }
    }
    if !d.pages.is_empty() {
        println!("  pages of the active version");
        for p in &d.pages {
            match &p.note {
                Some(n) => println!("    {}  ({n})", p.url),
                None => println!("    {}", p.url),
            }
        }
    }
}

fn print_hits(results: &SearchResults, max_chars: usize) {
    if results.nothing_relevant {
        println!(
            "nothing relevant for {:?} (confidence {:.2})",
            results.query, results.confidence
        );
        if results.hits.is_empty() {
            return;
        }
    }
    for (i, h) in results.hits.iter().enumerate() {
        println!("{}. [{:.2}] {}", i + 1, h.score, h.citation);
        if let Some(p) = &h.product {
            println!(
                "   product: {} | price {} {} | stock {} | {}",
                p["name"].as_str().unwrap_or("?"),
                p["price"],
                p["currency"].as_str().unwrap_or(""),
                p["stock"],
                p["link"].as_str().unwrap_or("")
            );
        }
        let text: String = h.text.chars().take(max_chars).collect();
        let ellipsis = if h.text.chars().count() > max_chars {
            "…"
        } else {
            ""
        };
        for line in text.lines() {
            println!("   {line}");
        }
        if !ellipsis.is_empty() {
            println!("   {ellipsis}");
        }
    }
}

/// Each set is ingested into a fresh knowledge base in a temporary folder, so runs are
/// independent and leave nothing behind.
fn eval(dirs: &[PathBuf], mode: &str, fusion: lore::Fusion, json: bool) -> Result<i32> {
    use lore::SearchMode;
    let progress = Bar::new(json);
    let resolved = lore::embed::resolve::resolve(&lore::Config::default().embed, &progress)?;
    if let Some(why) = &resolved.fallback {
        eprintln!("note: {why}");
    }
    let mut modes: Vec<SearchMode> = match mode {
        "all" => vec![SearchMode::Text, SearchMode::Vector, SearchMode::Hybrid],
        m => vec![m.parse()?],
    };
    let embedder_name = resolved
        .embedder
        .as_ref()
        .map_or("none".to_string(), |e| e.model_id().to_string());
    if resolved.embedder.is_none() {
        if mode == "all" {
            modes.retain(|m| *m == SearchMode::Text);
        } else if modes != [SearchMode::Text] {
            anyhow::bail!("--mode {mode} needs an embedder (LORE_EMBEDDER / [embed])");
        }
    }
    // The passage cache outlives the throwaway data folders, so reruns embed nothing.
    let cache = lore::embed::default_model_dir()
        .parent()
        .map(|p| p.join("eval-embeddings.db"))
        .unwrap_or_else(|| PathBuf::from("eval-embeddings.db"));
    if let Some(dir) = cache.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    if !json {
        println!(
            "{:<14} {:<7} {:<22} {:>8} {:>10} {:>8} {:>8}",
            "set", "mode", "embedder", "nDCG@10", "Recall@10", "MRR@10", "queries"
        );
    }
    for dir in dirs {
        let set = lore::eval::load_set(dir)?;
        let tmp = tempfile::tempdir().context("creating a temporary data folder")?;
        let mut lore = Lore::open(tmp.path())?;
        if let Some(e) = &resolved.embedder {
            lore = lore.with_embedder_cached_at(e.clone(), &cache)?;
        }
        let kb = lore.kb("eval")?;
        lore::eval::ingest(&kb, &set, &progress)?;
        for m in &modes {
            let r = lore::eval::evaluate(&kb, &set, *m, fusion, &progress)?;
            if json {
                let mut v = serde_json::to_value(&r)?;
                v["embedder"] = serde_json::Value::from(embedder_name.clone());
                println!("{}", serde_json::to_string(&v)?);
            } else {
                println!(
                    "{:<14} {:<7} {:<22} {:>8.3} {:>10.3} {:>8.3} {:>8}",
                    r.set,
                    r.mode,
                    embedder_name,
                    r.ndcg_at_10,
                    r.recall_at_10,
                    r.mrr_at_10,
                    r.queries
                );
            }
        }
    }
    Ok(EXIT_OK)
}

fn bench_parse(dir: &Path, json: bool) -> Result<i32> {
    let b = lore::bench::parse_dir(dir, &lore::parse::ParseOptions::default())?;
    if json {
        print_json(&b);
        return Ok(EXIT_OK);
    }
    println!(
        "{} files in {} ({:.2} s wall, {} panics)",
        b.files, b.dir, b.wall_seconds, b.panics
    );
    println!(
        "{:<11} {:>6} {:>7} {:>11} {:>8} {:>9} {:>7}  failed",
        "format", "files", "pages", "bytes", "seconds", "pages/s", "MB/s"
    );
    for (name, f) in &b.formats {
        let failed = f
            .failed
            .iter()
            .map(|(r, n)| format!("{r}={n}"))
            .collect::<Vec<_>>()
            .join(" ");
        println!(
            "{name:<11} {:>6} {:>7} {:>11} {:>8.3} {:>9.1} {:>7.2}  {failed}",
            f.files, f.pages, f.bytes, f.seconds, f.pages_per_s, f.mb_per_s
        );
    }
    Ok(EXIT_OK)
}

/// Finds the bundled samples: `--samples`, else `./sample-sources`, else the folder beside the
/// crate's manifest (so `cargo run -- demo` works from anywhere in the checkout).
fn sample_dir(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    let candidates = [
        PathBuf::from("sample-sources"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-sources"),
    ];
    candidates
        .into_iter()
        .find(|p| p.is_dir())
        .context("sample-sources/ not found; pass --samples DIR")
}

const DEMO_QUESTIONS: &[&str] = &[
    "How many days do I have to return an item?",
    "¿Hacen envíos a Chile?",
    "Qual o prazo de devolução?",
    "Do you sell my personal data?",
    "What is the warranty on the grinder?",
    "BK-200 kettle temperature",
    "¿Cuánto tarda el envío a Colombia?",
    "Posso cancelar a assinatura?",
    "Do you offer a student discount?",
    "how to descale the kettle",
    "Cerrado Dark 500 g price",
];

fn demo(samples: Option<&Path>) -> Result<i32> {
    let samples = sample_dir(samples)?;
    let tmp = tempfile::tempdir().context("creating a temporary data folder")?;
    let lore = with_embedder(Lore::open(tmp.path())?)?;
    let kb = lore.kb("demo")?;
    println!(
        "== lore demo: ingesting {} into a fresh knowledge base ({})\n",
        samples.display(),
        tmp.path().display()
    );
    // Everything is a document source except the product catalog, which is added as a
    // catalog so that each product is one chunk with its fields.
    let mut documents: Vec<PathBuf> = std::fs::read_dir(&samples)
        .with_context(|| format!("reading {}", samples.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().is_some_and(|n| n != "catalog"))
        .collect();
    documents.sort();
    let mut reports = kb.add_paths(&documents, &AddOptions::default(), &Bar::new(false))?;
    let catalog_dir = samples.join("catalog");
    if catalog_dir.is_dir() {
        let opts = AddOptions {
            catalog: true,
            ..AddOptions::default()
        };
        reports.extend(kb.add_paths(&[catalog_dir], &opts, &lore::NoProgress)?);
    }
    print_reports(&reports, false);
    println!();
    for q in DEMO_QUESTIONS {
        println!("== {q}");
        print_hits(&kb.search(q, 2)?, 300);
        println!();
    }
    println!("== roast (product catalog, in stock only: the sold-out Boquete Geisha is left out)");
    let in_stock = SearchOptions {
        k: 4,
        min_confidence: 0.0,
        filter: SourceFilter {
            kinds: vec![SourceKind::Catalog],
            ..SourceFilter::default()
        },
        index_filter: lore::index::IndexFilter {
            in_stock_only: true,
        },
        ..SearchOptions::default()
    };
    print_hits(&kb.search_with("roast", &in_stock)?, 120);
    println!();
    demo_versions(&kb, tmp.path())?;
    println!("\n== knowledge gaps (questions that found nothing relevant)");
    for g in kb.gaps()? {
        println!("{} x {:?}", g.count, g.query);
    }
    Ok(EXIT_OK)
}

/// Shows what versions buy: an update that fails keeps the last good version serving.
fn demo_versions(kb: &KnowledgeBase<'_>, dir: &Path) -> Result<()> {
    println!("== versions: a broken update never loses the last good version");
    let file = dir.join("opening-hours.md");
    std::fs::write(
        &file,
        "# Opening hours\n\nThe Miami roastery cafe is open daily from 7:00 to 19:00.\n",
    )?;
    kb.add_paths(
        std::slice::from_ref(&file),
        &AddOptions::default(),
        &lore::NoProgress,
    )?;
    println!(
        "added opening-hours.md v1; now its file is overwritten with binary garbage and synced:"
    );
    std::fs::write(&file, [0u8, 159, 146, 150, 0, 1, 2, 3].repeat(64))?;
    let reports = kb.sync(&["opening-hours.md".to_string()], &lore::NoProgress)?;
    print_reports(&reports, false);
    let detail = kb.show("opening-hours.md")?;
    println!(
        "status: {} (serving v{})",
        detail.status.as_str(),
        detail.source.active_version.unwrap_or(0)
    );
    print_hits(&kb.search("when is the roastery cafe open", 1)?, 300);
    Ok(())
}

/// `lore serve`: the HTTP API until Ctrl-C (or SIGTERM).
fn serve(data: &Path, addr: std::net::SocketAddr) -> Result<i32> {
    let config = lore::serve::ServeConfig::load(data)?;
    let lore = lore::serve::open_lore(data, &config)
        .with_context(|| format!("opening data folder {}", data.display()))?;
    let lore = with_embedder(lore)?;
    let rt = tokio::runtime::Runtime::new().context("starting the runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening on {addr}"))?;
        eprintln!("lore serve: http://{}", listener.local_addr()?);
        lore::serve::run(lore, config, listener, shutdown_signal()).await?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(EXIT_OK)
}

/// Resolves on Ctrl-C or SIGTERM (how service managers stop a process).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    eprintln!("lore serve: stopping (finishing running ingestion)");
}

/// `lore mcp`: MCP over stdio until the client hangs up.
fn mcp(data: &Path, kb: &str, agent: Option<&str>) -> Result<i32> {
    let lore =
        Lore::open(data).with_context(|| format!("opening data folder {}", data.display()))?;
    let server = lore::mcp::LoreMcp::new(lore, kb, agent)?;
    let rt = tokio::runtime::Runtime::new().context("starting the runtime")?;
    rt.block_on(lore::mcp::serve_stdio(server))?;
    Ok(EXIT_OK)
}

/// `lore usage`: quotas, counts and usage per day.
fn usage(lore: &Lore, data: &Path, kb: &str, json: bool) -> Result<i32> {
    let config = lore::serve::ServeConfig::load(data)?;
    let kb = lore
        .existing_kb(kb)?
        .with_context(|| format!("no knowledge base {kb:?}"))?;
    let quotas = lore
        .catalog()
        .quota_overrides(kb.id())?
        .apply(config.quotas);
    let report = lore::serve::kbs::usage_report(&kb, quotas)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(EXIT_OK);
    }
    let limit = |v: Option<u64>| v.map_or_else(|| "unlimited".to_string(), |v| v.to_string());
    println!("knowledge base {}", kb.name());
    println!(
        "  sources        {} of {}",
        report.sources,
        limit(report.quotas.max_sources)
    );
    println!(
        "  storage bytes  {} of {}",
        report.storage_bytes,
        limit(report.quotas.max_storage_bytes)
    );
    println!(
        "  parse jobs/hour {}, searches/minute {}",
        limit(report.quotas.parse_jobs_per_hour),
        limit(report.quotas.searches_per_minute)
    );
    println!("day          parses    pages   chunks  embeddings  searches");
    for d in &report.days {
        println!(
            "{}  {:>7}  {:>7}  {:>7}  {:>10}  {:>8}",
            d.day,
            d.usage.parses,
            d.usage.pages,
            d.usage.chunks,
            d.usage.embeddings,
            d.usage.searches
        );
    }
    if report.days.is_empty() {
        println!("(no usage in the last 30 days)");
    }
    Ok(EXIT_OK)
}
