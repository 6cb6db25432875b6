//! How Salon's indexes read text, shared by every index (the conversation archive, the
//! catalogue): one jieba dictionary cuts Chinese into words (its search cut, so a long word
//! also yields its parts) and other scripts at word boundaries; each word is normalised like the
//! monitoring rules (full-width to ASCII, lower case). A tantivy tokenizer over the cut either
//! keeps the words (the catalogue) or replaces each by a keyed hash (the archive, whose index
//! must hold no message text). Queries are cut the same way, by the same tokenizer.

use std::sync::Arc;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tantivy::Index;
use tantivy::schema::Field;
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// Cuts text into the words both indexing and queries use.
#[derive(Clone)]
pub struct Cutter {
    jieba: Arc<jieba_rs::Jieba>,
}

impl Default for Cutter {
    fn default() -> Self {
        Self::new()
    }
}

impl Cutter {
    /// Loads jieba's dictionary (a few hundred milliseconds: share one).
    pub fn new() -> Self {
        Self {
            jieba: Arc::new(jieba_rs::Jieba::new()),
        }
    }

    /// The words of a text: jieba's search cut (a long word also yields its parts), each
    /// normalised; white space and punctuation dropped.
    pub fn words(&self, text: &str) -> Vec<String> {
        let text = rules::normalise(text);
        self.jieba
            .cut_for_search(&text, false)
            .into_iter()
            .filter(|w| w.chars().any(char::is_alphanumeric))
            .map(str::to_owned)
            .collect()
    }
}

/// A tantivy tokenizer over a [`Cutter`]: each word as it is, or (with a key) its keyed hash.
#[derive(Clone)]
pub struct WordTokenizer {
    cutter: Cutter,
    key: Option<Arc<Hmac<Sha256>>>,
    token: Token,
}

impl WordTokenizer {
    /// The words themselves.
    pub fn plain(cutter: Cutter) -> Self {
        Self {
            cutter,
            key: None,
            token: Token::default(),
        }
    }

    /// Each word replaced by HMAC-SHA-256 under `key` (96 bits, hex).
    pub fn keyed(cutter: Cutter, key: Hmac<Sha256>) -> Self {
        Self {
            cutter,
            key: Some(Arc::new(key)),
            token: Token::default(),
        }
    }

    /// Registers this tokenizer with an index under `name`.
    pub fn register(&self, index: &Index, name: &str) {
        index.tokenizers().register(name, self.clone());
    }

    /// The terms a query's text gives in `field`, cut as indexing cuts.
    pub fn terms(&self, field: Field, text: &str) -> Vec<tantivy::Term> {
        let mut tokenizer = self.clone();
        let mut stream = tokenizer.token_stream(text);
        let mut terms = Vec::new();
        while stream.advance() {
            terms.push(tantivy::Term::from_field_text(field, &stream.token().text));
        }
        terms
    }
}

fn keyed(key: &Hmac<Sha256>, word: &str) -> String {
    let mut mac = key.clone();
    mac.update(word.as_bytes());
    let bytes = mac.finalize().into_bytes();
    hex::encode(&bytes[..12])
}

pub struct WordStream<'a> {
    words: std::vec::IntoIter<String>,
    key: Option<&'a Hmac<Sha256>>,
    token: &'a mut Token,
    position: usize,
}

impl TokenStream for WordStream<'_> {
    fn advance(&mut self) -> bool {
        let Some(w) = self.words.next() else {
            return false;
        };
        self.token.text = match self.key {
            Some(key) => keyed(key, &w),
            None => w,
        };
        self.token.position = self.position;
        self.token.position_length = 1;
        // Offsets would point into the text, which an index need not keep.
        self.token.offset_from = 0;
        self.token.offset_to = 0;
        self.position += 1;
        true
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

impl Tokenizer for WordTokenizer {
    type TokenStream<'a> = WordStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> WordStream<'a> {
        let words = self.cutter.words(text);
        WordStream {
            words: words.into_iter(),
            key: self.key.as_deref(),
            token: &mut self.token,
            position: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_is_cut_into_words_and_latin_lower_cased() {
        let c = Cutter::new();
        let w = c.words("经典手袋 Classic ＢＡＧ");
        assert!(w.contains(&"手袋".to_owned()), "{w:?}");
        assert!(w.contains(&"classic".to_owned()), "{w:?}");
        assert!(w.contains(&"bag".to_owned()), "{w:?}");
    }

    #[test]
    fn keyed_words_hide_the_text_plain_words_keep_it() {
        let c = Cutter::new();
        let key = Hmac::<Sha256>::new_from_slice(&[1u8; 32]).expect("key");
        let mut keyed = WordTokenizer::keyed(c.clone(), key);
        let mut plain = WordTokenizer::plain(c);
        let mut s = keyed.token_stream("silk");
        assert!(s.advance());
        assert_ne!(s.token().text, "silk");
        assert_eq!(s.token().text.len(), 24);
        let mut s = plain.token_stream("Silk");
        assert!(s.advance());
        assert_eq!(s.token().text, "silk");
    }
}
