//! The node's HTTP API as this command line uses it: JSON in and out, a
//! bearer session, and refusals as [`ApiError`] with the API's stable code
//! and both messages.

use reqwest::{Method, Url};
use serde_json::{Value, json};
use std::fmt;

/// A refusal from the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// Stable machine code, e.g. `bad_credentials`.
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
    /// The error as JSON, for `--json`.
    pub fn to_json(&self) -> Value {
        json!({
            "status": self.status,
            "code": self.code,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
        })
    }

    fn from_answer(status: u16, body: &str) -> Self {
        let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
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

/// A client for one node; with a token once logged in.
#[derive(Debug, Clone)]
pub struct Client {
    base: Url,
    token: Option<String>,
    http: reqwest::Client,
}

impl Client {
    /// A client for the node at `base`, e.g. `http://127.0.0.1:8080`.
    pub fn new(base: &str) -> anyhow::Result<Self> {
        let base = Url::parse(base).map_err(|e| anyhow::anyhow!("bad --url {base}: {e}"))?;
        if base.cannot_be_a_base() || base.scheme() != "http" {
            anyhow::bail!("bad --url {base}: expected http://host:port (plain HTTP only)");
        }
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()?;
        Ok(Self {
            base,
            token: None,
            http,
        })
    }

    /// Logs in; the returned client carries the session.
    pub async fn login(&self, username: &str, password: &str) -> anyhow::Result<Client> {
        let out = self
            .post(
                &["session"],
                &json!({"username": username, "password": password}),
            )
            .await?;
        let token = out["token"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("the login answer carries no token"))?;
        Ok(Self {
            token: Some(token.to_owned()),
            ..self.clone()
        })
    }

    /// Ends the session, if any; a failure only warns.
    pub async fn logout(&self) {
        if self.token.is_some()
            && let Err(e) = self.send(Method::DELETE, &["session"], None).await
        {
            eprintln!("warning: could not log out: {e}");
        }
    }

    /// `GET /api/v1/<path...>`.
    pub async fn get(&self, path: &[&str]) -> anyhow::Result<Value> {
        self.send(Method::GET, path, None).await
    }

    /// `POST /api/v1/<path...>` with a JSON body.
    pub async fn post(&self, path: &[&str], body: &Value) -> anyhow::Result<Value> {
        self.send(Method::POST, path, Some(body)).await
    }

    /// `PUT /api/v1/<path...>` with a JSON body.
    pub async fn put(&self, path: &[&str], body: &Value) -> anyhow::Result<Value> {
        self.send(Method::PUT, path, Some(body)).await
    }

    /// `DELETE /api/v1/<path...>`.
    pub async fn delete(&self, path: &[&str]) -> anyhow::Result<Value> {
        self.send(Method::DELETE, path, None).await
    }

    /// The URL of `/api/v1/<path...>`, each part escaped as one segment.
    fn url(&self, path: &[&str]) -> Url {
        let mut u = self.base.clone();
        if let Ok(mut segs) = u.path_segments_mut() {
            segs.pop_if_empty().extend(["api", "v1"]).extend(path);
        }
        u
    }

    /// Sends a request; a success answers its JSON (`null` when empty).
    async fn send(
        &self,
        method: Method,
        path: &[&str],
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let url = self.url(path);
        let mut req = self.http.request(method, url.clone());
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let res = req
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("cannot reach the node at {}: {e}", self.base))?;
        let status = res.status().as_u16();
        let text = res
            .text()
            .await
            .map_err(|e| anyhow::anyhow!("reading the answer from {url}: {e}"))?;
        if !(200..300).contains(&status) {
            return Err(ApiError::from_answer(status, &text).into());
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("the answer from {url} is not JSON: {e}"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn paths_are_escaped_segments() {
        let c = Client::new("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            c.url(&["cases", "NH-20261123-000001-X", "record"]).as_str(),
            "http://127.0.0.1:8080/api/v1/cases/NH-20261123-000001-X/record"
        );
        assert_eq!(
            c.url(&["staff", "a/b c"]).as_str(),
            "http://127.0.0.1:8080/api/v1/staff/a%2Fb%20c"
        );
        let behind_proxy = Client::new("http://hall.example/onewindow/").unwrap();
        assert_eq!(
            behind_proxy.url(&["health"]).as_str(),
            "http://hall.example/onewindow/api/v1/health"
        );
        assert!(Client::new("ftp://x").is_err());
        assert!(Client::new("127.0.0.1:8080").is_err());
    }

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
        assert_eq!(ApiError::from_answer(502, "Bad Gateway").code, "http_error");
    }
}
