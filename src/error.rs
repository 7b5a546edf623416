//! Typed errors of the library. A report that cannot be read is not a crash: callers turn these
//! into an `unparseable` status with the message as the reason.

use std::path::PathBuf;

use thiserror::Error;

/// Why a report could not be turned into text or into a report.
#[derive(Debug, Error)]
pub enum ExtractError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("empty file")]
    Empty,
    #[error("binary content, not text ({0})")]
    Binary(String),
    #[error("unsupported format: {0}")]
    Unsupported(String),
    #[error("too large: {0}")]
    TooLarge(String),
    #[error("damaged file: {0}")]
    Corrupt(String),
    #[error("password-protected: {0}")]
    Encrypted(String),
    #[error("{0}")]
    NoText(String),
    #[error("{0}")]
    Budget(#[from] crate::budget::Exceeded),
}

/// Why a text could not be parsed as an annual report.
#[derive(Debug, Error)]
pub enum ParseError {
    #[error("not an annual report on government information disclosure: {0}")]
    NotAReport(String),
    #[error("table 3 (收到和处理政府信息公开申请情况) unreadable: {0}")]
    Table3(String),
    #[error("{0}")]
    Budget(#[from] crate::budget::Exceeded),
}
