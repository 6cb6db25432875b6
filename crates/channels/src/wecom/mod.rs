//! WeCom (WeChat Work) and the WeChat Official Account, which share the callback scheme.

pub mod api;
pub mod archive;
pub mod callback;
pub mod crypto;
pub mod oa;
pub mod xml;

pub use crypto::{CryptoError, MsgCrypt};
