//! Audiences for broadcasts, click-and-send tasks and analytics: a small boolean language over
//! client facts ([`expr`]) evaluated as roaring bitmaps over dense per-brand client ids
//! ([`index`]). Pure: the facts come from the store, the answers go to the use cases.

pub mod expr;
pub mod index;

pub use expr::{Expr, ParseError, Term, parse};
pub use index::{EvalContext, Facts, SegmentIndex};

#[cfg(test)]
mod tests;
