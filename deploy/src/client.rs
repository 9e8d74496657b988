//! A small JSON client for a node's HTTP API, for setting a run up.
//!
//! Errors carry the API's machine code and both messages, so that a setup
//! step that the node refuses says why.

use anyhow::{Context, anyhow};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A client for one node, logged in or not.
#[derive(Debug, Clone)]
pub struct Api {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Api {
    /// A client for the node at `base` (e.g. `http://127.0.0.1:8080`).
    pub fn new(http: reqwest::Client, base: impl Into<String>) -> Self {
        Self {
            base: base.into(),
            token: None,
            http,
        }
    }

    /// The node's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The bearer token, once logged in.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Logs in and returns a client that carries the session.
    pub async fn login(&self, username: &str, password: &str) -> anyhow::Result<Api> {
        let out = self
            .send(
                Method::POST,
                "/api/v1/session",
                Some(&json!({"username": username, "password": password})),
            )
            .await
            .with_context(|| format!("logging in as {username}"))?;
        let token = out["token"]
            .as_str()
            .ok_or_else(|| anyhow!("the login answer has no token"))?;
        Ok(Api {
            token: Some(token.to_owned()),
            ..self.clone()
        })
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.send(Method::GET, path, None).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(Method::POST, path, Some(body)).await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let res = req
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = res.status();
        let text = res
            .text()
            .await
            .with_context(|| format!("{method} {path}"))?;
        if status.is_success() {
            if text.is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_str(&text)
                .with_context(|| format!("{method} {path}: the answer is not JSON"));
        }
        Err(anyhow!(
            "{method} {path}: {}",
            describe_error(status, &text)
        ))
    }
}

/// An API error answer in one line: status, code and both messages.
pub fn describe_error(status: StatusCode, body: &str) -> String {
    match serde_json::from_str::<Value>(body) {
        Ok(v) if v["code"].is_string() => format!(
            "{status}: {} ({} / {})",
            v["code"].as_str().unwrap_or_default(),
            v["message_zh"].as_str().unwrap_or_default(),
            v["message_en"].as_str().unwrap_or_default(),
        ),
        _ => format!("{status}: {}", body.chars().take(200).collect::<String>()),
    }
}
