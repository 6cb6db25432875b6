//! Bounded fuzzing of everything a provider's callback hands us before it is trusted: the
//! encrypted envelope (XML and JSON shapes), its ciphertext, the decrypted callback XML, the
//! chat archive's JSON batches and the callback's timestamp. Arbitrary input and mutations of
//! valid samples (truncation, byte flips, control characters, huge numbers, deep nesting,
//! invalid UTF-8) must give a value or the typed error, never a panic; what Salon writes
//! (replies, encrypted envelopes) reads back as written.

use channels::samples::*;
use channels::wecom::archive::ArchiveBatch;
use channels::wecom::callback::Callback;
use channels::wecom::crypto::{self, MsgCrypt};
use channels::wecom::xml::{self, Envelope, XmlError};
use proptest::prelude::*;

#[path = "../../../testing/mutate.rs"]
#[allow(dead_code)]
mod mutate;
use mutate::{mutate, mutated, op};

fn wecom() -> MsgCrypt {
    MsgCrypt::new(WECOM_TOKEN, WECOM_AES_KEY, WECOM_CORP_ID).expect("sample key")
}

/// The decrypted sample callback: the plaintext Tencent's example carries.
fn decrypted_sample() -> String {
    let env = Envelope::parse(WECOM_POST_BODY).expect("sample envelope");
    String::from_utf8(wecom().decrypt(&env.encrypt).expect("sample decrypts")).expect("utf-8")
}

const CALLBACKS: [&str; 4] = [
    "<xml><ToUserName><![CDATA[ww1]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName><CreateTime>1403610513</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_contact]]></Event><ChangeType><![CDATA[add_external_contact]]></ChangeType><UserID><![CDATA[zhangsan]]></UserID><ExternalUserID><![CDATA[woAJ2GCAAAXtWyujaWJHDDGi0mACAAAA]]></ExternalUserID><State><![CDATA[teststate]]></State><WelcomeCode><![CDATA[WELCOMECODE]]></WelcomeCode></xml>",
    "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[oA1]]></FromUserName><CreateTime>123456789</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event><EventKey><![CDATA[qrscene_123123]]></EventKey><Ticket><![CDATA[TICKET]]></Ticket></xml>",
    "<xml><ToUserName>gh_1</ToUserName><FromUserName>oA1</FromUserName><CreateTime>1348831860</CreateTime><MsgType>text</MsgType><Content>this is a test &amp; &#20320;</Content><MsgId>1234567890123456</MsgId></xml>",
    "<xml><ToUserName>gh_1</ToUserName><FromUserName>oA1</FromUserName><CreateTime>1408090651</CreateTime><MsgType>event</MsgType><Event>scancode_push</Event><EventKey>6</EventKey><ScanCodeInfo><ScanType>qrcode</ScanType><ScanResult>1</ScanResult></ScanCodeInfo></xml>",
];

const ARCHIVE: &str = r#"{"chatdata":[{"seq":1,"message":{"msgid":"m1","action":"send","from":"zhangsan","tolist":["wmA"],"roomid":"","msgtime":1700000000000,"msgtype":"text","text":{"content":"你好"}}},{"seq":2,"message":{"msgid":"m2","action":"switch","time":1700000000001,"user":"zhangsan"}}]}"#;

/// Any outcome but a panic: the value, or the crate's typed error.
fn xml_outcome(r: Result<impl Sized, XmlError>) {
    if let Err(e) = r {
        // The error's message is built from the input; it must render.
        let _ = e.to_string();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics_the_callback_readers(s in any::<String>()) {
        xml_outcome(xml::flat(&s));
        xml_outcome(Envelope::parse(&s));
        xml_outcome(Envelope::parse_json(&s));
        xml_outcome(Callback::parse(&s));
        let _ = ArchiveBatch::parse(&s).map_err(|e| e.to_string());
        let _ = crypto::check_fresh(&s, 1_700_000_000);
        let _ = crypto::decode_aes_key(&s);
        let _ = wecom().decrypt(&s);
        let _ = wecom().open(&s, &s, &s, &s);
    }

    #[test]
    fn xml_shaped_noise_never_panics(
        parts in prop::collection::vec(prop_oneof![
            Just("<xml>"), Just("</xml>"), Just("<A>"), Just("</A>"), Just("<B/>"),
            Just("<![CDATA["), Just("]]>"), Just("&amp;"), Just("&#0;"), Just("&#x110000;"),
            Just("&#xD800;"), Just("&nope;"), Just("<!DOCTYPE x>"), Just("<?xml version=\"1.0\"?>"),
            Just("<!--"), Just("-->"), Just("<"), Just(">"), Just("\u{0}"), Just("x"), Just("你"),
            Just("<A a=\"1\">"), Just("<xml:A>"), Just("</xml:A>"),
        ], 0..60)
    ) {
        let s: String = parts.concat();
        xml_outcome(xml::flat(&s));
        xml_outcome(Callback::parse(&s));
        xml_outcome(Envelope::parse(&s));
    }

    #[test]
    fn mutated_envelopes_never_panic(s in prop_oneof![
        mutated(WECOM_POST_BODY, "<A>", "</A>"),
        mutated(OA_POST_BODY, "<xml>", "</xml>"),
        mutated(r#"{"tousername":"ww1","agentid":1000002,"encrypt":"abc"}"#, "[", "]"),
        mutated(r#"{"encrypt":"abc","nested":{"a":[1,2,{"b":null}]}}"#, "{\"a\":", "}"),
    ]) {
        match Envelope::parse(&s) {
            // Whatever came out must be what decryption is then given: it must not panic.
            Ok(env) => {
                let _ = wecom().decrypt(&env.encrypt);
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }

    #[test]
    fn mutated_decrypted_callbacks_never_panic(
        which in 0..CALLBACKS.len() + 1,
        ops in prop::collection::vec(op(), 1..5),
    ) {
        let sample = if which == CALLBACKS.len() { decrypted_sample() } else { CALLBACKS[which].to_owned() };
        let s = String::from_utf8_lossy(&mutate(sample.as_bytes(), &ops, b"<A>", b"</A>")).into_owned();
        xml_outcome(Callback::parse(&s));
    }

    #[test]
    fn mutated_archive_batches_never_panic(s in mutated(ARCHIVE, "[", "]")) {
        let _ = ArchiveBatch::parse(&s).map(|b| {
            for e in &b.chatdata {
                let _ = e.message.said();
            }
        });
    }

    #[test]
    fn tampered_ciphertexts_are_refused_or_read_never_panic(
        msg in prop::collection::vec(any::<u8>(), 0..300),
        random in any::<[u8; 16]>(),
        ops in prop::collection::vec(op(), 1..4),
    ) {
        let c = wecom();
        let sealed = c.encrypt_with(&random, &msg);
        let tampered = String::from_utf8_lossy(&mutate(sealed.as_bytes(), &ops, b"A", b"=")).into_owned();
        let _ = c.decrypt(&tampered);
        // Raw bytes under a valid base64 skin reach the unpadding and the length checks.
        let mut raw = base64_of(&mutate(&msg, &ops, b"\x00", b"\xff"));
        let _ = c.decrypt(&raw);
        raw.push_str("AAAA");
        let _ = c.decrypt(&raw);
    }

    #[test]
    fn what_we_encrypt_decrypts_to_itself(
        msg in prop::collection::vec(any::<u8>(), 0..2000),
        random in any::<[u8; 16]>(),
    ) {
        let c = wecom();
        let sealed = c.encrypt_with(&random, &msg);
        prop_assert_eq!(c.decrypt(&sealed).expect("our own ciphertext"), msg);
    }

    #[test]
    fn encrypted_replies_read_back_through_both_envelopes(msg in any::<String>(), nonce in "[0-9a-zA-Z]{1,16}") {
        let c = wecom();
        for body in [c.reply_xml(&msg, "1700000000", &nonce), c.reply_json(&msg, "1700000000", &nonce)] {
            let env = Envelope::parse(&body).expect("our envelope reads");
            let plain = c.decrypt(&env.encrypt).expect("our ciphertext opens");
            prop_assert_eq!(String::from_utf8(plain).expect("utf-8"), msg.clone());
        }
    }

    #[test]
    fn passive_replies_read_back_as_written(
        to in any::<String>(), from in any::<String>(), content in any::<String>(), t in any::<i64>(),
    ) {
        let reply = xml::text_reply(&to, &from, t, &content);
        if reply.len() <= xml::MAX_BODY {
            let f = xml::flat(&reply).expect("our reply is well-formed");
            // What XML can carry, as the reader trims it.
            let clean = |s: &str| -> String {
                let kept: String = s.chars().filter(|c| matches!(c, '\t' | '\n' | '\r') || (*c >= ' ' && *c != '\u{FFFE}' && *c != '\u{FFFF}')).collect();
                kept.trim().to_owned()
            };
            prop_assert_eq!(f.get("ToUserName").cloned().unwrap_or_default(), clean(&to));
            prop_assert_eq!(f.get("FromUserName").cloned().unwrap_or_default(), clean(&from));
            prop_assert_eq!(f.get("Content").cloned().unwrap_or_default(), clean(&content));
            prop_assert_eq!(f.get("CreateTime").cloned(), Some(t.to_string()));
        }
    }

    #[test]
    fn escaped_text_reads_back(value in any::<String>()) {
        let doc = format!("<xml><A>{}</A></xml>", xml::text(&value));
        if doc.len() <= xml::MAX_BODY {
            let f = xml::flat(&doc).expect("escaped text is well-formed");
            let kept: String = value.chars().filter(|c| matches!(c, '\t' | '\n' | '\r') || (*c >= ' ' && *c != '\u{FFFE}' && *c != '\u{FFFF}')).collect();
            prop_assert_eq!(f.get("A").cloned().unwrap_or_default(), kept.trim().to_owned());
        }
    }
}

fn base64_of(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * k)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let deep = format!(
        "<xml>{}{}</xml>",
        "<A>".repeat(100_000 / 3),
        "</A>".repeat(100_000 / 3)
    );
    assert_eq!(xml::flat(&deep), Err(XmlError::TooLarge));
    let deep = format!("<xml>{}{}</xml>", "<A>".repeat(5_000), "</A>".repeat(5_000));
    assert_eq!(xml::flat(&deep), Err(XmlError::TooComplex));
    let json = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert!(matches!(
        Envelope::parse_json(&json),
        Err(XmlError::Malformed(_))
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A callback is a few dozen fields at most: whatever the shape of the elements (with text,
    /// empty, self-closing, nested), the reader holds no more than 256 of them.
    #[test]
    fn no_document_yields_more_than_256_fields(
        shapes in prop::collection::vec((0u8..4, 0u16..2000), 1..1200),
        one_shape in any::<bool>(),
    ) {
        let mut doc = String::from("<xml>");
        for (shape, n) in &shapes {
            // Half the documents use the first element's shape throughout.
            let shape = if one_shape { &shapes[0].0 } else { shape };
            match shape {
                0 => doc.push_str(&format!("<F{n}/>")),
                1 => doc.push_str(&format!("<F{n}></F{n}>")),
                2 => doc.push_str(&format!("<F{n}>v</F{n}>")),
                _ => doc.push_str(&format!("<P{n}><F{n}/></P{n}>")),
            }
        }
        doc.push_str("</xml>");
        match xml::flat(&doc) {
            Ok(fields) => prop_assert!(fields.len() <= 256, "{} fields", fields.len()),
            Err(e) => prop_assert!(matches!(e, XmlError::TooComplex | XmlError::TooLarge), "{e}"),
        }
    }
}

/// Found reading the reader, then by `no_document_yields_more_than_256_fields` once it made
/// documents of one shape: self-closing elements were not counted against the field limit (nor
/// the depth limit), so one 64 KiB body could carry over ten thousand fields.
#[test]
fn self_closing_elements_count_against_the_limits() {
    let many: String = (0..300).map(|i| format!("<F{i}/>")).collect();
    assert_eq!(
        xml::flat(&format!("<xml>{many}</xml>")),
        Err(XmlError::TooComplex)
    );
    assert_eq!(
        xml::flat("<xml><a><b><c><d/></c></b></a></xml>"),
        Err(XmlError::TooComplex)
    );
}
