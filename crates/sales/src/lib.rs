//! Sales attribution and commissions, exactly as `spec/attribution.md` says.
//!
//! - [`input`] reads the spec's JSON Lines (orders, returns, touches, exchange rates) and its
//!   policy file, naming the line and field of every problem;
//! - [`engine`] decides who is credited with an order and computes a month's statements;
//! - [`decimal`] holds the exact decimals and the one rounding rule (half to even).
//!
//! Pure: no I/O, no clock. The store keeps the inputs; `app` loads what a month needs into a
//! [`Ledger`].

pub mod decimal;
pub mod engine;
pub mod input;
pub mod model;

pub use decimal::Dec;
pub use engine::{
    Credit, EngineError, Entry, EntryKind, Ledger, MonthFigures, Report, Shares, Statement, Why,
};
pub use input::LineError;
pub use model::*;
