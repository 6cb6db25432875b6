//! The public onboarding form (`/join/{brand}/{store}`) against scripted floods, without
//! getting in the way of a real client on a store's Wi-Fi, where many people share one
//! address:
//!
//! - each form carries a token that any Salon process can check: when it was served, keyed
//!   to the brand and store. A post without a valid token, sooner than a person can fill the
//!   form in, or hours later, is not taken (the person gets the form back, their entries
//!   kept, with a fresh token: one more tap);
//! - posts are counted per address in the database (shared by every process), generously:
//!   [`JOIN_PER_ADDRESS`] an hour, a busy boutique evening's worth.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::{Millis, now_millis};
use subtle::ConstantTimeEq as _;

use crate::{AppError, AppResult, Salon};

/// Posts of the join form taken per address and hour.
pub const JOIN_PER_ADDRESS: u32 = 30;
const JOIN_WINDOW_MS: Millis = 60 * 60 * 1000;
/// Nobody reads the page, types a name and ticks the consent box faster.
pub const JOIN_MIN_FILL_MS: Millis = 2_000;
/// A form left open longer is served again.
pub const JOIN_TOKEN_TTL_MS: Millis = 2 * 60 * 60 * 1000;

const PURPOSE: &str = "join-form";

fn mac(salon: &Salon, brand: &str, store: &str, issued: Millis) -> String {
    let full = salon
        .repo
        .edge_mac(PURPOSE, &format!("{brand}/{store}/{issued}"));
    URL_SAFE_NO_PAD.encode(&full[..full.len().min(16)])
}

impl Salon {
    /// The token of a join form served at `issued` (now, but for tests).
    pub fn join_token(&self, brand: &str, store: &str, issued: Millis) -> String {
        format!("{issued}.{}", mac(self, brand, store, issued))
    }

    /// Counts a post of the join form from `address` and checks its token; refuses a flood.
    pub async fn check_join_post(
        &self,
        brand: &str,
        store: &str,
        token: &str,
        address: &str,
    ) -> AppResult<()> {
        let now = now_millis();
        let count = self
            .repo
            .rate_hit(&format!("join:addr:{address}"), now, JOIN_WINDOW_MS)
            .await?;
        if count.hits > JOIN_PER_ADDRESS {
            let left = (count.window_start + JOIN_WINDOW_MS - now).max(0);
            return Err(AppError::RateLimited(
                u64::try_from(left).unwrap_or(0).div_ceil(60_000).max(1),
            ));
        }
        let expired = || {
            AppError::invalid(
                "form",
                "the form could not be checked; please send it again",
            )
        };
        let (issued, given) = token.split_once('.').ok_or_else(expired)?;
        let issued: Millis = issued.parse().map_err(|_| expired())?;
        let expected = mac(self, brand, store, issued);
        if !bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
            return Err(expired());
        }
        let age = now - issued;
        if !(JOIN_MIN_FILL_MS..=JOIN_TOKEN_TTL_MS).contains(&age) {
            return Err(expired());
        }
        Ok(())
    }
}
