//! Tencent's published sample vectors, kept once here: the unit tests use them, and so do the
//! HTTP tests that replay them through Salon's endpoints.

// WeCom (weworkapi Sample: 使用示例一, 二).
pub const WECOM_TOKEN: &str = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo";
pub const WECOM_AES_KEY: &str = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt";
pub const WECOM_CORP_ID: &str = "ww1436e0e65a779aee";

pub const WECOM_VERIFY_SIG: &str = "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb";
pub const WECOM_VERIFY_TIMESTAMP: &str = "1476416373";
pub const WECOM_VERIFY_NONCE: &str = "47744683";
pub const WECOM_VERIFY_ECHOSTR: &str =
    "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA==";

pub const WECOM_POST_SIG: &str = "0c3914025cb4b4d68103f6bfc8db550f79dcf48e";
pub const WECOM_POST_TIMESTAMP: &str = "1476422779";
pub const WECOM_POST_NONCE: &str = "1597212914";
pub const WECOM_POST_BODY: &str = "<xml><ToUserName><![CDATA[ww1436e0e65a779aee]]></ToUserName>\n<Encrypt><![CDATA[Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AIjeLvEl3NyeTkAgGzBhzTtRLNshw2AEew+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6A0sqfde0VJPQbZ9U+3JWcoD4Z5jaU0y9GSh010wsHF8KZD24YhmZH4ch4Ka7ilEbjbfvhKkNL65HHL0J6EYJIZUC2pFrdkJ7MhmEbU2qARR4iQHE7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpcwocugux082f49HKYg84EpHSGXAyh+/oxwaWbvL6aSDPOYuPDGOCI8jmnKiypE+]]></Encrypt>\n<AgentID><![CDATA[1000002]]></AgentID>\n</xml>";

// The Official Account (公众平台 Sample, safe mode).
pub const OA_TOKEN: &str = "QDG6eK";
pub const OA_APP_ID: &str = "wx5823bf96d3bd56c7";
pub const OA_AES_KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
pub const OA_POST_SIG: &str = "477715d11cdb4164915debcba66cb864d751f3e6";
pub const OA_POST_TIMESTAMP: &str = "1409659813";
pub const OA_POST_NONCE: &str = "1372623149";
pub const OA_POST_BODY: &str = "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA[RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==]]></Encrypt></xml>";
