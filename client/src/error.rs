//! What can go wrong: the node refused (with its stable code and both
//! messages), the node could not be reached, or its answer did not read.

use serde::Serialize;
use std::fmt;

/// A refusal from the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// Stable machine code, e.g. `bad_credentials`; `http_error` when the
    /// answer was not the API's error body (a proxy's page, say).
    pub code: String,
    /// Chinese message.
    pub message_zh: String,
    /// English message.
    pub message_en: String,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (HTTP {}): {} / {}",
            self.code, self.status, self.message_zh, self.message_en
        )
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    /// Reads a non-2xx answer.
    pub fn from_answer(status: u16, body: &str) -> Self {
        let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        let text = |k: &str| v[k].as_str().map(str::to_owned);
        match text("code") {
            Some(code) => Self {
                status,
                code,
                message_zh: text("message_zh").unwrap_or_default(),
                message_en: text("message_en").unwrap_or_default(),
            },
            None => Self {
                status,
                code: "http_error".to_owned(),
                message_zh: format!("节点返回 HTTP {status}"),
                message_en: format!(
                    "the node answered HTTP {status}: {}",
                    body.chars().take(200).collect::<String>()
                ),
            },
        }
    }
}

/// An error of the client.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The node refused.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The base URL is not one the client can use.
    #[error("bad node URL {url}: {reason}")]
    BadUrl {
        /// The URL given.
        url: String,
        /// Why not.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Setup(String),
    /// No answer.
    #[error("cannot reach the node at {base}: {reason}")]
    Unreachable {
        /// The node's base URL.
        base: String,
        /// Why.
        reason: String,
    },
    /// An answer that does not read as the type expected.
    #[error("the answer from {url} does not read: {reason}")]
    Decode {
        /// The URL called.
        url: String,
        /// Why.
        reason: String,
    },
}

impl Error {
    /// The API's refusal, if this is one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Self::Api(a) => Some(a),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_keep_code_and_messages() {
        let e = ApiError::from_answer(
            401,
            r#"{"code":"bad_credentials","message_zh":"用户名或密码错误","message_en":"wrong username or password"}"#,
        );
        assert_eq!(e.code, "bad_credentials");
        assert_eq!(
            e.to_string(),
            "bad_credentials (HTTP 401): 用户名或密码错误 / wrong username or password"
        );
        let bad_gateway = ApiError::from_answer(502, "Bad Gateway");
        assert_eq!(bad_gateway.code, "http_error");
        assert!(bad_gateway.message_en.contains("Bad Gateway"));
        assert_eq!(Error::from(e.clone()).api(), Some(&e));
    }
}
