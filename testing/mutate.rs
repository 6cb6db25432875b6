// Structured mutations of a valid sample for the bounded fuzz tests (`tests/fuzz_*.rs`):
// truncation, byte flips, inserted control characters, huge numbers, deep nesting, invalid
// UTF-8 and duplicated spans. Included by path (`#[path]` or `include!`) from each crate's
// tests, so it has no inner attributes.

use proptest::prelude::*;

/// One structural change to a sample; applied in sequence by [`mutate`].
#[derive(Debug, Clone)]
pub enum Op {
    Truncate(usize),
    Flip(usize, u8),
    Control(usize, u8),
    Huge(usize, usize),
    Nest(usize, usize),
    BadUtf8(usize, usize),
    Duplicate(usize, usize),
}

const HUGE: [&str; 6] = [
    "99999999999999999999999999999999999999999",
    "-9223372036854775809",
    "1e400",
    "18446744073709551616",
    "-0.0000000000000000000000000001",
    "NaN",
];
const BAD_UTF8: [&[u8]; 4] = [b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"];

pub fn op() -> impl Strategy<Value = Op> {
    let i = any::<prop::sample::Index>().prop_map(|x| x.index(usize::MAX));
    prop_oneof![
        i.clone().prop_map(Op::Truncate),
        (i.clone(), 1u8..=255).prop_map(|(i, b)| Op::Flip(i, b)),
        (i.clone(), prop_oneof![0u8..0x20, Just(0x7f)]).prop_map(|(i, c)| Op::Control(i, c)),
        (i.clone(), 0..HUGE.len()).prop_map(|(i, h)| Op::Huge(i, h)),
        (i.clone(), 1usize..400).prop_map(|(i, n)| Op::Nest(i, n)),
        (i.clone(), 0..BAD_UTF8.len()).prop_map(|(i, b)| Op::BadUtf8(i, b)),
        (i.clone(), i).prop_map(|(a, b)| Op::Duplicate(a, b)),
    ]
}

/// Applies `ops` to `sample`; `open`/`close` are the format's nesting tokens.
pub fn mutate(sample: &[u8], ops: &[Op], open: &[u8], close: &[u8]) -> Vec<u8> {
    let mut b = sample.to_vec();
    for op in ops {
        let at = |i: usize, b: &Vec<u8>| if b.is_empty() { 0 } else { i % (b.len() + 1) };
        match *op {
            Op::Truncate(i) => {
                let n = at(i, &b);
                b.truncate(n);
            }
            Op::Flip(i, x) => {
                if !b.is_empty() {
                    let n = i % b.len();
                    b[n] ^= x;
                }
            }
            Op::Control(i, c) => {
                let n = at(i, &b);
                b.insert(n, c);
            }
            Op::Huge(i, h) => {
                let n = at(i, &b);
                b.splice(n..n, HUGE[h].bytes());
            }
            Op::Nest(i, depth) => {
                let n = at(i, &b);
                let mut inner = open.repeat(depth);
                inner.extend(close.repeat(depth));
                b.splice(n..n, inner);
            }
            Op::BadUtf8(i, k) => {
                let n = at(i, &b);
                b.splice(n..n, BAD_UTF8[k].iter().copied());
            }
            Op::Duplicate(i, j) => {
                let (x, y) = (at(i, &b), at(j, &b));
                let (s, e) = (x.min(y), x.max(y));
                let piece = b[s..e].to_vec();
                b.splice(e..e, piece);
            }
        }
    }
    b
}

pub fn mutated(
    sample: &'static str,
    open: &'static str,
    close: &'static str,
) -> impl Strategy<Value = String> {
    prop::collection::vec(op(), 1..5).prop_map(move |ops| {
        // The parsers take `&str` (the HTTP layer refuses bodies that are not UTF-8): invalid
        // sequences arrive replaced, as `String::from_utf8_lossy` would give them.
        String::from_utf8_lossy(&mutate(
            sample.as_bytes(),
            &ops,
            open.as_bytes(),
            close.as_bytes(),
        ))
        .into_owned()
    })
}

/// Like [`mutated`], keeping the bytes as they are (for readers that take bytes).
pub fn mutated_bytes(
    sample: &'static [u8],
    open: &'static str,
    close: &'static str,
) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(op(), 1..5)
        .prop_map(move |ops| mutate(sample, &ops, open.as_bytes(), close.as_bytes()))
}
