//! Search over a brand's catalogue: names in Chinese and English, category, material, colours
//! and SKU, cut by the same [`Cutter`] and tokenizer as the archive (plain words here: a
//! catalogue is not secret). The index lives in memory and is built whole from the store (a
//! catalogue is thousands of products, built in well under a second), so it never drifts from
//! the database: the caller rebuilds it when the catalogue's generation moves.

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value as _,
};
use tantivy::{Index, IndexReader, ReloadPolicy, TantivyDocument, Term};

use crate::ArchiveResult;
use crate::analysis::{Cutter, WordTokenizer};

const TOKENIZER: &str = "salon_words";
/// The smallest memory a tantivy writer accepts.
const WRITER_MEMORY: usize = 15_000_000;

/// A product as the index reads it.
#[derive(Debug, Clone, Default)]
pub struct ProductDoc {
    pub sku: String,
    /// Names, category, material, colours: every text a person may search by.
    pub texts: Vec<String>,
}

/// One brand's catalogue index, in memory.
pub struct ProductIndex {
    reader: IndexReader,
    sku: Field,
    sku_prefix: Field,
    text: Field,
    tokenizer: WordTokenizer,
}

/// A SKU as searched: normalised like words (full-width to ASCII, lower case), spaces dropped.
fn sku_key(s: &str) -> String {
    rules::normalise(s.trim())
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

impl ProductIndex {
    /// Builds the index of these products.
    pub fn build(cutter: Cutter, docs: &[ProductDoc]) -> ArchiveResult<Self> {
        let mut b = Schema::builder();
        let sku = b.add_text_field("sku", STRING | STORED);
        let sku_prefix = b.add_text_field("sku_prefix", STRING);
        let text = b.add_text_field(
            "text",
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(TOKENIZER)
                    .set_index_option(IndexRecordOption::WithFreqs),
            ),
        );
        let index = Index::create_in_ram(b.build());
        let tokenizer = WordTokenizer::plain(cutter);
        tokenizer.register(&index, TOKENIZER);
        let mut writer = index.writer_with_num_threads(1, WRITER_MEMORY)?;
        for d in docs {
            let mut doc = TantivyDocument::default();
            doc.add_text(sku, &d.sku);
            let key = sku_key(&d.sku);
            // Every prefix of two characters or more: "lm-b" finds LM-BAG-001.
            let ends: Vec<usize> = key.char_indices().map(|(i, _)| i).skip(2).collect();
            for end in ends.into_iter().chain([key.len()]) {
                doc.add_text(sku_prefix, &key[..end]);
            }
            doc.add_text(text, &d.sku);
            for t in &d.texts {
                doc.add_text(text, t);
            }
            writer.add_document(doc)?;
        }
        writer.commit()?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Self {
            reader,
            sku,
            sku_prefix,
            text,
            tokenizer,
        })
    }

    /// How many products the index holds.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// SKUs of the products whose texts hold every word of the query (any language), or whose
    /// SKU starts with it; best first, at most `limit` (1..=1000). An empty query finds nothing.
    pub fn search(&self, query: &str, limit: usize) -> ArchiveResult<Vec<String>> {
        let terms = self.tokenizer.terms(self.text, query);
        let key = sku_key(query);
        if terms.is_empty() && key.is_empty() {
            return Ok(Vec::new());
        }
        let mut either: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if !terms.is_empty() {
            let all: Vec<(Occur, Box<dyn Query>)> = terms
                .into_iter()
                .map(|t| {
                    (
                        Occur::Must,
                        Box::new(TermQuery::new(t, IndexRecordOption::WithFreqs)) as Box<dyn Query>,
                    )
                })
                .collect();
            either.push((Occur::Should, Box::new(BooleanQuery::new(all))));
        }
        if !key.is_empty() {
            either.push((
                Occur::Should,
                Box::new(TermQuery::new(
                    Term::from_field_text(self.sku_prefix, &key),
                    IndexRecordOption::Basic,
                )),
            ));
        }
        let searcher = self.reader.searcher();
        let hits = searcher.search(
            &BooleanQuery::new(either),
            &TopDocs::with_limit(limit.clamp(1, 1000)),
        )?;
        let mut skus = Vec::with_capacity(hits.len());
        for (_, address) in hits {
            let doc: TantivyDocument = searcher.doc(address)?;
            if let Some(s) = doc.get_first(self.sku).and_then(|v| v.as_str()) {
                skus.push(s.to_owned());
            }
        }
        Ok(skus)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(sku: &str, texts: &[&str]) -> ProductDoc {
        ProductDoc {
            sku: sku.into(),
            texts: texts.iter().map(|t| t.to_string()).collect(),
        }
    }

    #[test]
    fn chinese_english_and_sku_prefixes_find_products() {
        let idx = ProductIndex::build(
            Cutter::new(),
            &[
                doc(
                    "LM-BAG-001",
                    &[
                        "经典手袋",
                        "Classic Bag",
                        "手袋 Bags",
                        "小牛皮 Calfskin",
                        "黑色 Black",
                    ],
                ),
                doc(
                    "LM-SCA-002",
                    &[
                        "真丝围巾",
                        "Silk Scarf",
                        "围巾 Scarves",
                        "真丝 Silk",
                        "红色 Red",
                    ],
                ),
                doc(
                    "LM-BAG-003",
                    &["托特包", "Étoile Tote", "手袋 Bags", "帆布 Canvas"],
                ),
            ],
        )
        .expect("index");
        assert_eq!(idx.len(), 3);
        let s = |q: &str| {
            let mut v = idx.search(q, 10).expect("search");
            v.sort();
            v
        };
        assert_eq!(s("手袋"), vec!["LM-BAG-001", "LM-BAG-003"]);
        assert_eq!(s("经典手袋"), vec!["LM-BAG-001"]);
        assert_eq!(s("bag"), vec!["LM-BAG-001", "LM-BAG-003"]);
        assert_eq!(s("Classic BAG"), vec!["LM-BAG-001"]);
        assert_eq!(s("ｓｉｌｋ"), vec!["LM-SCA-002"]);
        assert_eq!(s("围巾"), vec!["LM-SCA-002"]);
        assert_eq!(s("red silk"), vec!["LM-SCA-002"]);
        assert_eq!(s("lm-sca"), vec!["LM-SCA-002"]);
        assert_eq!(s("LM-BAG-00"), vec!["LM-BAG-001", "LM-BAG-003"]);
        assert_eq!(s("LM-BAG-001"), vec!["LM-BAG-001"]);
        assert!(s("爱马仕").is_empty());
        assert!(s("  ").is_empty());
        assert!(s("!!!").is_empty());
        // The best match first: both words in the first.
        assert_eq!(idx.search("classic bag", 10).expect("s")[0], "LM-BAG-001");
    }

    #[test]
    fn an_empty_catalogue_finds_nothing() {
        let idx = ProductIndex::build(Cutter::new(), &[]).expect("index");
        assert!(idx.is_empty());
        assert!(idx.search("bag", 10).expect("search").is_empty());
    }
}
