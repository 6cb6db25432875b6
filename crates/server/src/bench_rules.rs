//! `salon bench --rules N`: checking one 500-character message against N monitoring rules
//! (words in Chinese and English, and some patterns), as the send path does. Side by side, the
//! baseline a hand-written check would be: every word of every rule searched in the text in
//! turn. Prints medians over many runs and the ratio; never a pass/fail.

use std::time::Instant;

use rand::{Rng, SeedableRng};
use rules::{Category, Matcher, Rule, RuleAction, RuleSet, Severity};

/// A rule word: two to four characters of the 3,500 common ones (so that, as in life, most
/// messages match few rules), or an English-like word.
fn word(rng: &mut impl Rng) -> String {
    if rng.gen_bool(0.7) {
        (0..rng.gen_range(2..=4))
            .map(|_| char::from_u32(0x4E00 + rng.gen_range(0..3_500)).unwrap_or('包'))
            .collect()
    } else {
        (0..rng.gen_range(5..=9))
            .map(|_| char::from(b'a' + rng.gen_range(0..26u8)))
            .collect()
    }
}

/// `n` rules of five words each, one in fifty a pattern.
pub fn rules(n: usize, seed: u64) -> Vec<Rule> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|i| Rule {
            id: i as i64 + 1,
            name: format!("rule {i}"),
            category: Category::ALL[i % Category::ALL.len()],
            severity: Severity::ALL[i % 3],
            action: RuleAction::ALL[i % 3],
            matcher: if i % 50 == 49 {
                Matcher::Pattern(format!("{}\\d{{2,4}}{}", word(&mut rng), word(&mut rng)))
            } else {
                Matcher::Words((0..5).map(|_| word(&mut rng)).collect())
            },
            enabled: true,
        })
        .collect()
}

/// A client message of `chars` characters: Chinese text with English and digits mixed in, and
/// three of the rules' words planted in it.
pub fn message(chars: usize, seed: u64, rules: &[Rule]) -> String {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut s = String::new();
    let mut planted = 0;
    while s.chars().count() < chars {
        match rng.gen_range(0..40) {
            0 => s.push_str(" silk scarf "),
            1 => s.push_str(&rng.gen_range(10..9999).to_string()),
            2 => s.push('，'),
            3 if planted < 3 => {
                if let Matcher::Words(w) = &rules[rng.gen_range(0..rules.len())].matcher {
                    s.push_str(&w[0]);
                    planted += 1;
                }
            }
            _ => s.push(char::from_u32(0x4E00 + rng.gen_range(0..3_500)).unwrap_or('包')),
        }
    }
    s.chars().take(chars).collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub fn run(n: usize, runs: usize) -> anyhow::Result<()> {
    let rules = rules(n, 7);
    let started = Instant::now();
    let set = RuleSet::compile(&rules)?;
    let compile_ms = started.elapsed().as_secs_f64() * 1000.0;
    let messages: Vec<String> = (0..64).map(|i| message(500, 100 + i, &rules)).collect();
    // The baseline: each word of each rule looked for in turn, patterns one by one.
    let words: Vec<(usize, String)> = rules
        .iter()
        .enumerate()
        .flat_map(|(i, r)| match &r.matcher {
            Matcher::Words(w) => w.iter().map(|w| (i, w.to_lowercase())).collect(),
            Matcher::Pattern(_) => vec![],
        })
        .collect();
    let patterns: Vec<regex::Regex> = rules
        .iter()
        .filter_map(|r| match &r.matcher {
            Matcher::Pattern(p) => regex::Regex::new(p).ok(),
            Matcher::Words(_) => None,
        })
        .collect();
    let baseline = |text: &str| {
        let text = rules::normalise(text);
        let mut hits = 0usize;
        for (_, w) in &words {
            hits += usize::from(text.contains(w.as_str()));
        }
        for p in &patterns {
            hits += usize::from(p.is_match(&text));
        }
        hits
    };
    // Batches of 100 checks, ours and the baseline's in turn, so that the machine's noise
    // falls on both; each batch's mean is one sample.
    const BATCH: usize = 100;
    let mut ours = Vec::new();
    let mut base = Vec::new();
    let mut hits = 0;
    for r in 0..(runs.max(BATCH) / BATCH) {
        let t = Instant::now();
        for k in 0..BATCH {
            hits += std::hint::black_box(set.check(&messages[(r + k) % messages.len()]))
                .hits
                .len();
        }
        ours.push(t.elapsed().as_secs_f64() * 1e6 / BATCH as f64);
        let t = Instant::now();
        for k in 0..BATCH {
            std::hint::black_box(baseline(&messages[(r + k) % messages.len()]));
        }
        base.push(t.elapsed().as_secs_f64() * 1e6 / BATCH as f64);
    }
    let runs = ours.len() * BATCH;
    let (o, b) = (median(ours), median(base));
    println!(
        "rules: {n} rules ({} words, {} patterns), compiled in {compile_ms:.0} ms; 500-character messages, {} runs, {:.1} hits a message",
        words.len(),
        patterns.len(),
        runs,
        hits as f64 / runs as f64
    );
    println!("  RuleSet::check   median {o:>9.1} µs a message (of batches of {BATCH})");
    println!("  word-by-word     median {b:>9.1} µs a message   (baseline)");
    println!("  ratio            {:.3} of the baseline's time", o / b);
    Ok(())
}
