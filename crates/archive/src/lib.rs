//! Full-text search over a brand's archived conversations.
//!
//! Each brand has its own [tantivy](https://docs.rs/tantivy) index in its own directory, so that
//! no query can reach another brand's messages and a brand's index can be dropped and rebuilt
//! alone. Message text is cut into words by [jieba](https://docs.rs/jieba-rs) (Chinese) and at
//! word boundaries (other scripts), normalised like the monitoring rules (full-width to ASCII,
//! lower case), and each word is then replaced by a keyed hash (HMAC-SHA-256 with the brand's
//! search key, 96 bits): the index on disk holds no message text, only which messages share a
//! keyed word. A query is cut and keyed the same way. The messages themselves stay in the
//! database, encrypted; the index is derived from it and rebuilt from it
//! ([`BrandIndex::last_indexed`] says how far it got).

pub mod analysis;
pub mod catalogue;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use analysis::{Cutter, WordTokenizer};
pub use catalogue::{ProductDoc, ProductIndex};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, RangeQuery, TermQuery, TermSetQuery};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, Schema, TextFieldIndexing, TextOptions,
    Value as _,
};
use tantivy::{Index, IndexReader, IndexWriter, Order, ReloadPolicy, TantivyDocument, Term};

const TOKENIZER: &str = "salon_keyed";
/// A word in more messages than this is searched newest window first (see
/// [`BrandIndex::search`]).
pub const COMMON_WORD: u64 = 1_000_000;
/// Memory the writer may use before it flushes a segment.
const WRITER_MEMORY: usize = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("search index directory {0}: {1}")]
    Directory(PathBuf, String),
    #[error("the search key must be at least 32 bytes")]
    Key,
}

pub type ArchiveResult<T> = Result<T, ArchiveError>;

/// A message as the index holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedMessage {
    /// The transaction that wrote the message (0 on SQLite): with `id`, its place in the
    /// stream the index reads in order.
    pub tx: i64,
    pub id: i64,
    pub client: i64,
    /// The associate on the message (0: none).
    pub associate: i64,
    /// The client's store when indexed (0: none).
    pub store: i64,
    /// Milliseconds since the epoch.
    pub at: i64,
    pub inbound: bool,
    pub flagged: bool,
    pub body: String,
}

/// What to look for; every filter given must hold.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    /// Words that must all appear (any language); empty for filters alone.
    pub text: String,
    pub client: Option<i64>,
    pub associate: Option<i64>,
    pub store: Option<i64>,
    /// Only these clients (an associate's book).
    pub clients: Option<Vec<i64>>,
    /// `[from, to)` in milliseconds.
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub flagged: Option<bool>,
    pub limit: usize,
}

struct Fields {
    id: Field,
    client: Field,
    associate: Field,
    store: Field,
    at: Field,
    inbound: Field,
    flagged: Field,
    body: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let body = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(TOKENIZER)
            .set_index_option(IndexRecordOption::WithFreqs),
    );
    let fields = Fields {
        id: b.add_i64_field("id", INDEXED | STORED | FAST),
        client: b.add_i64_field("client", INDEXED | FAST),
        associate: b.add_i64_field("associate", INDEXED),
        store: b.add_i64_field("store", INDEXED),
        at: b.add_i64_field("at", INDEXED | FAST),
        inbound: b.add_bool_field("inbound", INDEXED),
        flagged: b.add_bool_field("flagged", INDEXED),
        body: b.add_text_field("body", body),
    };
    (b.build(), fields)
}

/// One brand's index: a writer (this process is the only one that writes) and a reader.
pub struct BrandIndex {
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: Fields,
    tokenizer: WordTokenizer,
    common_word: std::sync::atomic::AtomicU64,
}

/// The commit payload: `tx:id`.
fn format_position((tx, id): (i64, i64)) -> String {
    format!("{tx}:{id}")
}

/// `tx:id`, or an id alone (an index written before positions had a transaction).
fn parse_position(payload: &str) -> (i64, i64) {
    match payload.split_once(':') {
        Some((tx, id)) => (tx.parse().unwrap_or(0), id.parse().unwrap_or(0)),
        None => (0, payload.parse().unwrap_or(0)),
    }
}

impl BrandIndex {
    /// Opens (or creates) the index in `dir`, keyed with `key` (at least 32 bytes).
    pub fn open(dir: &Path, key: &[u8], cutter: Cutter) -> ArchiveResult<Self> {
        if key.len() < 32 {
            return Err(ArchiveError::Key);
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| ArchiveError::Directory(dir.to_owned(), e.to_string()))?;
        let (schema, fields) = schema();
        let directory = tantivy::directory::MmapDirectory::open(dir)
            .map_err(|e| ArchiveError::Directory(dir.to_owned(), e.to_string()))?;
        let index = Index::open_or_create(directory, schema)?;
        let mac = Hmac::<Sha256>::new_from_slice(key).map_err(|_| ArchiveError::Key)?;
        let tokenizer = WordTokenizer::keyed(cutter, mac);
        tokenizer.register(&index, TOKENIZER);
        let writer = index.writer_with_num_threads(1, WRITER_MEMORY)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Self {
            index,
            reader,
            writer: Mutex::new(writer),
            fields,
            tokenizer,
            common_word: std::sync::atomic::AtomicU64::new(COMMON_WORD),
        })
    }

    /// Where the index got in the message stream: the (transaction, id) of the last message
    /// committed to it ((0, 0) when empty). An index written before positions had a
    /// transaction holds the id alone, which reads as transaction 0.
    pub fn last_indexed(&self) -> ArchiveResult<(i64, i64)> {
        let metas = self.index.load_metas()?;
        Ok(metas.payload.as_deref().map_or((0, 0), parse_position))
    }

    /// Adds messages and commits, recording the furthest position as how far the index got.
    /// A message at or before [`Self::last_indexed`] is already indexed and skipped.
    pub fn add(&self, messages: &[IndexedMessage]) -> ArchiveResult<usize> {
        let last = self.last_indexed()?;
        let f = &self.fields;
        let mut writer = self
            .writer
            .lock()
            .map_err(|_| ArchiveError::Directory(PathBuf::new(), "writer poisoned".into()))?;
        let mut added = 0;
        let mut high = last;
        for m in messages.iter().filter(|m| (m.tx, m.id) > last) {
            let mut doc = TantivyDocument::default();
            doc.add_i64(f.id, m.id);
            doc.add_i64(f.client, m.client);
            doc.add_i64(f.associate, m.associate);
            doc.add_i64(f.store, m.store);
            doc.add_i64(f.at, m.at);
            doc.add_bool(f.inbound, m.inbound);
            doc.add_bool(f.flagged, m.flagged);
            doc.add_text(f.body, &m.body);
            writer.add_document(doc)?;
            added += 1;
            high = high.max((m.tx, m.id));
        }
        if added > 0 {
            let mut commit = writer.prepare_commit()?;
            commit.set_payload(&format_position(high));
            commit.commit()?;
            self.reader.reload()?;
        }
        Ok(added)
    }

    /// Forgets a client's messages (erasure), and commits.
    pub fn forget_client(&self, client: i64) -> ArchiveResult<()> {
        let mut writer = self
            .writer
            .lock()
            .map_err(|_| ArchiveError::Directory(PathBuf::new(), "writer poisoned".into()))?;
        writer.delete_term(Term::from_field_i64(self.fields.client, client));
        let last = self.last_indexed()?;
        let mut commit = writer.prepare_commit()?;
        commit.set_payload(&format_position(last));
        commit.commit()?;
        self.reader.reload()?;
        Ok(())
    }

    /// Sets how many messages make a word common (tests use a small index).
    pub fn set_common_word(&self, messages: u64) {
        self.common_word
            .store(messages, std::sync::atomic::Ordering::Relaxed);
    }

    /// How many messages the index holds.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Ids of matching messages, newest first, at most `limit` (1..=1000).
    ///
    /// Ordering by time reads every match, which for a word in most messages is most of the
    /// index. So when a word is that common, the search first looks at the last 30 days
    /// (before `to`, or the newest message), then 180, then everything: a window holding
    /// `limit` matches already holds the newest `limit`, so the answer is the same, found
    /// sooner.
    pub fn search(&self, q: &SearchQuery) -> ArchiveResult<Vec<i64>> {
        let searcher = self.reader.searcher();
        let f = &self.fields;
        let terms = self.tokenizer.terms(f.body, &q.text);
        let mut rarest = u64::MAX;
        for t in &terms {
            rarest = rarest.min(searcher.doc_freq(t)?);
        }
        let limit = q.limit.clamp(1, 1000);
        let threshold = self.common_word.load(std::sync::atomic::Ordering::Relaxed);
        let common = !terms.is_empty() && rarest > threshold && q.client.is_none();
        if common {
            let mut newest = i64::MIN;
            for segment in searcher.segment_readers() {
                newest = newest.max(segment.fast_fields().i64("at")?.max_value());
            }
            let upper = q.to.map_or(newest.saturating_add(1), |t| {
                t.min(newest.saturating_add(1))
            });
            for days in [30i64, 180] {
                let from = upper - days * 86_400_000;
                if q.from.is_some_and(|f| f >= from) {
                    break;
                }
                let ids = self.run(&searcher, &terms, q, Some(from), limit)?;
                if ids.len() >= limit {
                    return Ok(ids);
                }
            }
        }
        self.run(&searcher, &terms, q, q.from, limit)
    }

    fn run(
        &self,
        searcher: &tantivy::Searcher,
        terms: &[Term],
        q: &SearchQuery,
        from: Option<i64>,
        limit: usize,
    ) -> ArchiveResult<Vec<i64>> {
        let f = &self.fields;
        let mut must: Vec<(Occur, Box<dyn Query>)> = terms
            .iter()
            .map(|t| {
                (
                    Occur::Must,
                    Box::new(TermQuery::new(t.clone(), IndexRecordOption::Basic)) as Box<dyn Query>,
                )
            })
            .collect();
        let mut exact = |field: Field, v: Option<i64>| {
            if let Some(v) = v {
                must.push((
                    Occur::Must,
                    Box::new(TermQuery::new(
                        Term::from_field_i64(field, v),
                        IndexRecordOption::Basic,
                    )),
                ));
            }
        };
        exact(f.client, q.client);
        exact(f.associate, q.associate);
        exact(f.store, q.store);
        if let Some(flagged) = q.flagged {
            must.push((
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_bool(f.flagged, flagged),
                    IndexRecordOption::Basic,
                )),
            ));
        }
        if let Some(clients) = &q.clients {
            must.push((
                Occur::Must,
                Box::new(TermSetQuery::new(
                    clients.iter().map(|c| Term::from_field_i64(f.client, *c)),
                )),
            ));
        }
        if from.is_some() || q.to.is_some() {
            use std::ops::Bound;
            let lower = from.map_or(Bound::Unbounded, |v| {
                Bound::Included(Term::from_field_i64(f.at, v))
            });
            let upper = q.to.map_or(Bound::Unbounded, |v| {
                Bound::Excluded(Term::from_field_i64(f.at, v))
            });
            must.push((Occur::Must, Box::new(RangeQuery::new(lower, upper))));
        }
        if must.is_empty() {
            must.push((Occur::Must, Box::new(tantivy::query::AllQuery)));
        }
        let query = BooleanQuery::new(must);
        let top = TopDocs::with_limit(limit).order_by_fast_field::<i64>("at", Order::Desc);
        let hits = searcher.search(&query, &top)?;
        let mut ids = Vec::with_capacity(hits.len());
        for (_, address) in hits {
            let doc: TantivyDocument = searcher.doc(address)?;
            if let Some(id) = doc.get_first(f.id).and_then(|v| v.as_i64()) {
                ids.push(id);
            }
        }
        Ok(ids)
    }
}

/// Every brand's index under one directory, opened on first use.
pub struct Archive {
    root: PathBuf,
    master: Vec<u8>,
    /// Loaded on first use: opening the archive costs nothing until a brand's index is used.
    cutter: std::sync::OnceLock<Cutter>,
    /// By (brand, whether it is the group chats' index).
    brands: Mutex<std::collections::HashMap<(i64, bool), Arc<BrandIndex>>>,
}

impl Archive {
    /// `master`: the installation's secret (at least 32 bytes); each brand's search key is
    /// derived from it.
    pub fn new(root: &Path, master: &[u8]) -> ArchiveResult<Self> {
        if master.len() < 32 {
            return Err(ArchiveError::Key);
        }
        Ok(Self {
            root: root.to_owned(),
            master: master.to_owned(),
            cutter: std::sync::OnceLock::new(),
            brands: Mutex::default(),
        })
    }

    fn brand_key(&self, brand: i64) -> ArchiveResult<Vec<u8>> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.master).map_err(|_| ArchiveError::Key)?;
        mac.update(format!("salon-search-key:{brand}").as_bytes());
        Ok(mac.finalize().into_bytes().to_vec())
    }

    /// The brand's index of one-to-one messages, opened once.
    pub fn brand(&self, brand: i64) -> ArchiveResult<Arc<BrandIndex>> {
        self.open(brand, false)
    }

    /// The brand's index of group chat messages, opened once. It is keyed like the brand's
    /// other index; in it, [`IndexedMessage::client`] holds the group's id (the conversation a
    /// message belongs to), so that the same filters and scoping apply.
    pub fn groups(&self, brand: i64) -> ArchiveResult<Arc<BrandIndex>> {
        self.open(brand, true)
    }

    fn open(&self, brand: i64, groups: bool) -> ArchiveResult<Arc<BrandIndex>> {
        let mut map = self
            .brands
            .lock()
            .map_err(|_| ArchiveError::Directory(self.root.clone(), "lock poisoned".into()))?;
        if let Some(i) = map.get(&(brand, groups)) {
            return Ok(i.clone());
        }
        let dir = self.root.join(if groups {
            format!("brand-{brand}-groups")
        } else {
            format!("brand-{brand}")
        });
        let index = Arc::new(BrandIndex::open(
            &dir,
            &self.brand_key(brand)?,
            self.cutter().clone(),
        )?);
        map.insert((brand, groups), index.clone());
        Ok(index)
    }

    /// Removes both of the brand's indexes from disk (the brand is being deleted): nothing
    /// of its messages stays searchable, nor reaches a later brand given the same id.
    pub fn remove_brand(&self, brand: i64) -> ArchiveResult<()> {
        let mut map = self
            .brands
            .lock()
            .map_err(|_| ArchiveError::Directory(self.root.clone(), "lock poisoned".into()))?;
        map.remove(&(brand, false));
        map.remove(&(brand, true));
        for dir in [format!("brand-{brand}"), format!("brand-{brand}-groups")] {
            let dir = self.root.join(dir);
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(ArchiveError::Directory(dir, e.to_string())),
            }
        }
        Ok(())
    }

    pub fn cutter(&self) -> &Cutter {
        self.cutter.get_or_init(Cutter::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "salon-archive-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn msg(id: i64, client: i64, at: i64, flagged: bool, body: &str) -> IndexedMessage {
        IndexedMessage {
            tx: 0,
            id,
            client,
            associate: 7,
            store: 3,
            at,
            inbound: id % 2 == 1,
            flagged,
            body: body.into(),
        }
    }

    #[test]
    fn chinese_and_english_words_are_found_with_filters_newest_first() {
        let dir = temp();
        let archive = Archive::new(&dir, &[1u8; 32]).expect("archive");
        let idx = archive.brand(1).expect("index");
        idx.add(&[
            msg(1, 10, 100, false, "您好，新季的手袋到店了吗？"),
            msg(2, 10, 200, false, "已经到店了，周六为您留一只手袋"),
            msg(3, 11, 300, true, "可以给我打八折吗"),
            msg(4, 11, 400, false, "The SILK scarf is back in navy"),
        ])
        .expect("add");
        let q = |text: &str| SearchQuery {
            text: text.into(),
            limit: 10,
            ..SearchQuery::default()
        };
        assert_eq!(idx.search(&q("手袋")).expect("s"), vec![2, 1]);
        assert_eq!(idx.search(&q("周六 手袋")).expect("s"), vec![2]);
        assert_eq!(idx.search(&q("silk")).expect("s"), vec![4]);
        assert_eq!(idx.search(&q("ＳＩＬＫ Scarf")).expect("s"), vec![4]);
        assert!(idx.search(&q("爱马仕")).expect("s").is_empty());
        let flagged = SearchQuery {
            flagged: Some(true),
            limit: 10,
            ..SearchQuery::default()
        };
        assert_eq!(idx.search(&flagged).expect("s"), vec![3]);
        let window = SearchQuery {
            client: Some(10),
            from: Some(150),
            to: Some(1000),
            limit: 10,
            ..SearchQuery::default()
        };
        assert_eq!(idx.search(&window).expect("s"), vec![2]);
        let book = SearchQuery {
            clients: Some(vec![11]),
            limit: 10,
            ..SearchQuery::default()
        };
        assert_eq!(idx.search(&book).expect("s"), vec![4, 3]);
        assert_eq!(idx.last_indexed().expect("last"), (0, 4));
        // Indexed once: the same batch again adds nothing.
        assert_eq!(idx.add(&[msg(4, 11, 400, false, "again")]).expect("add"), 0);
        idx.forget_client(11).expect("forget");
        assert!(idx.search(&q("silk")).expect("s").is_empty());
        assert_eq!(idx.len(), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_common_word_found_window_by_window_gives_the_same_newest_messages() {
        let dir = temp();
        let archive = Archive::new(&dir, &[4u8; 32]).expect("archive");
        let idx = archive.brand(1).expect("index");
        let day = 86_400_000;
        let batch: Vec<IndexedMessage> = (1..=400)
            .map(|i| {
                msg(
                    i,
                    10 + i % 7,
                    i * day,
                    false,
                    if i % 3 == 0 {
                        "手袋"
                    } else {
                        "丝巾 手袋"
                    },
                )
            })
            .collect();
        idx.add(&batch).expect("add");
        // (word, limit, before, how many it finds): 手袋 is in all 400 messages, 丝巾 in the
        // 267 whose number is not a multiple of 3; 299 messages are before day 300.
        for (text, limit, to, expected) in [
            ("手袋", 10, None, 10),
            ("丝巾", 50, None, 50),
            ("手袋", 200, Some(300 * day), 200),
            ("手袋", 1000, Some(300 * day), 299),
            ("手袋", 1000, None, 400),
        ] {
            let q = SearchQuery {
                text: text.into(),
                limit,
                to,
                ..SearchQuery::default()
            };
            idx.set_common_word(u64::MAX);
            let whole = idx.search(&q).expect("search");
            idx.set_common_word(1);
            assert_eq!(
                idx.search(&q).expect("windowed"),
                whole,
                "{text} {limit} {to:?}"
            );
            assert_eq!(whole.len(), expected, "{text} {limit} {to:?}");
            // Newest first, each the newest before the next.
            assert!(whole.windows(2).all(|w| w[0] > w[1]));
            assert_eq!(whole[0], to.map_or(400, |t| t / day - 1));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_index_holds_no_message_text_and_brands_do_not_share_keys() {
        let dir = temp();
        let archive = Archive::new(&dir, &[2u8; 32]).expect("archive");
        let idx = archive.brand(1).expect("index");
        idx.add(&[msg(
            1,
            10,
            100,
            false,
            "confidential 机密的价格 canarywordxyz",
        )])
        .expect("add");
        drop(idx);
        let mut all = Vec::new();
        for entry in std::fs::read_dir(dir.join("brand-1")).expect("dir") {
            let path = entry.expect("entry").path();
            if path.is_file() {
                all.extend(std::fs::read(path).expect("read"));
            }
        }
        let haystack = String::from_utf8_lossy(&all);
        assert!(!haystack.contains("canarywordxyz"));
        assert!(!haystack.contains("机密"));
        assert_ne!(
            archive.brand_key(1).expect("k"),
            archive.brand_key(2).expect("k")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn positions_read_back_and_an_older_index_reads_as_transaction_zero() {
        assert_eq!(
            super::parse_position(&super::format_position((7, 42))),
            (7, 42)
        );
        assert_eq!(super::parse_position("42"), (0, 42));
        assert_eq!(super::parse_position("garbage"), (0, 0));
        // Order: a later transaction comes after every id of an earlier one.
        assert!((1, 5) > (0, 900));
    }
}
