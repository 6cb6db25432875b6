//! Decrypted callbacks, typed. Field names are Tencent's (WeCom "客户联系 > 事件",
//! "通讯录回调", "接收消息"; the Official Account's "接收事件推送" and "接收普通消息").

use std::collections::BTreeMap;

use super::xml::{XmlError, flat};

/// What happened, as far as Salon cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An associate (`user_id`) gained an external contact, possibly through a contact way
    /// carrying `state`; `welcome_code` lets us greet them once, within 20 s.
    ContactAdded {
        user_id: String,
        external_user_id: String,
        state: Option<String>,
        welcome_code: Option<String>,
    },
    ContactEdited {
        user_id: String,
        external_user_id: String,
    },
    /// The associate removed the client (`del_external_contact`).
    ContactRemovedByAssociate {
        user_id: String,
        external_user_id: String,
    },
    /// The client removed the associate (`del_follow_user`).
    ContactRemovedByClient {
        user_id: String,
        external_user_id: String,
    },
    TransferFailed {
        user_id: String,
        external_user_id: String,
        reason: String,
    },
    GroupChatChanged {
        chat_id: String,
        change: String,
    },
    StaffCreated {
        user_id: String,
        name: Option<String>,
        email: Option<String>,
    },
    StaffUpdated {
        user_id: String,
        new_user_id: Option<String>,
        name: Option<String>,
        email: Option<String>,
    },
    StaffDeleted {
        user_id: String,
    },
    /// OA follow; `scene` is the QR scene when the follow came through a parametric QR code.
    Subscribed {
        open_id: String,
        scene: Option<String>,
    },
    Unsubscribed {
        open_id: String,
    },
    /// An existing follower scanned a parametric QR code.
    Scanned {
        open_id: String,
        scene: String,
    },
    MenuClicked {
        open_id: String,
        key: String,
    },
    MenuViewed {
        open_id: String,
        url: String,
    },
    /// An inbound message. `msg_type` is Tencent's (`text`, `image`, `voice`, …); `content`
    /// is the text for text messages.
    Message {
        from: String,
        msg_id: String,
        msg_type: String,
        content: Option<String>,
    },
    /// Understood as XML but not something Salon acts on; kept in the inbox all the same.
    Other {
        msg_type: String,
        event: Option<String>,
    },
}

/// One decrypted callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    pub to_user_name: String,
    pub from_user_name: String,
    /// Seconds since the epoch, as Tencent sends it.
    pub create_time: i64,
    pub event: Event,
    /// The retry key: `MsgId` for messages, otherwise the sender, the time and the event
    /// (with what distinguishes two events of one second: change type and the people).
    pub dedup_key: String,
}

impl Callback {
    /// Reads a decrypted callback body.
    pub fn parse(body: &str) -> Result<Self, XmlError> {
        Self::from_fields(flat(body)?)
    }

    pub fn from_fields(mut f: BTreeMap<String, String>) -> Result<Self, XmlError> {
        let mut take = |k: &str| f.remove(k).filter(|v| !v.is_empty());
        let to_user_name = take("ToUserName").unwrap_or_default();
        let from_user_name = take("FromUserName").unwrap_or_default();
        let create_time = take("CreateTime")
            .ok_or(XmlError::Missing("CreateTime"))?
            .parse::<i64>()
            .map_err(|_| XmlError::Malformed("CreateTime is not a number".to_owned()))?;
        let msg_type = take("MsgType").ok_or(XmlError::Missing("MsgType"))?;
        let msg_id = take("MsgId");
        let event_name = take("Event");
        let change = take("ChangeType");
        let user_id = take("UserID");
        let external = take("ExternalUserID");
        let need = |v: Option<String>, name: &'static str| v.ok_or(XmlError::Missing(name));
        let event = match (msg_type.as_str(), event_name.as_deref(), change.as_deref()) {
            ("event", Some("change_external_contact"), Some(c)) => {
                let user_id = need(user_id.clone(), "UserID")?;
                let external_user_id = need(external.clone(), "ExternalUserID")?;
                match c {
                    "add_external_contact" | "add_half_external_contact" => Event::ContactAdded {
                        user_id,
                        external_user_id,
                        state: take("State"),
                        welcome_code: take("WelcomeCode"),
                    },
                    "edit_external_contact" => Event::ContactEdited {
                        user_id,
                        external_user_id,
                    },
                    "del_external_contact" => Event::ContactRemovedByAssociate {
                        user_id,
                        external_user_id,
                    },
                    "del_follow_user" => Event::ContactRemovedByClient {
                        user_id,
                        external_user_id,
                    },
                    "transfer_fail" => Event::TransferFailed {
                        user_id,
                        external_user_id,
                        reason: take("FailReason").unwrap_or_default(),
                    },
                    _ => Event::Other {
                        msg_type: msg_type.clone(),
                        event: event_name.clone(),
                    },
                }
            }
            ("event", Some("change_external_chat"), c) => Event::GroupChatChanged {
                chat_id: need(take("ChatId"), "ChatId")?,
                change: c.unwrap_or_default().to_owned(),
            },
            ("event", Some("change_contact"), Some("create_user")) => Event::StaffCreated {
                user_id: need(user_id.clone(), "UserID")?,
                name: take("Name"),
                email: take("Email").or_else(|| take("BizMail")),
            },
            ("event", Some("change_contact"), Some("update_user")) => Event::StaffUpdated {
                user_id: need(user_id.clone(), "UserID")?,
                new_user_id: take("NewUserID"),
                name: take("Name"),
                email: take("Email").or_else(|| take("BizMail")),
            },
            ("event", Some("change_contact"), Some("delete_user")) => Event::StaffDeleted {
                user_id: need(user_id.clone(), "UserID")?,
            },
            ("event", Some(e), _) if e.eq_ignore_ascii_case("subscribe") => Event::Subscribed {
                open_id: from_user_name.clone(),
                scene: take("EventKey").and_then(|k| k.strip_prefix("qrscene_").map(str::to_owned)),
            },
            ("event", Some(e), _) if e.eq_ignore_ascii_case("unsubscribe") => Event::Unsubscribed {
                open_id: from_user_name.clone(),
            },
            ("event", Some(e), _) if e.eq_ignore_ascii_case("scan") => Event::Scanned {
                open_id: from_user_name.clone(),
                scene: take("EventKey").unwrap_or_default(),
            },
            ("event", Some(e), _) if e.eq_ignore_ascii_case("click") => Event::MenuClicked {
                open_id: from_user_name.clone(),
                key: take("EventKey").unwrap_or_default(),
            },
            ("event", Some(e), _) if e.eq_ignore_ascii_case("view") => Event::MenuViewed {
                open_id: from_user_name.clone(),
                url: take("EventKey").unwrap_or_default(),
            },
            ("event", _, _) => Event::Other {
                msg_type: msg_type.clone(),
                event: event_name.clone(),
            },
            (t, _, _) => {
                // A link or a mini-program page: its fields, one per line (see `domain::Card`).
                let mut lines = |fields: [&str; 3]| -> String {
                    fields
                        .iter()
                        .map(|f| take(f).unwrap_or_default().replace(['\r', '\n'], " "))
                        .collect::<Vec<_>>()
                        .join("\n")
                };
                let content = match t {
                    "link" => Some(lines(["Title", "Description", "Url"])),
                    "miniprogrampage" => Some(lines(["Title", "AppId", "PagePath"])),
                    _ => take("Content"),
                };
                Event::Message {
                    from: from_user_name.clone(),
                    msg_id: need(msg_id.clone(), "MsgId")?,
                    msg_type: t.to_owned(),
                    content,
                }
            }
        };
        let dedup_key = match &msg_id {
            Some(id) => format!("msg:{id}"),
            None => format!(
                "evt:{from_user_name}:{create_time}:{}:{}:{}:{}",
                event_name.as_deref().unwrap_or(""),
                change.as_deref().unwrap_or(""),
                user_id.as_deref().unwrap_or(""),
                external.as_deref().unwrap_or(""),
            ),
        };
        Ok(Self {
            to_user_name,
            from_user_name,
            create_time,
            event,
            dedup_key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_external_contact_with_state_and_welcome_code() {
        let c = Callback::parse(
            "<xml><ToUserName><![CDATA[ww1]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>\
             <CreateTime>1403610513</CreateTime><MsgType><![CDATA[event]]></MsgType>\
             <Event><![CDATA[change_external_contact]]></Event><ChangeType><![CDATA[add_external_contact]]></ChangeType>\
             <UserID><![CDATA[zhangsan]]></UserID><ExternalUserID><![CDATA[woAJ2GCAAAXtWyujaWJHDDGi0mACAAA]]></ExternalUserID>\
             <State><![CDATA[store:SH01]]></State><WelcomeCode><![CDATA[WELCOMECODE]]></WelcomeCode></xml>",
        )
        .expect("parses");
        assert_eq!(
            c.event,
            Event::ContactAdded {
                user_id: "zhangsan".into(),
                external_user_id: "woAJ2GCAAAXtWyujaWJHDDGi0mACAAA".into(),
                state: Some("store:SH01".into()),
                welcome_code: Some("WELCOMECODE".into()),
            }
        );
        assert_eq!(
            c.dedup_key,
            "evt:sys:1403610513:change_external_contact:add_external_contact:zhangsan:woAJ2GCAAAXtWyujaWJHDDGi0mACAAA"
        );
    }

    #[test]
    fn oa_subscribe_with_a_qr_scene_and_menu_clicks() {
        let c = Callback::parse(
            "<xml><ToUserName>gh_1</ToUserName><FromUserName>oOPEN</FromUserName><CreateTime>1</CreateTime>\
             <MsgType>event</MsgType><Event>subscribe</Event><EventKey>qrscene_store:SH01</EventKey><Ticket>T</Ticket></xml>",
        )
        .expect("parses");
        assert_eq!(
            c.event,
            Event::Subscribed {
                open_id: "oOPEN".into(),
                scene: Some("store:SH01".into())
            }
        );
        let c = Callback::parse(
            "<xml><ToUserName>gh_1</ToUserName><FromUserName>oOPEN</FromUserName><CreateTime>2</CreateTime>\
             <MsgType>event</MsgType><Event>CLICK</Event><EventKey>NEW_ARRIVALS</EventKey></xml>",
        )
        .expect("parses");
        assert_eq!(
            c.event,
            Event::MenuClicked {
                open_id: "oOPEN".into(),
                key: "NEW_ARRIVALS".into()
            }
        );
    }

    #[test]
    fn messages_are_keyed_by_msg_id() {
        let c = Callback::parse(
            "<xml><ToUserName>ww1</ToUserName><FromUserName>wmEXT</FromUserName><CreateTime>1348831860</CreateTime>\
             <MsgType>text</MsgType><Content><![CDATA[你好]]></Content><MsgId>1234567890123456</MsgId><AgentID>1</AgentID></xml>",
        )
        .expect("parses");
        assert_eq!(c.dedup_key, "msg:1234567890123456");
        assert!(
            matches!(c.event, Event::Message { ref content, .. } if content.as_deref() == Some("你好"))
        );
    }

    #[test]
    fn links_and_mini_program_pages_keep_their_fields_one_per_line() {
        let link = Callback::parse(
            "<xml><ToUserName>gh</ToUserName><FromUserName>oF1</FromUserName><CreateTime>1</CreateTime>\
             <MsgType>link</MsgType><Title>Camille</Title><Description>Hand-stitched\nbag</Description>\
             <Url>https://maison.example/camille</Url><MsgId>77</MsgId></xml>",
        )
        .expect("link");
        assert!(matches!(
            link.event,
            Event::Message { ref msg_type, ref content, .. } if msg_type == "link"
                && content.as_deref() == Some("Camille\nHand-stitched bag\nhttps://maison.example/camille")
        ));
        let page = Callback::parse(
            "<xml><ToUserName>gh</ToUserName><FromUserName>oF1</FromUserName><CreateTime>1</CreateTime>\
             <MsgType>miniprogrampage</MsgType><Title>Camille</Title><AppId>wx1234</AppId>\
             <PagePath>pages/product?id=7</PagePath><ThumbUrl>https://x</ThumbUrl><MsgId>78</MsgId></xml>",
        )
        .expect("page");
        assert!(matches!(
            page.event,
            Event::Message { ref content, .. } if content.as_deref() == Some("Camille\nwx1234\npages/product?id=7")
        ));
    }

    #[test]
    fn missing_fields_are_named() {
        assert_eq!(
            Callback::parse("<xml><MsgType>text</MsgType></xml>"),
            Err(XmlError::Missing("CreateTime"))
        );
        assert_eq!(
            Callback::parse("<xml><CreateTime>1</CreateTime><MsgType>text</MsgType></xml>"),
            Err(XmlError::Missing("MsgId"))
        );
        assert_eq!(
            Callback::parse(
                "<xml><CreateTime>1</CreateTime><MsgType>event</MsgType><Event>change_external_contact</Event><ChangeType>add_external_contact</ChangeType></xml>"
            ),
            Err(XmlError::Missing("UserID"))
        );
    }
}
