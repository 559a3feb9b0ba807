/// What can go wrong with an account operation, in terms a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("“{0}” is neither an email address nor a mainland mobile number")]
    BadLogin(String),
    #[error("a password needs {min} to {max} characters")]
    BadPassword { min: usize, max: usize },
    #[error("an account with this login already exists")]
    Taken,
    #[error("wrong login or password")]
    WrongCredentials,
    #[error("too many failed sign-ins; try again in {retry_after_secs} seconds")]
    Throttled { retry_after_secs: i64 },
    #[error("producer staff need a producer, and only they have one")]
    ProducerMismatch,
    #[error("no producer “{0}”")]
    UnknownProducer(String),
    #[error("password hashing failed: {0}")]
    Hashing(String),
    #[error(transparent)]
    Invalid(#[from] jinguo_common::invalid::Invalid),
    #[error("database error: {0}")]
    General(#[from] sqlx::Error),
}
