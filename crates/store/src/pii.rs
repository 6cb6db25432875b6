//! Personal data at rest: AES-256-GCM for the values, keyed HMAC-SHA-256 "blind indexes" for
//! exact lookups (phone, e-mail, name terms) without storing the values in the clear.
//!
//! One master key per installation; each brand gets its own encryption and index keys derived
//! from it, so one brand's ciphertexts and index entries mean nothing under another's keys.

use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{AeadCore, Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use domain::BrandId;

type HmacSha256 = Hmac<Sha256>;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
/// Blind index values are truncated HMACs: long enough never to collide by chance.
const BIDX_LEN: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum PiiError {
    #[error("the ciphertext is damaged or was made with another key")]
    Decrypt,
    #[error("the master key must be 32 bytes")]
    KeyLength,
}

/// The installation's master key, from which every brand's keys are derived.
#[derive(Clone)]
pub struct Keyring {
    master: [u8; 32],
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keyring(<secret>)")
    }
}

/// What a value is, bound into its ciphertext and its index entries so that values cannot be
/// swapped between columns.
#[derive(Debug, Clone, Copy)]
pub enum Purpose {
    ClientPii,
    Note,
    Phone,
    Email,
    NameTerm,
    ChannelSecrets,
    InboxBody,
    MessageBody,
    WebhookSecret,
    CallbackBody,
    RateKey,
    EdgeToken,
    /// What a monitoring rule matched (an ID-card number, a phone, a price).
    FlagMatch,
    /// An audit entry's detail (a compliance officer's search words, names).
    AuditDetail,
    /// A follower's channel id (an openid) in the event stream, keyed.
    Follower,
    /// A client's identity held sealed beside its key (an Official Account openid).
    Identity,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::ClientPii => b"client-pii",
            Purpose::Note => b"note",
            Purpose::Phone => b"phone",
            Purpose::Email => b"email",
            Purpose::NameTerm => b"name-term",
            Purpose::ChannelSecrets => b"channel-secrets",
            Purpose::InboxBody => b"inbox-body",
            Purpose::MessageBody => b"message-body",
            Purpose::WebhookSecret => b"webhook-secret",
            Purpose::CallbackBody => b"callback-body",
            Purpose::RateKey => b"rate-key",
            Purpose::EdgeToken => b"edge-token",
            Purpose::FlagMatch => b"flag-match",
            Purpose::AuditDetail => b"audit-detail",
            Purpose::Follower => b"follower",
            Purpose::Identity => b"identity",
        }
    }
}

impl Keyring {
    pub fn new(master: &[u8]) -> Result<Self, PiiError> {
        let master: [u8; 32] = master.try_into().map_err(|_| PiiError::KeyLength)?;
        Ok(Self { master })
    }

    fn derive(&self, what: &[u8], brand: BrandId) -> [u8; 32] {
        // HMAC as a KDF over a fixed-length master key (HKDF-Expand with one block).
        let mut mac =
            <HmacSha256 as Mac>::new_from_slice(&self.master).expect("HMAC takes any key length");
        mac.update(b"salon/v1/");
        mac.update(what);
        mac.update(&brand.0.to_be_bytes());
        mac.finalize().into_bytes().into()
    }

    fn cipher(&self, brand: BrandId) -> Aes256Gcm {
        let key = self.derive(b"enc", brand);
        Aes256Gcm::new(&key.into())
    }

    fn aad(brand: BrandId, purpose: Purpose) -> Vec<u8> {
        let mut aad = brand.0.to_be_bytes().to_vec();
        aad.extend_from_slice(purpose.label());
        aad
    }

    /// Encrypts `plain` for one brand and purpose: version ‖ nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, brand: BrandId, purpose: Purpose, plain: &[u8]) -> Vec<u8> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let aad = Self::aad(brand, purpose);
        let ct = self
            .cipher(brand)
            .encrypt(
                &nonce,
                Payload {
                    msg: plain,
                    aad: &aad,
                },
            )
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    pub fn open(
        &self,
        brand: BrandId,
        purpose: Purpose,
        sealed: &[u8],
    ) -> Result<Vec<u8>, PiiError> {
        if sealed.len() < 1 + NONCE_LEN + 16 || sealed[0] != VERSION {
            return Err(PiiError::Decrypt);
        }
        let nonce = Nonce::from_slice(&sealed[1..1 + NONCE_LEN]);
        let aad = Self::aad(brand, purpose);
        self.cipher(brand)
            .decrypt(
                nonce,
                Payload {
                    msg: &sealed[1 + NONCE_LEN..],
                    aad: &aad,
                },
            )
            .map_err(|_| PiiError::Decrypt)
    }

    /// The keyed hash under which an exact value is found.
    pub fn blind_index(&self, brand: BrandId, purpose: Purpose, value: &str) -> Vec<u8> {
        let key = self.derive(b"bidx", brand);
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&key).expect("HMAC takes any key length");
        mac.update(purpose.label());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        mac.finalize().into_bytes()[..BIDX_LEN].to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> Keyring {
        Keyring::new(&[7u8; 32]).expect("32 bytes")
    }

    #[test]
    fn seal_open_round_trip_and_randomised() {
        let k = ring();
        let a = k.seal(BrandId(1), Purpose::Note, b"likes the Lune bag");
        let b = k.seal(BrandId(1), Purpose::Note, b"likes the Lune bag");
        assert_ne!(a, b, "nonces must differ");
        assert_eq!(
            k.open(BrandId(1), Purpose::Note, &a).ok(),
            Some(b"likes the Lune bag".to_vec())
        );
    }

    #[test]
    fn ciphertexts_are_bound_to_brand_and_purpose() {
        let k = ring();
        let a = k.seal(BrandId(1), Purpose::Note, b"x");
        assert!(k.open(BrandId(2), Purpose::Note, &a).is_err());
        assert!(k.open(BrandId(1), Purpose::ClientPii, &a).is_err());
        let mut tampered = a.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(k.open(BrandId(1), Purpose::Note, &tampered).is_err());
        assert!(k.open(BrandId(1), Purpose::Note, &[]).is_err());
    }

    #[test]
    fn blind_indexes_are_stable_and_brand_specific() {
        let k = ring();
        let p = "+8613800138000";
        assert_eq!(
            k.blind_index(BrandId(1), Purpose::Phone, p),
            k.blind_index(BrandId(1), Purpose::Phone, p)
        );
        assert_ne!(
            k.blind_index(BrandId(1), Purpose::Phone, p),
            k.blind_index(BrandId(2), Purpose::Phone, p)
        );
        assert_ne!(
            k.blind_index(BrandId(1), Purpose::Phone, p),
            k.blind_index(BrandId(1), Purpose::Email, p)
        );
        let other = Keyring::new(&[8u8; 32]).expect("32 bytes");
        assert_ne!(
            k.blind_index(BrandId(1), Purpose::Phone, p),
            other.blind_index(BrandId(1), Purpose::Phone, p)
        );
    }

    #[test]
    fn master_key_must_be_32_bytes() {
        assert!(Keyring::new(&[0u8; 16]).is_err());
    }
}
