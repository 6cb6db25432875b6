//! Callback security as Tencent's "加解密方案说明" (WXBizMsgCrypt) defines it, shared by WeCom
//! and the Official Account's safe mode:
//!
//! - the EncodingAESKey (43 characters) is the base64 of a 32-byte AES key, written without its
//!   trailing `=`; the IV is the key's first 16 bytes;
//! - messages are AES-256-CBC with PKCS#7 padding **to a multiple of 32 bytes**;
//! - the plaintext is 16 random bytes ‖ the message length (u32, big-endian) ‖ the message ‖
//!   the receive id (the corp id for WeCom, the AppID for the OA), which must be ours;
//! - `msg_signature` is the SHA-1 (hex) of token, timestamp, nonce and the ciphertext, sorted
//!   and concatenated; it is compared in constant time.

use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit, block_padding::NoPadding};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore as _;
use sha1::{Digest as _, Sha1};
use subtle::ConstantTimeEq as _;

type Encryptor = cbc::Encryptor<aes::Aes256>;
type Decryptor = cbc::Decryptor<aes::Aes256>;

/// Tencent pads to this block size, not AES's 16.
const PAD_BLOCK: usize = 32;

/// Why a callback was refused. Never carries the message itself.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("the EncodingAESKey must be 43 characters of base64 (A-Z, a-z, 0-9, + and /)")]
    BadAesKey,
    #[error("the signature does not match")]
    BadSignature,
    #[error("the ciphertext is not valid base64 of whole AES blocks")]
    BadCiphertext,
    #[error("the decrypted message is malformed")]
    BadPlaintext,
    #[error("the message is addressed to another receive id")]
    WrongReceiveId,
    #[error("the timestamp is not within {FRESHNESS_WINDOW_S} seconds of the server's clock")]
    Stale,
}

/// How far a callback's `timestamp` may be from our clock, either way. Tencent signs each
/// callback when it sends it and retries within seconds; both clocks follow NTP.
pub const FRESHNESS_WINDOW_S: i64 = 300;

/// Checks that a callback's `timestamp` (seconds since the epoch, digits only) is within
/// [`FRESHNESS_WINDOW_S`] of `now_s`, and returns it.
pub fn check_fresh(timestamp: &str, now_s: i64) -> Result<i64, CryptoError> {
    if timestamp.is_empty()
        || timestamp.len() > 12
        || !timestamp.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(CryptoError::Stale);
    }
    let t: i64 = timestamp.parse().map_err(|_| CryptoError::Stale)?;
    if (t - now_s).abs() > FRESHNESS_WINDOW_S {
        return Err(CryptoError::Stale);
    }
    Ok(t)
}

/// The Official Account's plain `signature`: SHA-1 over token, timestamp and nonce only — it
/// covers no body, which is why plain mode is accepted only for an account without an
/// EncodingAESKey, and only with a fresh timestamp and an unused signature.
pub fn verify_plain(
    token: &str,
    signature_hex: &str,
    timestamp: &str,
    nonce: &str,
) -> Result<(), CryptoError> {
    if same(&signature(&[token, timestamp, nonce]), signature_hex) {
        Ok(())
    } else {
        Err(CryptoError::BadSignature)
    }
}

/// One app's callback settings: the token, the AES key, and the receive id it must carry.
#[derive(Clone)]
pub struct MsgCrypt {
    token: String,
    key: [u8; 32],
    receive_id: String,
}

impl std::fmt::Debug for MsgCrypt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token and the key are secrets: never in logs.
        f.debug_struct("MsgCrypt")
            .field("receive_id", &self.receive_id)
            .finish_non_exhaustive()
    }
}

/// Checks an EncodingAESKey's shape and decodes it.
pub fn decode_aes_key(encoding_aes_key: &str) -> Result<[u8; 32], CryptoError> {
    if encoding_aes_key.len() != 43
        || !encoding_aes_key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
    {
        return Err(CryptoError::BadAesKey);
    }
    // 43 characters of base64 carry 258 bits: the last character's low two bits are padding,
    // which Tencent's keys do not always leave at zero; decode leniently as its samples do.
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let bytes = engine
        .decode(encoding_aes_key)
        .map_err(|_| CryptoError::BadAesKey)?;
    bytes.try_into().map_err(|_| CryptoError::BadAesKey)
}

/// The SHA-1 signature over the sorted, concatenated values.
pub fn signature(parts: &[&str]) -> String {
    let mut sorted = parts.to_vec();
    sorted.sort_unstable();
    let mut h = Sha1::new();
    for p in sorted {
        h.update(p.as_bytes());
    }
    hex_lower(&h.finalize())
}

fn hex_lower(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 0xf)] as char);
    }
    s
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

impl MsgCrypt {
    pub fn new(token: &str, encoding_aes_key: &str, receive_id: &str) -> Result<Self, CryptoError> {
        Ok(Self {
            token: token.to_owned(),
            key: decode_aes_key(encoding_aes_key)?,
            receive_id: receive_id.to_owned(),
        })
    }

    pub fn receive_id(&self) -> &str {
        &self.receive_id
    }

    /// `msg_signature` for this app's token.
    pub fn sign(&self, timestamp: &str, nonce: &str, encrypted: &str) -> String {
        signature(&[&self.token, timestamp, nonce, encrypted])
    }

    /// Checks `msg_signature` in constant time.
    pub fn verify(
        &self,
        msg_signature: &str,
        timestamp: &str,
        nonce: &str,
        encrypted: &str,
    ) -> Result<(), CryptoError> {
        if same(&self.sign(timestamp, nonce, encrypted), msg_signature) {
            Ok(())
        } else {
            Err(CryptoError::BadSignature)
        }
    }

    /// The Official Account's plain-mode `signature` (token, timestamp, nonce: no ciphertext).
    pub fn verify_plain(
        &self,
        signature_hex: &str,
        timestamp: &str,
        nonce: &str,
    ) -> Result<(), CryptoError> {
        verify_plain(&self.token, signature_hex, timestamp, nonce)
    }

    /// URL verification: checks the signature over the (already URL-decoded) `echostr` and
    /// returns its plaintext, which is the whole answer.
    pub fn verify_url(
        &self,
        msg_signature: &str,
        timestamp: &str,
        nonce: &str,
        echostr: &str,
    ) -> Result<String, CryptoError> {
        self.verify(msg_signature, timestamp, nonce, echostr)?;
        let plain = self.decrypt(echostr)?;
        String::from_utf8(plain).map_err(|_| CryptoError::BadPlaintext)
    }

    /// Verifies and decrypts one ciphertext, returning the message bytes.
    pub fn open(
        &self,
        msg_signature: &str,
        timestamp: &str,
        nonce: &str,
        encrypted: &str,
    ) -> Result<Vec<u8>, CryptoError> {
        self.verify(msg_signature, timestamp, nonce, encrypted)?;
        self.decrypt(encrypted)
    }

    /// Decrypts a base64 ciphertext and checks the receive id (no signature check).
    pub fn decrypt(&self, encrypted: &str) -> Result<Vec<u8>, CryptoError> {
        let mut buf = STANDARD
            .decode(encrypted.trim())
            .map_err(|_| CryptoError::BadCiphertext)?;
        if buf.is_empty() || buf.len() % 16 != 0 {
            return Err(CryptoError::BadCiphertext);
        }
        let iv: [u8; 16] = self.iv();
        let plain = Decryptor::new(&self.key.into(), &iv.into())
            .decrypt_padded_mut::<NoPadding>(&mut buf)
            .map_err(|_| CryptoError::BadCiphertext)?;
        let pad = usize::from(*plain.last().ok_or(CryptoError::BadPlaintext)?);
        if pad == 0 || pad > PAD_BLOCK || pad > plain.len() {
            return Err(CryptoError::BadPlaintext);
        }
        let body = &plain[..plain.len() - pad];
        if body.len() < 20 {
            return Err(CryptoError::BadPlaintext);
        }
        let len_bytes: [u8; 4] = body[16..20]
            .try_into()
            .map_err(|_| CryptoError::BadPlaintext)?;
        let len = usize::try_from(u32::from_be_bytes(len_bytes))
            .map_err(|_| CryptoError::BadPlaintext)?;
        let rest = &body[20..];
        if len > rest.len() {
            return Err(CryptoError::BadPlaintext);
        }
        let (message, receive_id) = rest.split_at(len);
        if !same(
            std::str::from_utf8(receive_id).map_err(|_| CryptoError::BadPlaintext)?,
            &self.receive_id,
        ) {
            return Err(CryptoError::WrongReceiveId);
        }
        Ok(message.to_vec())
    }

    fn iv(&self) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&self.key[..16]);
        iv
    }

    /// Encrypts a message with fresh random bytes in front.
    pub fn encrypt(&self, message: &[u8]) -> String {
        let mut random = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut random);
        self.encrypt_with(&random, message)
    }

    /// Encrypts with the given 16 leading bytes (deterministic: for tests against samples).
    pub fn encrypt_with(&self, random: &[u8; 16], message: &[u8]) -> String {
        let mut buf = Vec::with_capacity(20 + message.len() + self.receive_id.len() + PAD_BLOCK);
        buf.extend_from_slice(random);
        // Callback bodies are bounded far below 4 GiB (see the endpoint's size limit).
        let len = u32::try_from(message.len()).unwrap_or(u32::MAX);
        buf.extend_from_slice(&len.to_be_bytes());
        buf.extend_from_slice(message);
        buf.extend_from_slice(self.receive_id.as_bytes());
        let pad = PAD_BLOCK - buf.len() % PAD_BLOCK;
        // `pad` is 1..=32, so it fits a byte.
        buf.extend(std::iter::repeat_n(pad as u8, pad));
        let n = buf.len();
        let iv = self.iv();
        let out = Encryptor::new(&self.key.into(), &iv.into())
            .encrypt_padded_mut::<NoPadding>(&mut buf, n)
            .map(|c| STANDARD.encode(c));
        // The buffer is a whole number of blocks, so this cannot fail.
        out.unwrap_or_default()
    }

    /// The encrypted passive reply in Tencent's XML envelope.
    pub fn reply_xml(&self, message: &str, timestamp: &str, nonce: &str) -> String {
        let encrypted = self.encrypt(message.as_bytes());
        let sig = self.sign(timestamp, nonce, &encrypted);
        format!(
            "<xml><Encrypt>{}</Encrypt><MsgSignature>{}</MsgSignature><TimeStamp>{}</TimeStamp><Nonce>{}</Nonce></xml>",
            super::xml::cdata(&encrypted),
            super::xml::cdata(&sig),
            super::xml::text(timestamp),
            super::xml::cdata(nonce),
        )
    }

    /// The encrypted passive reply in the JSON envelope (`encrypt`, `msgsignature`,
    /// `timestamp`, `nonce`).
    pub fn reply_json(&self, message: &str, timestamp: &str, nonce: &str) -> String {
        let encrypted = self.encrypt(message.as_bytes());
        let sig = self.sign(timestamp, nonce, &encrypted);
        serde_json::json!({
            "encrypt": encrypted,
            "msgsignature": sig,
            "timestamp": timestamp,
            "nonce": nonce,
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_must_be_fresh_digits() {
        let now = 1_700_000_000;
        assert_eq!(check_fresh("1700000000", now), Ok(now));
        assert_eq!(check_fresh("1700000300", now), Ok(now + 300));
        assert_eq!(check_fresh("1699999700", now), Ok(now - 300));
        for bad in [
            "1700000301",
            "1699999699",
            "1",
            "",
            "-1700000000",
            "+1700000000",
            "17000 0000",
            "1700000000\n",
            "99999999999999999999",
        ] {
            assert_eq!(check_fresh(bad, now), Err(CryptoError::Stale), "{bad:?}");
        }
    }

    #[test]
    fn replies_escape_what_they_echo() {
        let reply = wecom().reply_xml("<xml/>", "1<2", "n]]><x>");
        assert!(reply.contains("<TimeStamp>1&lt;2</TimeStamp>"), "{reply}");
        assert!(
            reply.contains("<Nonce><![CDATA[n]]]]><![CDATA[><x>]]></Nonce>"),
            "{reply}"
        );
    }

    use crate::samples::{WECOM_AES_KEY, WECOM_CORP_ID, WECOM_TOKEN};

    fn wecom() -> MsgCrypt {
        MsgCrypt::new(WECOM_TOKEN, WECOM_AES_KEY, WECOM_CORP_ID).expect("sample key")
    }

    #[test]
    fn tencent_url_verification_sample() {
        let echo = wecom()
            .verify_url(
                crate::samples::WECOM_VERIFY_SIG,
                crate::samples::WECOM_VERIFY_TIMESTAMP,
                crate::samples::WECOM_VERIFY_NONCE,
                crate::samples::WECOM_VERIFY_ECHOSTR,
            )
            .expect("the sample verifies");
        assert!(!echo.is_empty());
        assert!(echo.chars().all(|c| c.is_ascii_digit()), "{echo}");
    }

    #[test]
    fn tencent_message_sample_decrypts() {
        let env = crate::wecom::xml::Envelope::parse_xml(crate::samples::WECOM_POST_BODY)
            .expect("envelope");
        let msg = wecom()
            .open(
                crate::samples::WECOM_POST_SIG,
                crate::samples::WECOM_POST_TIMESTAMP,
                crate::samples::WECOM_POST_NONCE,
                &env.encrypt,
            )
            .expect("the sample decrypts");
        let text = String::from_utf8(msg).expect("utf-8");
        let cb = crate::wecom::callback::Callback::parse(&text).expect("a text message");
        assert_eq!(cb.from_user_name, "ChenJiaShun");
        assert_eq!(cb.dedup_key, "msg:1456453720");
        assert!(
            matches!(cb.event, crate::wecom::callback::Event::Message { ref content, .. }
            if content.as_deref() == Some("你好"))
        );
    }

    #[test]
    fn tencent_oa_sample_decrypts() {
        let oa = MsgCrypt::new(
            crate::samples::OA_TOKEN,
            crate::samples::OA_AES_KEY,
            crate::samples::OA_APP_ID,
        )
        .expect("key");
        let env =
            crate::wecom::xml::Envelope::parse_xml(crate::samples::OA_POST_BODY).expect("envelope");
        let text = oa
            .open(
                crate::samples::OA_POST_SIG,
                crate::samples::OA_POST_TIMESTAMP,
                crate::samples::OA_POST_NONCE,
                &env.encrypt,
            )
            .expect("the sample decrypts");
        let text = String::from_utf8(text).expect("utf-8");
        assert!(text.contains("<FromUserName>"), "{text}");
    }

    #[test]
    fn any_tampering_is_refused() {
        let c = wecom();
        let s = crate::samples::WECOM_VERIFY_SIG;
        let (t, n, e) = (
            crate::samples::WECOM_VERIFY_TIMESTAMP,
            crate::samples::WECOM_VERIFY_NONCE,
            crate::samples::WECOM_VERIFY_ECHOSTR,
        );
        assert_eq!(
            c.verify_url(s, "1476416374", n, e),
            Err(CryptoError::BadSignature)
        );
        assert_eq!(c.verify_url(s, t, "1", e), Err(CryptoError::BadSignature));
        assert_eq!(
            c.verify_url(&s.replace('0', "1"), t, n, e),
            Err(CryptoError::BadSignature)
        );
        // The right signature over someone else's corp id.
        let other = MsgCrypt::new(WECOM_TOKEN, WECOM_AES_KEY, "wwSomeoneElse").expect("key");
        assert_eq!(
            other.verify_url(s, t, n, e),
            Err(CryptoError::WrongReceiveId)
        );
    }

    #[test]
    fn round_trip_pads_to_32_byte_blocks() {
        let c = wecom();
        for len in [0usize, 1, 11, 12, 13, 31, 32, 33, 100, 1000] {
            let msg = "字".repeat(len / 3) + &"a".repeat(len % 3);
            let enc = c.encrypt(msg.as_bytes());
            let raw = STANDARD.decode(&enc).expect("base64");
            assert_eq!(raw.len() % 32, 0, "padded to 32 for {len}");
            assert_eq!(c.decrypt(&enc).expect("decrypts"), msg.as_bytes());
        }
    }

    #[test]
    fn deterministic_encryption_matches_tencents_reference_layout() {
        // The Java sample's vector: random "aaaabbbbccccdddd", AppID wxb11529c136998cb6.
        let c = MsgCrypt::new(
            "pamtest",
            "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
            "wxb11529c136998cb6",
        )
        .expect("key");
        let enc = c.encrypt_with(b"aaaabbbbccccdddd", "我是中文abcd123".as_bytes());
        assert_eq!(
            enc,
            "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="
        );
    }

    #[test]
    fn replies_open_with_their_own_signature() {
        let c = wecom();
        let xml = c.reply_xml(
            "<xml><Content>你好</Content></xml>",
            "1476422779",
            "1597212914",
        );
        let env = crate::wecom::xml::Envelope::parse_xml(&xml).expect("envelope");
        let sig = crate::wecom::xml::flat(&xml).expect("xml")["MsgSignature"].clone();
        let plain = c
            .open(&sig, "1476422779", "1597212914", &env.encrypt)
            .expect("opens");
        assert_eq!(plain, "<xml><Content>你好</Content></xml>".as_bytes());
        let json: serde_json::Value =
            serde_json::from_str(&c.reply_json("{}", "1", "2")).expect("json");
        let enc = json["encrypt"].as_str().expect("encrypt");
        let sig = json["msgsignature"].as_str().expect("sig");
        assert_eq!(c.open(sig, "1", "2", enc).expect("opens"), b"{}");
    }

    #[test]
    fn keys_of_the_wrong_shape_are_named() {
        assert_eq!(
            MsgCrypt::new("t", "short", "x").map(|_| ()),
            Err(CryptoError::BadAesKey)
        );
        assert_eq!(
            MsgCrypt::new("t", &"=".repeat(43), "x").map(|_| ()),
            Err(CryptoError::BadAesKey)
        );
    }
}
