//! Which store should answer `layerslayer search`? Generates 2,000,000 realistic paths
//! (200 layers × 10,000; Debian-like trees, Python site-packages, node_modules, Java jars; a
//! fixed seed, so every run sees the same paths) and measures, per engine: bytes on disk per
//! path, build time per path, and the median time of a substring query (`libssl.so`,
//! `log4j-core`) and of the glob `**/lib*.so*`, each counted as a whole `search` process would
//! pay it (open the store, query, collect every hit).
//!
//! Engines: (a) SQLite (rusqlite, bundled) FTS5 with `tokenize='trigram'`, in two variants
//! (`detail=full`, `detail=none`); (b) tantivy (`--features tantivy`): a trigram field whose
//! terms must all match (then the stored path decides) and a raw-path field queried by regex
//! for globs; (c) a compact store: each layer's
//! paths written once per layer file, NUL-separated and uncompressed, beside a fixed record
//! per path (kind, mode, size), read whole and scanned with `memchr::memmem`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const LAYERS: usize = 200;
const PER_LAYER: usize = 10_000;
const ROUNDS: usize = 7;

/// A small, reproducible RNG (SplitMix64).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const SYL: &[&str] = &[
    "ac", "al", "an", "ar", "ba", "be", "bi", "cu", "da", "de", "el", "en", "fo", "ga", "gi", "ho",
    "in", "ja", "ka", "ki", "lo", "lu", "ma", "me", "mi", "na", "ne", "no", "or", "pa", "pe", "po",
    "qu", "ra", "re", "ri", "sa", "se", "so", "ta", "te", "ti", "to", "un", "va", "ve", "xi", "zo",
];

fn word(rng: &mut Rng, syllables: usize) -> String {
    (0..syllables).map(|_| rng.pick(SYL)).collect()
}

/// A word of `min` to `min + spread - 1` syllables.
fn words(rng: &mut Rng, min: usize, spread: usize) -> String {
    let n = min + rng.below(spread);
    word(rng, n)
}

/// One synthetic path of the given flavour (0 Debian, 1 Python, 2 node, 3 Java/misc).
fn path(rng: &mut Rng, flavour: usize) -> (String, u64) {
    let size = 1 + (rng.next() % 200_000);
    let p = match flavour {
        0 => {
            let pkg = words(rng, 2, 2);
            match rng.below(10) {
                0..=2 => format!(
                    "usr/lib/x86_64-linux-gnu/lib{}{}.so.{}.{}.{}",
                    pkg,
                    word(rng, 1),
                    rng.below(4),
                    rng.below(20),
                    rng.below(9)
                ),
                3..=4 => format!(
                    "usr/share/doc/{}/{}",
                    pkg,
                    rng.pick(&[
                        "copyright",
                        "changelog.Debian.gz",
                        "NEWS.gz",
                        "README.Debian"
                    ])
                ),
                5 => format!(
                    "usr/share/man/man{}/{}.{}.gz",
                    1 + rng.below(8),
                    pkg,
                    1 + rng.below(8)
                ),
                6 => format!(
                    "usr/share/locale/{}/LC_MESSAGES/{}.mo",
                    rng.pick(&["de", "fr", "es", "pt_BR", "zh_CN", "ja", "ru"]),
                    pkg
                ),
                7 => format!("usr/bin/{}", pkg),
                8 => format!("usr/include/{}/{}.h", pkg, word(rng, 2)),
                _ => format!("etc/{}/{}.conf", pkg, word(rng, 2)),
            }
        }
        1 => {
            let pkg = words(rng, 2, 2);
            let module = words(rng, 2, 3);
            match rng.below(5) {
                0 => format!(
                    "usr/local/lib/python3.11/site-packages/{}/{}/__pycache__/{}.cpython-311.pyc",
                    pkg,
                    word(rng, 2),
                    module
                ),
                1 => format!(
                    "usr/local/lib/python3.11/site-packages/{}-{}.{}.{}.dist-info/{}",
                    pkg,
                    rng.below(5),
                    rng.below(30),
                    rng.below(10),
                    rng.pick(&["RECORD", "METADATA", "WHEEL", "top_level.txt"])
                ),
                _ => format!(
                    "usr/local/lib/python3.11/site-packages/{}/{}/{}.py",
                    pkg,
                    word(rng, 2),
                    module
                ),
            }
        }
        2 => {
            let mut p = String::from("app/node_modules/");
            for _ in 0..rng.below(3) {
                if rng.below(3) == 0 {
                    let _ = write!(p, "@{}/", word(rng, 2));
                }
                let _ = write!(p, "{}/node_modules/", words(rng, 2, 2));
            }
            let _ = write!(
                p,
                "{}/{}/{}.{}",
                words(rng, 2, 2),
                rng.pick(&["lib", "dist", "src", "build"]),
                word(rng, 2),
                rng.pick(&["js", "js.map", "d.ts", "json", "mjs"])
            );
            p
        }
        _ => match rng.below(3) {
            0 => format!(
                "opt/app/lib/{}-{}-{}.{}.{}.jar",
                word(rng, 2),
                word(rng, 2),
                rng.below(5),
                rng.below(20),
                rng.below(10)
            ),
            1 => format!(
                "root/.m2/repository/org/{}/{}/{}.{}/{}-{}.{}.pom",
                word(rng, 2),
                word(rng, 2),
                rng.below(5),
                rng.below(20),
                word(rng, 2),
                rng.below(5),
                rng.below(20)
            ),
            _ => format!(
                "var/lib/dpkg/info/{}.{}",
                word(rng, 3),
                rng.pick(&["list", "md5sums", "postinst", "conffiles"])
            ),
        },
    };
    (p, size)
}

/// The 200 layers; a few hold the needles (libssl.so.3 in every 10th, log4j-core in every 40th).
fn generate() -> Vec<Vec<(String, u64)>> {
    let mut rng = Rng(0x1a7e_25a7);
    (0..LAYERS)
        .map(|l| {
            let main = l % 4;
            let mut paths: Vec<(String, u64)> = (0..PER_LAYER)
                .map(|_| {
                    let flavour = if rng.below(10) < 7 {
                        main
                    } else {
                        rng.below(4)
                    };
                    path(&mut rng, flavour)
                })
                .collect();
            if l % 10 == 0 {
                paths[17].0 = "usr/lib/x86_64-linux-gnu/libssl.so.3".into();
                paths[18].0 = "usr/share/doc/libssl3/copyright".into();
            }
            if l % 40 == 0 {
                paths[33].0 = "opt/app/lib/log4j-core-2.14.1.jar".into();
            }
            paths
        })
        .collect()
}

/// `**/lib*.so*` as a regex over one path (`*` stays inside a component, `**/` spans any).
fn glob_regex(glob: &str) -> regex::Regex {
    let mut re = String::from("^");
    let mut rest = glob;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("**/") {
            re.push_str("(?:.*/)?");
            rest = r;
        } else if let Some(r) = rest.strip_prefix('*') {
            re.push_str("[^/]*");
            rest = r;
        } else if let Some(r) = rest.strip_prefix('?') {
            re.push_str("[^/]");
            rest = r;
        } else {
            let c = rest.chars().next().unwrap_or_default();
            re.push_str(&regex::escape(&c.to_string()));
            rest = &rest[c.len_utf8()..];
        }
    }
    re.push('$');
    regex::Regex::new(&re).expect("glob regex")
}

/// The glob's longest literal run (ties: the last one), which every match must contain.
fn glob_literal(glob: &str) -> String {
    glob.split(['*', '?', '/']).fold(String::new(), |best, s| {
        if s.len() >= best.len() {
            s.to_string()
        } else {
            best
        }
    })
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn dir_size(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .map(|d| {
            d.flatten()
                .map(|e| {
                    let m = e.metadata().expect("metadata");
                    if m.is_dir() {
                        dir_size(&e.path())
                    } else {
                        m.len()
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

struct Row {
    engine: String,
    bytes_per_path: f64,
    build_us_per_path: f64,
    queries: Vec<(String, Duration, usize)>,
}

// ---------------------------------------------------------------- (c) compact store

/// One file per layer (as the crate stores them): `u32 n, u32 paths_len`, the paths
/// NUL-separated, then `n` records of kind u8, mode u32, size u64 (13 bytes per path besides
/// the path), written to a temporary file and renamed into place.
fn compact_build(dir: &Path, layers: &[Vec<(String, u64)>]) {
    for (l, layer) in layers.iter().enumerate() {
        let mut paths = Vec::new();
        for (p, _) in layer {
            paths.extend_from_slice(p.as_bytes());
            paths.push(0);
        }
        let mut out = Vec::with_capacity(paths.len() + 13 * layer.len() + 8);
        out.extend_from_slice(&(layer.len() as u32).to_le_bytes());
        out.extend_from_slice(&(paths.len() as u32).to_le_bytes());
        out.extend_from_slice(&paths);
        for (_, size) in layer {
            out.push(0);
            out.extend_from_slice(&0o644u32.to_le_bytes());
            out.extend_from_slice(&size.to_le_bytes());
        }
        let checksum = xxhash_rust::xxh3::xxh3_64(&out);
        out.extend_from_slice(&checksum.to_le_bytes());
        let tmp = dir.join(format!("{l}.new"));
        std::fs::write(&tmp, &out).expect("write");
        std::fs::rename(&tmp, dir.join(format!("{l}.paths"))).expect("rename");
    }
}

/// Reads each layer's file and returns how many paths `accept` keeps among those that hold
/// `literal` (each hit resolved to its record: layer, index, size).
fn compact_query(dir: &Path, literal: &[u8], accept: &dyn Fn(&[u8]) -> bool, check: bool) -> usize {
    let finder = memchr::memmem::Finder::new(literal);
    let mut hits = Vec::new();
    for layer in 0..LAYERS {
        let data = std::fs::read(dir.join(format!("{layer}.paths"))).expect("read");
        if check {
            // What the crate checks on every read: checksum, UTF-8, one NUL per row.
            let (body, sum) = data.split_at(data.len() - 8);
            assert_eq!(
                xxhash_rust::xxh3::xxh3_64(body).to_le_bytes(),
                sum,
                "checksum"
            );
        }
        let n = u32::from_le_bytes(data[0..4].try_into().expect("n")) as usize;
        let len = u32::from_le_bytes(data[4..8].try_into().expect("len")) as usize;
        let paths = &data[8..8 + len];
        let meta = &data[8 + len..8 + len + 13 * n];
        if check {
            assert!(std::str::from_utf8(paths).is_ok());
            assert_eq!(memchr::memchr_iter(0, paths).count(), n);
        }
        let (mut from, mut counted_to, mut index) = (0, 0, 0);
        while let Some(i) = finder.find(&paths[from..]) {
            let i = from + i;
            let start = memchr::memrchr(0, &paths[..i]).map_or(0, |s| s + 1);
            let end = memchr::memchr(0, &paths[i..]).map_or(paths.len(), |e| i + e);
            let line = &paths[start..end];
            if accept(line) {
                // The path's index: the separators before it, counted once across hits.
                index += memchr::memchr_iter(0, &paths[counted_to..start]).count();
                counted_to = start;
                let m = &meta[13 * index..13 * index + 13];
                let size = u64::from_le_bytes(m[5..13].try_into().expect("size"));
                hits.push((layer, index, size));
            }
            from = end + 1;
            if from >= paths.len() {
                break;
            }
        }
    }
    hits.len()
}

fn bench_compact(
    layers: &[Vec<(String, u64)>],
    base: &Path,
    queries: &[Query],
    check: bool,
) -> Row {
    let dir = base.join("compact");
    std::fs::create_dir_all(&dir).expect("dir");
    let t = Instant::now();
    compact_build(&dir, layers);
    let build = t.elapsed();
    let size = dir_size(&dir);
    let results = time_queries(queries, |q| match q {
        Query::Substring(s) => compact_query(&dir, s.as_bytes(), &|_| true, check),
        Query::Glob(g) => {
            let re = glob_regex(g);
            let lit = glob_literal(g);
            compact_query(
                &dir,
                lit.as_bytes(),
                &|line| std::str::from_utf8(line).is_ok_and(|l| re.is_match(l)),
                check,
            )
        }
    });
    let name = if check {
        "compact store + memmem, every read checked (as the crate does)"
    } else {
        "compact store + memmem, unchecked"
    };
    row(name, size, build, results)
}

/// Each query's label, median time over [`ROUNDS`] runs of `run`, and the hits it counted.
fn time_queries(
    queries: &[Query],
    mut run: impl FnMut(&Query) -> usize,
) -> Vec<(String, Duration, usize)> {
    queries
        .iter()
        .map(|q| {
            let mut times = Vec::new();
            let mut count = 0;
            for _ in 0..ROUNDS {
                let t = Instant::now();
                count = run(q);
                times.push(t.elapsed());
            }
            (q.label(), median(times), count)
        })
        .collect()
}

fn row(engine: &str, size: u64, build: Duration, queries: Vec<(String, Duration, usize)>) -> Row {
    let n = (LAYERS * PER_LAYER) as f64;
    Row {
        engine: engine.into(),
        bytes_per_path: size as f64 / n,
        build_us_per_path: build.as_secs_f64() * 1e6 / n,
        queries,
    }
}

// ---------------------------------------------------------------- (a) SQLite FTS5 trigram

fn bench_sqlite(
    layers: &[Vec<(String, u64)>],
    base: &Path,
    queries: &[Query],
    detail: &str,
) -> Row {
    let file = base.join(format!("fts-{detail}.sqlite"));
    let t = Instant::now();
    {
        let mut db = rusqlite::Connection::open(&file).expect("open");
        db.execute_batch(&format!(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
             CREATE TABLE entry(layer INTEGER, path TEXT, kind INTEGER, size INTEGER);
             CREATE VIRTUAL TABLE path_fts USING fts5(path, content='entry', content_rowid='rowid',
                 tokenize='trigram case_sensitive 1', detail={detail});"
        ))
        .expect("schema");
        let tx = db.transaction().expect("tx");
        {
            let mut ins = tx
                .prepare("INSERT INTO entry(layer, path, kind, size) VALUES (?1, ?2, 0, ?3)")
                .expect("prepare");
            for (l, layer) in layers.iter().enumerate() {
                for (p, size) in layer {
                    ins.execute(rusqlite::params![l as i64, p, *size as i64])
                        .expect("insert");
                }
            }
        }
        tx.execute_batch("INSERT INTO path_fts(path_fts) VALUES('rebuild');")
            .expect("fts");
        tx.commit().expect("commit");
        db.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); VACUUM;")
            .expect("vacuum");
    }
    let build = t.elapsed();
    let size = std::fs::metadata(&file).expect("size").len();
    let results = time_queries(queries, |q| {
        let db = rusqlite::Connection::open(&file).expect("open");
        let (sql_glob, re) = match q {
            // GLOB is case-sensitive and answered from the trigram index.
            Query::Substring(s) => (format!("*{s}*"), None),
            // SQL's `*` crosses `/`: the index narrows, the regex decides.
            Query::Glob(g) => (
                format!("*{}", g.trim_start_matches("**/")),
                Some(glob_regex(g)),
            ),
        };
        let mut stmt = db
            .prepare("SELECT e.layer, e.path, e.size FROM path_fts f JOIN entry e ON e.rowid = f.rowid WHERE f.path GLOB ?1")
            .expect("prepare");
        let rows = stmt
            .query_map([&sql_glob], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .expect("query");
        rows.map(|r| r.expect("row"))
            .filter(|(_, p, _)| re.as_ref().is_none_or(|re| re.is_match(p)))
            .count()
    });
    row(
        &format!("SQLite FTS5 trigram, detail={detail}"),
        size,
        build,
        results,
    )
}

// ---------------------------------------------------------------- (b) tantivy

#[cfg(feature = "tantivy")]
fn bench_tantivy(
    layers: &[Vec<(String, u64)>],
    base: &Path,
    queries: &[Query],
    raw_regex: bool,
) -> Row {
    use tantivy::collector::DocSetCollector;
    use tantivy::query::{BooleanQuery, RegexQuery, TermQuery};
    use tantivy::schema::{
        FAST, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
    };
    use tantivy::tokenizer::{NgramTokenizer, TextAnalyzer};
    use tantivy::{Index, TantivyDocument, Term, doc};

    let dir = base.join(if raw_regex { "tantivy-raw" } else { "tantivy" });
    std::fs::create_dir_all(&dir).expect("dir");
    let mut sb = Schema::builder();
    let raw = sb.add_text_field("raw", STRING | STORED);
    let grams = sb.add_text_field(
        "grams",
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("tri")
                .set_index_option(IndexRecordOption::Basic),
        ),
    );
    let layer_f = sb.add_u64_field("layer", INDEXED | STORED | FAST);
    let size_f = sb.add_u64_field("size", STORED);
    let schema = sb.build();
    let t = Instant::now();
    let index = Index::create_in_dir(&dir, schema).expect("index");
    index.tokenizers().register(
        "tri",
        TextAnalyzer::from(NgramTokenizer::new(3, 3, false).expect("ngram")),
    );
    {
        let mut w = index.writer(200_000_000).expect("writer");
        for (l, layer) in layers.iter().enumerate() {
            for (p, size) in layer {
                w.add_document(doc!(raw => p.as_str(), grams => p.as_str(), layer_f => l as u64, size_f => *size))
                    .expect("add");
            }
        }
        w.commit().expect("commit");
        w.wait_merging_threads().expect("merge");
    }
    let build = t.elapsed();
    let size = dir_size(&dir);
    let results = time_queries(queries, |q| {
        let index = Index::open_in_dir(&dir).expect("open");
        index.tokenizers().register(
            "tri",
            TextAnalyzer::from(NgramTokenizer::new(3, 3, false).expect("ngram")),
        );
        let reader = index.reader().expect("reader");
        let searcher = reader.searcher();
        let (docs, re): (_, Option<regex::Regex>) = match q {
            Query::Substring(s) => {
                // The NgramTokenizer gives every gram position 0, so no phrase query:
                // all of the pattern's trigrams must be there, then the stored path
                // decides.
                let terms: Vec<Box<dyn tantivy::query::Query>> = (0..=s.len() - 3)
                    .map(|i| {
                        Box::new(TermQuery::new(
                            Term::from_field_text(grams, &s[i..i + 3]),
                            IndexRecordOption::Basic,
                        )) as Box<dyn tantivy::query::Query>
                    })
                    .collect();
                let q = BooleanQuery::intersection(terms);
                let re = regex::Regex::new(&regex::escape(s)).expect("literal");
                (
                    searcher.search(&q, &DocSetCollector).expect("search"),
                    Some(re),
                )
            }
            Query::Glob(g) if !raw_regex => {
                // The trigrams of the glob's literal runs narrow; the stored path decides.
                let terms: Vec<Box<dyn tantivy::query::Query>> = g
                    .split(['*', '?', '/'])
                    .filter(|run| run.len() >= 3)
                    .flat_map(|run| (0..=run.len() - 3).map(move |i| &run[i..i + 3]))
                    .map(|gram| {
                        Box::new(TermQuery::new(
                            Term::from_field_text(grams, gram),
                            IndexRecordOption::Basic,
                        )) as Box<dyn tantivy::query::Query>
                    })
                    .collect();
                let q = BooleanQuery::intersection(terms);
                (
                    searcher.search(&q, &DocSetCollector).expect("search"),
                    Some(glob_regex(g)),
                )
            }
            Query::Glob(g) => {
                let re = glob_regex(g);
                let pattern = re
                    .as_str()
                    .trim_start_matches('^')
                    .trim_end_matches('$')
                    .to_string();
                let rq = RegexQuery::from_pattern(&pattern, raw).expect("regex");
                (
                    searcher.search(&rq, &DocSetCollector).expect("search"),
                    None,
                )
            }
        };
        docs.into_iter()
            .filter(|addr| {
                let d: TantivyDocument = searcher.doc(*addr).expect("doc");
                re.as_ref().is_none_or(|re: &regex::Regex| {
                    use tantivy::schema::Value;
                    d.get_first(raw)
                        .and_then(|v| v.as_str())
                        .is_some_and(|p| re.is_match(p))
                })
            })
            .count()
    });
    row(
        if raw_regex {
            "tantivy, globs by regex over the raw-path terms"
        } else {
            "tantivy, trigram terms + stored-path check"
        },
        size,
        build,
        results,
    )
}

enum Query {
    Substring(&'static str),
    Glob(&'static str),
}
impl Query {
    fn label(&self) -> String {
        match self {
            Query::Substring(s) => format!("substring `{s}`"),
            Query::Glob(g) => format!("glob `{g}`"),
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let base: PathBuf = std::env::var_os("SEARCH_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("layerslayer-search-engines"));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).expect("base dir");
    let layers = generate();
    let total: usize = layers.iter().flatten().map(|(p, _)| p.len()).sum();
    println!(
        "{} paths, mean path length {:.1} bytes",
        LAYERS * PER_LAYER,
        total as f64 / (LAYERS * PER_LAYER) as f64
    );
    let queries = [
        Query::Substring("libssl.so"),
        Query::Substring("log4j-core"),
        Query::Glob("**/lib*.so*"),
    ];
    let only =
        |name: &str| args.iter().any(|a| a == name) || !args.iter().any(|a| a.starts_with("--"));
    let mut rows = Vec::new();
    if only("--compact") {
        rows.push(bench_compact(&layers, &base, &queries, false));
        rows.push(bench_compact(&layers, &base, &queries, true));
    }
    if only("--sqlite") {
        rows.push(bench_sqlite(&layers, &base, &queries, "none"));
        rows.push(bench_sqlite(&layers, &base, &queries, "full"));
    }
    #[cfg(feature = "tantivy")]
    if only("--tantivy") {
        rows.push(bench_tantivy(&layers, &base, &queries, false));
        rows.push(bench_tantivy(&layers, &base, &queries, true));
    }
    println!(
        "| engine | bytes/path | build µs/path | {} |",
        queries
            .iter()
            .map(|q| q.label())
            .collect::<Vec<_>>()
            .join(" | ")
    );
    println!("|---|---|---|{}", "---|".repeat(queries.len()));
    for r in rows {
        let qs: Vec<String> = r
            .queries
            .iter()
            .map(|(_, d, n)| format!("{:.1} ms ({n} hits)", d.as_secs_f64() * 1e3))
            .collect();
        println!(
            "| {} | {:.1} | {:.2} | {} |",
            r.engine,
            r.bytes_per_path,
            r.build_us_per_path,
            qs.join(" | ")
        );
    }
    let _ = std::fs::remove_dir_all(&base);
}
