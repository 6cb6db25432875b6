//! Typed identifiers: a `ClientId` can never be passed where a `StoreId` is expected.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($($(#[$m:meta])* $name:ident),* $(,)?) => {$(
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { self.0.fmt(f) }
        }
    )*};
}

id_type!(
    /// A brand (tenant). Every other row belongs to exactly one.
    BrandId,
    /// A boutique of the brand.
    StoreId,
    /// A staff member: associate, manager, HQ, compliance or admin.
    UserId,
    /// A client of the brand.
    ClientId,
    /// A client note.
    NoteId,
);
