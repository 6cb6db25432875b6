//! Salon's WeChat channels, spoken to Tencent's published protocols: the callback crypto
//! (WXBizMsgCrypt), safe XML and JSON envelopes, typed callbacks for WeCom (WeChat Work) and the
//! Official Account, and the WeCom API client. Nothing here knows about Salon's storage.

pub mod samples;
pub mod wecom;
