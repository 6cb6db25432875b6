//! WeCom's chat archive (会话内容存档): what the brand's own archive reader hands to Salon.
//!
//! Tencent releases archived conversations (one-to-one and in groups) only through its native
//! Finance SDK: `GetChatData` returns entries `{seq, msgid, publickey_ver, encrypt_random_key,
//! encrypt_chat_msg}`, and `DecryptData`, with the brand's RSA private key, turns each into the
//! message JSON documented at <https://developer.work.weixin.qq.com/document/path/91774>. That
//! step runs next to the key, in the brand's archive reader; Salon takes its output, a batch
//! `{"chatdata": [{"seq": …, "message": {decrypted message}}]}`, signed and encrypted like a
//! callback with the app's token and EncodingAESKey.

use serde::Deserialize;
use serde_json::Value;

/// A batch as the archive reader posts it (an empty one asks where Salon is).
#[derive(Debug, Clone, Deserialize)]
pub struct ArchiveBatch {
    #[serde(default)]
    pub chatdata: Vec<ArchiveEntry>,
}

/// One `GetChatData` entry, decrypted.
#[derive(Debug, Clone, Deserialize)]
pub struct ArchiveEntry {
    pub seq: i64,
    pub message: ArchivedMessage,
}

/// A decrypted archive message. `action` is `send`, `recall` (the recalled message's id in
/// `revoke.pre_msgid`) or `switch` (a device switch, not a message).
#[derive(Debug, Clone, Deserialize)]
pub struct ArchivedMessage {
    pub msgid: String,
    #[serde(default)]
    pub action: String,
    /// A staff `userid`, or an `external_userid` (robots' start with `wb`).
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub tolist: Vec<String>,
    /// The group's id; empty for a one-to-one message.
    #[serde(default)]
    pub roomid: String,
    /// Milliseconds since the epoch.
    #[serde(default)]
    pub msgtime: i64,
    #[serde(default)]
    pub msgtype: String,
    /// The type-specific object (`text`, `image`, `link`, `weapp`, `revoke`, …).
    #[serde(flatten)]
    pub rest: serde_json::Map<String, Value>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ArchiveError {
    #[error("the batch is not the archive's JSON: {0}")]
    Json(String),
    #[error("chatdata[{index}] (seq {seq}): {why}")]
    Entry { index: usize, seq: i64, why: String },
}

impl ArchiveBatch {
    /// Parses and checks a batch: each entry must have a message id, a sender and a time,
    /// and sequence numbers must rise.
    pub fn parse(json: &str) -> Result<Self, ArchiveError> {
        let batch: ArchiveBatch =
            serde_json::from_str(json).map_err(|e| ArchiveError::Json(e.to_string()))?;
        let mut last = i64::MIN;
        for (index, e) in batch.chatdata.iter().enumerate() {
            let bad = |why: &str| ArchiveError::Entry {
                index,
                seq: e.seq,
                why: why.to_owned(),
            };
            if e.seq <= last {
                return Err(bad("seq must rise through the batch"));
            }
            last = e.seq;
            let m = &e.message;
            if m.msgid.trim().is_empty() {
                return Err(bad("message.msgid is empty"));
            }
            if m.action != "switch" {
                if m.from.trim().is_empty() {
                    return Err(bad("message.from is empty"));
                }
                if m.msgtime <= 0 {
                    return Err(bad("message.msgtime must be milliseconds since 1970"));
                }
            }
        }
        Ok(batch)
    }

    /// The highest sequence number in the batch.
    pub fn last_seq(&self) -> Option<i64> {
        self.chatdata.last().map(|e| e.seq)
    }
}

/// What a message says, in the form Salon stores: its type and its text (a card's fields one
/// per line, see `domain::Card`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Said {
    pub msg_type: String,
    pub body: String,
}

impl ArchivedMessage {
    pub fn in_group(&self) -> bool {
        !self.roomid.is_empty()
    }

    fn field(&self, object: &str, key: &str) -> String {
        self.rest
            .get(object)
            .and_then(|o| o.get(key))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .replace(['\r', '\n'], " ")
    }

    /// The message as stored: text as is; a link and a mini-program as cards; a recall names
    /// the message it takes back (the original stays archived); other types by their name.
    /// `None` for a `switch`, which is not a message.
    pub fn said(&self) -> Option<Said> {
        if self.action == "switch" {
            return None;
        }
        let said = |t: &str, body: String| {
            Some(Said {
                msg_type: t.to_owned(),
                body,
            })
        };
        if self.action == "recall" || self.msgtype == "revoke" {
            return said(
                "recall",
                format!("[recalled {}]", self.field("revoke", "pre_msgid")),
            );
        }
        match self.msgtype.as_str() {
            "text" => said(
                "text",
                self.rest
                    .get("text")
                    .and_then(|o| o.get("content"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            ),
            "link" => said(
                "link",
                format!(
                    "{}\n{}\n{}",
                    self.field("link", "title"),
                    self.field("link", "description"),
                    self.field("link", "link_url")
                ),
            ),
            "weapp" => said(
                "miniprogrampage",
                format!(
                    "{}\n{}\n{}",
                    self.field("weapp", "title"),
                    self.field("weapp", "username"),
                    self.field("weapp", "displayname")
                ),
            ),
            "" => said("unknown", "[message]".to_owned()),
            other => said(other, format!("[{other}]")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BATCH: &str = r#"{"chatdata":[
      {"seq":11,"message":{"msgid":"CAQQluDa4QUY0On2rYSAgAMgzPrShAE=","action":"send","from":"wmClient1",
        "tolist":["zhang.wei","wmClient2"],"roomid":"wrRoom1","msgtime":1547087894783,"msgtype":"text",
        "text":{"content":"能打八折吗？"}}},
      {"seq":12,"message":{"msgid":"m2","action":"send","from":"zhang.wei","tolist":["wmClient1"],"roomid":"",
        "msgtime":1547087895000,"msgtype":"link","link":{"title":"Camille","description":"New\nin","link_url":"https://m.example/c","image_url":"x"}}},
      {"seq":13,"message":{"msgid":"m3","action":"recall","from":"zhang.wei","tolist":["wmClient1"],"roomid":"wrRoom1",
        "msgtime":1547087896000,"msgtype":"revoke","revoke":{"pre_msgid":"m2"}}},
      {"seq":14,"message":{"msgid":"m4","action":"switch","time":1547087897000,"user":"zhang.wei"}},
      {"seq":15,"message":{"msgid":"m5","action":"send","from":"wmClient1","tolist":["zhang.wei"],"roomid":"wrRoom1",
        "msgtime":1547087898000,"msgtype":"image","image":{"md5sum":"a","filesize":3,"sdkfileid":"x"}}}
    ]}"#;

    #[test]
    fn a_batch_of_decrypted_messages_reads_as_what_was_said() {
        let b = ArchiveBatch::parse(BATCH).expect("parses");
        assert_eq!(b.last_seq(), Some(15));
        let said: Vec<Option<Said>> = b.chatdata.iter().map(|e| e.message.said()).collect();
        assert_eq!(
            said[0],
            Some(Said {
                msg_type: "text".into(),
                body: "能打八折吗？".into()
            })
        );
        assert!(b.chatdata[0].message.in_group());
        assert!(!b.chatdata[1].message.in_group());
        assert_eq!(
            said[1].as_ref().map(|s| s.body.as_str()),
            Some("Camille\nNew in\nhttps://m.example/c")
        );
        assert_eq!(
            said[2]
                .as_ref()
                .map(|s| (s.msg_type.as_str(), s.body.as_str())),
            Some(("recall", "[recalled m2]"))
        );
        assert_eq!(said[3], None, "a device switch is not a message");
        assert_eq!(said[4].as_ref().map(|s| s.body.as_str()), Some("[image]"));
    }

    #[test]
    fn a_bad_batch_names_the_entry_and_the_field() {
        let e = ArchiveBatch::parse(
            r#"{"chatdata":[{"seq":3,"message":{"msgid":"a","action":"send","from":"x","msgtime":5,"msgtype":"text"}},
                           {"seq":4,"message":{"msgid":"b","action":"send","from":"","msgtime":5}}]}"#,
        )
        .expect_err("empty sender");
        assert_eq!(e.to_string(), "chatdata[1] (seq 4): message.from is empty");
        let e = ArchiveBatch::parse(
            r#"{"chatdata":[{"seq":3,"message":{"msgid":"a","from":"x","msgtime":5}},{"seq":3,"message":{"msgid":"b","from":"x","msgtime":5}}]}"#,
        )
        .expect_err("seq repeated");
        assert!(e.to_string().contains("seq must rise"), "{e}");
        assert!(matches!(
            ArchiveBatch::parse("[1,2]"),
            Err(ArchiveError::Json(_))
        ));
    }
}
