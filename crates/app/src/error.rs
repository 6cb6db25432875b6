use domain::{FieldError, RepoError};

/// What a use case answers besides success. Each has a stable code for API clients.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Forbidden(String),
    #[error("sign in first")]
    Unauthenticated,
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    Conflict(String),
    #[error("too many attempts; try again in {0} minutes")]
    RateLimited(u64),
    /// A provider (WeCom, the Official Account) could not be reached or refused the call.
    #[error("{0}")]
    Unavailable(String),
    /// A message a monitoring rule blocks: nothing was queued or sent.
    #[error(
        "blocked by the rule \"{rule}\" ({category}): \"{matched}\" may not be sent to a client"
    )]
    Blocked {
        rule: String,
        category: String,
        matched: String,
    },
    /// A request body over the size the route takes.
    #[error("{0}")]
    TooLarge(String),
    /// The store is busy with other writers: nothing was done; the same request may be sent
    /// again in a moment (HTTP 503 with `Retry-After`).
    #[error("Salon is busy; please try again in a moment")]
    Busy(String),
    #[error("internal error")]
    Internal(String),
}

impl AppError {
    pub fn code(&self) -> String {
        match self {
            AppError::NotFound(what) => format!("{}_not_found", what.replace(' ', "_")),
            AppError::Forbidden(_) => "forbidden".into(),
            AppError::Unauthenticated => "unauthenticated".into(),
            AppError::Invalid(_) => "invalid_input".into(),
            AppError::Conflict(_) => "conflict".into(),
            AppError::RateLimited(_) => "rate_limited".into(),
            AppError::Unavailable(_) => "channel_unavailable".into(),
            AppError::Blocked { .. } => "blocked_by_rule".into(),
            AppError::TooLarge(_) => "payload_too_large".into(),
            AppError::Busy(_) => "busy".into(),
            AppError::Internal(_) => "internal".into(),
        }
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        AppError::Invalid(vec![FieldError::new(field, message)])
    }
}

impl From<FieldError> for AppError {
    fn from(e: FieldError) -> Self {
        AppError::Invalid(vec![e])
    }
}

impl From<RepoError> for AppError {
    fn from(e: RepoError) -> Self {
        match e {
            RepoError::NotFound(what) => AppError::NotFound(what),
            RepoError::Conflict(m) => AppError::Conflict(m),
            RepoError::Stale(what) => {
                AppError::Conflict(format!("{what} changed meanwhile; try again"))
            }
            RepoError::Invalid(f) => AppError::Invalid(vec![f]),
            RepoError::Busy(m) => AppError::Busy(m),
            RepoError::Backend(m) => AppError::Internal(m),
        }
    }
}

/// Collects field errors so that a person sees every problem of a form at once.
#[derive(Default)]
pub struct Errors(pub Vec<FieldError>);

impl Errors {
    pub fn push(&mut self, e: FieldError) {
        self.0.push(e);
    }

    pub fn take<T>(&mut self, r: Result<T, FieldError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(e);
                None
            }
        }
    }

    pub fn finish(self) -> Result<(), AppError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::Invalid(self.0))
        }
    }
}
