//! The callback XML, read defensively: bounded size and depth, no DTD, no entities beyond
//! XML's five predefined ones and character references (so no entity expansion of any kind).
//! Tencent's messages are one `<xml>` element of leaf fields (a few nest one level, such as
//! `ScanCodeInfo`); they are read into a flat map whose nested names are joined with `.`.

use std::collections::BTreeMap;

use quick_xml::events::Event;

/// The largest callback body accepted, in bytes. Tencent's are a few kilobytes.
pub const MAX_BODY: usize = 64 * 1024;
const MAX_DEPTH: usize = 4;
const MAX_FIELDS: usize = 256;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum XmlError {
    #[error("the body is larger than {MAX_BODY} bytes")]
    TooLarge,
    #[error("the body declares a DTD, which is not accepted")]
    Dtd,
    #[error("the body uses an undeclared entity `&{0};`")]
    Entity(String),
    #[error("the body is not well-formed XML: {0}")]
    Malformed(String),
    #[error("the body's root element must be <xml>")]
    NotXmlRoot,
    #[error("the body nests or repeats elements more than a callback does")]
    TooComplex,
    #[error("the envelope has no `{0}` field")]
    Missing(&'static str),
}

/// A value as a CDATA section, for a reply: a `]]>` inside is split across two sections so
/// that it cannot end the section early, and characters XML does not allow are dropped.
pub fn cdata(value: &str) -> String {
    let clean: String = value.chars().filter(|c| xml_char(*c)).collect();
    format!("<![CDATA[{}]]>", clean.replace("]]>", "]]]]><![CDATA[>"))
}

/// A value as escaped character data (`&`, `<`, `>`, quotes), characters XML does not allow
/// dropped.
pub fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars().filter(|c| xml_char(*c)) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// XML 1.0's `Char`: tab, newline, carriage return and everything from U+0020 but the
/// surrogates (which a `char` cannot hold) and U+FFFE, U+FFFF.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

/// The OA's passive text reply (被动回复用户消息, `MsgType` text) to `to` (the follower's
/// openid) from `from` (the account), every value escaped.
pub fn text_reply(to: &str, from: &str, create_time: i64, content: &str) -> String {
    format!(
        "<xml><ToUserName>{}</ToUserName><FromUserName>{}</FromUserName><CreateTime>{create_time}</CreateTime>\
         <MsgType><![CDATA[text]]></MsgType><Content>{}</Content></xml>",
        cdata(to),
        cdata(from),
        cdata(content),
    )
}

/// The fields of a `<xml>` document, nested names joined with `.`.
pub fn flat(body: &str) -> Result<BTreeMap<String, String>, XmlError> {
    if body.len() > MAX_BODY {
        return Err(XmlError::TooLarge);
    }
    let mut reader = quick_xml::Reader::from_str(body);
    let mut path: Vec<String> = Vec::new();
    let mut fields = BTreeMap::new();
    let mut text = String::new();
    let mut saw_root = false;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| XmlError::Malformed(e.to_string()))?;
        match event {
            Event::DocType(_) => return Err(XmlError::Dtd),
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                if path.is_empty() {
                    if saw_root || name != "xml" {
                        return Err(XmlError::NotXmlRoot);
                    }
                    saw_root = true;
                }
                path.push(name);
                if path.len() > MAX_DEPTH {
                    return Err(XmlError::TooComplex);
                }
                text.clear();
            }
            Event::Empty(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                if path.is_empty() {
                    return Err(XmlError::NotXmlRoot);
                }
                // Counted as an element of its own: `<A/>` is `<A></A>`.
                if path.len() + 1 > MAX_DEPTH {
                    return Err(XmlError::TooComplex);
                }
                let key = key_of(&path[1..], &name);
                fields.insert(key, String::new());
                if fields.len() > MAX_FIELDS {
                    return Err(XmlError::TooComplex);
                }
            }
            Event::Text(t) => {
                text.push_str(&t.decode().map_err(|e| XmlError::Malformed(e.to_string()))?);
            }
            Event::CData(t) => {
                text.push_str(&t.decode().map_err(|e| XmlError::Malformed(e.to_string()))?);
            }
            Event::GeneralRef(r) => {
                if let Some(c) = r
                    .resolve_char_ref()
                    .map_err(|e| XmlError::Malformed(e.to_string()))?
                {
                    text.push(c);
                } else {
                    let name = r.decode().map_err(|e| XmlError::Malformed(e.to_string()))?;
                    match quick_xml::escape::resolve_predefined_entity(&name) {
                        Some(s) => text.push_str(s),
                        None => return Err(XmlError::Entity(name.into_owned())),
                    }
                }
            }
            Event::End(_) => {
                let Some(name) = path.pop() else {
                    return Err(XmlError::Malformed("unbalanced end tag".to_owned()));
                };
                if !path.is_empty() {
                    let key = key_of(&path[1..], &name);
                    // A leaf: keep its text. A parent's own text is whitespace between children.
                    if !fields
                        .keys()
                        .any(|k: &String| k.starts_with(&format!("{key}.")))
                    {
                        fields.insert(key, std::mem::take(&mut text).trim().to_owned());
                    }
                    if fields.len() > MAX_FIELDS {
                        return Err(XmlError::TooComplex);
                    }
                }
                text.clear();
            }
            Event::Eof => break,
        }
    }
    if !saw_root || !path.is_empty() {
        return Err(XmlError::NotXmlRoot);
    }
    Ok(fields)
}

fn key_of(parents: &[String], name: &str) -> String {
    if parents.is_empty() {
        name.to_owned()
    } else {
        format!("{}.{name}", parents.join("."))
    }
}

/// The encrypted envelope of a callback, in either of its two shapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub to_user_name: Option<String>,
    pub agent_id: Option<String>,
    pub encrypt: String,
}

impl Envelope {
    /// `<xml><ToUserName/><Encrypt/><AgentID/></xml>`.
    pub fn parse_xml(body: &str) -> Result<Self, XmlError> {
        let mut f = flat(body)?;
        Ok(Self {
            to_user_name: f.remove("ToUserName"),
            agent_id: f.remove("AgentID"),
            encrypt: f
                .remove("Encrypt")
                .filter(|e| !e.is_empty())
                .ok_or(XmlError::Missing("Encrypt"))?,
        })
    }

    /// The JSON variant: `{"encrypt": "…", "tousername": "…", "agentid": …}`.
    pub fn parse_json(body: &str) -> Result<Self, XmlError> {
        if body.len() > MAX_BODY {
            return Err(XmlError::TooLarge);
        }
        let v: serde_json::Value =
            serde_json::from_str(body).map_err(|e| XmlError::Malformed(e.to_string()))?;
        let field = |k: &str| match v.get(k) {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        Ok(Self {
            to_user_name: field("tousername").or_else(|| field("ToUserName")),
            agent_id: field("agentid").or_else(|| field("AgentID")),
            encrypt: field("encrypt")
                .or_else(|| field("Encrypt"))
                .filter(|e| !e.is_empty())
                .ok_or(XmlError::Missing("encrypt"))?,
        })
    }

    /// Reads either shape, by the body's first non-blank character.
    pub fn parse(body: &str) -> Result<Self, XmlError> {
        if body.trim_start().starts_with('{') {
            Self::parse_json(body)
        } else {
            Self::parse_xml(body)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_cannot_be_broken_out_of() {
        let hostile = "a]]><Evil>x</Evil><![CDATA[b]]>\u{0}\u{1b}&<";
        let reply = text_reply(hostile, "gh_1]]>", 7, hostile);
        let fields = flat(&reply).expect("the reply is well-formed");
        let clean = "a]]><Evil>x</Evil><![CDATA[b]]>&<";
        assert_eq!(fields.get("ToUserName").map(String::as_str), Some(clean));
        assert_eq!(
            fields.get("FromUserName").map(String::as_str),
            Some("gh_1]]>")
        );
        assert_eq!(fields.get("Content").map(String::as_str), Some(clean));
        assert_eq!(fields.get("MsgType").map(String::as_str), Some("text"));
        assert!(!fields.contains_key("Evil"));
        assert_eq!(
            flat(&format!("<xml><A>{}</A></xml>", text(hostile)))
                .expect("text")
                .get("A")
                .map(String::as_str),
            Some(clean)
        );
    }

    #[test]
    fn reads_cdata_text_and_nested_fields() {
        let f = flat(
            "<?xml version=\"1.0\"?><xml><A><![CDATA[x<y]]></A><B>1 &amp; 2 &#20320;</B>\
             <ScanCodeInfo><ScanType>qrcode</ScanType></ScanCodeInfo><E/></xml>",
        )
        .expect("parses");
        assert_eq!(f["A"], "x<y");
        assert_eq!(f["B"], "1 & 2 你");
        assert_eq!(f["ScanCodeInfo.ScanType"], "qrcode");
        assert_eq!(f["E"], "");
        assert!(!f.contains_key("ScanCodeInfo"));
    }

    #[test]
    fn refuses_dtds_entities_and_bombs() {
        let bomb = "<?xml version=\"1.0\"?><!DOCTYPE xml [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;\">]><xml><A>&b;</A></xml>";
        assert_eq!(flat(bomb), Err(XmlError::Dtd));
        assert_eq!(
            flat("<xml><A>&secret;</A></xml>"),
            Err(XmlError::Entity("secret".to_owned()))
        );
        assert_eq!(flat(&"x".repeat(MAX_BODY + 1)), Err(XmlError::TooLarge));
        assert_eq!(flat("<root><A>1</A></root>"), Err(XmlError::NotXmlRoot));
        assert!(matches!(
            flat("<xml><A>1</B></xml>"),
            Err(XmlError::Malformed(_))
        ));
        assert!(flat("<xml><a><b><c><d>1</d></c></b></a></xml>").is_err());
        assert_eq!(flat("<xml><A>1</A>"), Err(XmlError::NotXmlRoot));
    }

    #[test]
    fn envelopes_in_both_shapes() {
        let x = Envelope::parse(crate::samples::WECOM_POST_BODY).expect("xml");
        assert_eq!(
            x.to_user_name.as_deref(),
            Some(crate::samples::WECOM_CORP_ID)
        );
        assert_eq!(x.agent_id.as_deref(), Some("1000002"));
        let j = Envelope::parse(r#"{"tousername":"ww1","agentid":1000002,"encrypt":"abc"}"#)
            .expect("json");
        assert_eq!(j.encrypt, "abc");
        assert_eq!(j.agent_id.as_deref(), Some("1000002"));
        assert_eq!(
            Envelope::parse("<xml><ToUserName>a</ToUserName></xml>"),
            Err(XmlError::Missing("Encrypt"))
        );
    }
}
