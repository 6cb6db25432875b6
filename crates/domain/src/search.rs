//! Search terms for names. Client names are encrypted at rest, so the store indexes keyed
//! hashes of these terms (a blind index) instead of the names themselves.

/// The terms under which a name is found: every word, and every prefix of a word from two
/// characters (one for CJK, whose given names are one or two characters long).
pub fn index_terms(names: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for name in names {
        for word in words(name) {
            let chars: Vec<char> = word.chars().collect();
            let min = if chars.iter().any(|c| is_cjk(*c)) {
                1
            } else {
                2
            };
            for len in min..=chars.len().min(12) {
                out.push(chars[..len].iter().collect());
            }
            if chars.iter().all(|c| is_cjk(*c)) {
                // Chinese names are written without spaces: also find them by each character
                // and by the given name (everything after the surname character).
                for (i, c) in chars.iter().enumerate().skip(1) {
                    out.push(c.to_string());
                    out.push(chars[i..].iter().collect());
                }
            }
            if chars.len() > 12 {
                out.push(word.clone());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The terms a query must all match: its words, normalised as the index is.
pub fn query_terms(q: &str) -> Vec<String> {
    let mut out: Vec<String> = words(q)
        .map(|w| {
            if w.chars().count() > 12 && !w.chars().any(is_cjk) {
                w
            } else {
                w.chars().take(12).collect()
            }
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

fn words(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split(|c: char| c.is_whitespace() || c == ',' || c == '·' || c == '-' || c == '\'')
        .filter(|w| !w.is_empty())
        .map(|w| {
            w.chars()
                .flat_map(char::to_lowercase)
                .map(fold_accent)
                .collect()
        })
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2A6DF)
}

/// Folds the common Latin accents so that "Hélène" is found by "helene".
fn fold_accent(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
        'ç' => 'c',
        'è' | 'é' | 'ê' | 'ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'ñ' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' => 'o',
        'ù' | 'ú' | 'û' | 'ü' => 'u',
        'ý' | 'ÿ' => 'y',
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin_names_are_found_by_prefix_and_accentless() {
        let t = index_terms(&["Hélène", "Dubois"]);
        for q in ["he", "hel", "helene", "du", "dubois"] {
            assert!(t.contains(&q.to_owned()), "{q}");
        }
        assert!(!t.contains(&"h".to_owned()));
        assert_eq!(
            query_terms("  Hélène  DUBOIS "),
            vec!["dubois".to_owned(), "helene".to_owned()]
        );
    }

    #[test]
    fn chinese_names_are_found_by_surname_given_name_and_character() {
        let t = index_terms(&["王小芳"]);
        for q in ["王", "王小", "王小芳", "小芳", "芳", "小"] {
            assert!(t.contains(&q.to_owned()), "{q}");
        }
    }
}
