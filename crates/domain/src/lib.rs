//! Salon's domain: what a brand, a store, an associate and a client *are*, independent of HTTP
//! and SQL. Values are parsed once at the edge into newtypes that cannot hold an invalid value
//! ("parse, don't validate"); the storage ports ([`ports::Repo`]) are implemented by `store`.

pub mod asset;
pub mod broadcast;
pub mod catalogue;
pub mod channel;
pub mod client;
pub mod conversation;
pub mod error;
pub mod group;
pub mod ids;
pub mod org;
pub mod ports;
pub mod role;
pub mod search;
pub mod selling;
pub mod values;

pub use asset::*;
pub use broadcast::*;
pub use catalogue::{Price, PriceInput, Product, ProductInput, StockInput, StockLevel};
pub use channel::*;
pub use client::*;
pub use conversation::*;
pub use error::{FieldError, RepoError};
pub use group::*;
pub use ids::*;
pub use org::*;
pub use role::{Action, Role, Scope};
pub use selling::{Dispute, DisputeStatus, NewShareLink, ShareLink, TierThresholds};
pub use values::*;

/// Milliseconds since the Unix epoch (UTC): how every instant is stored.
pub type Millis = i64;

/// The current instant in milliseconds.
pub fn now_millis() -> Millis {
    jiff::Timestamp::now().as_millisecond()
}
