use thiserror::Error;

/// A value from outside that does not fit: names the field and says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// What a storage port can answer besides success.
#[derive(Debug, Error)]
pub enum RepoError {
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A uniqueness rule would be broken (names the rule, never the value).
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("invalid: {0}")]
    Invalid(#[from] FieldError),
    /// What the caller read has changed since: read it again and retry.
    #[error("stale: {0}")]
    Stale(&'static str),
    /// The database is busy with other writers (SQLite's lock, PostgreSQL's serialization or
    /// deadlock failures, no connection free in time): nothing was written, retry shortly.
    #[error("storage busy: {0}")]
    Busy(String),
    /// The database failed; the text is for logs and never contains PII.
    #[error("storage failure: {0}")]
    Backend(String),
}
