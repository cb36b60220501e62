//! The browser's typed client for the portal's HTTP API. During server-side rendering no data is
//! fetched: pages load it once hydrated, so the same public endpoints serve people and scripts.

use super::ErrorBody;
use serde::de::DeserializeOwned;
use std::fmt;

/// Why a call to the API did not give the expected body.
#[derive(Clone, Debug, PartialEq)]
pub enum ClientError {
    /// The API answered with its error body.
    Api { status: u16, body: ErrorBody },
    /// The request never got a usable answer.
    Transport(String),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Api { status, body } => match &body.error.field {
                Some(field) => write!(f, "{field}: {} ({status})", body.error.message),
                None => write!(f, "{} ({status})", body.error.message),
            },
            Self::Transport(message) => f.write_str(message),
        }
    }
}

/// Fetches `path` from the portal and decodes the JSON body.
#[cfg(feature = "hydrate")]
pub(super) async fn get_json<T: DeserializeOwned>(path: &str) -> Result<T, ClientError> {
    use gloo_net::http::Request;
    let response = Request::get(path)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| ClientError::Transport(format!("request to {path} failed: {e}")))?;
    let status = response.status();
    if (200..300).contains(&status) {
        return response
            .json::<T>()
            .await
            .map_err(|e| ClientError::Transport(format!("unexpected answer from {path}: {e}")));
    }
    match response.json::<ErrorBody>().await {
        Ok(body) => Err(ClientError::Api { status, body }),
        Err(_) => Err(ClientError::Transport(format!("{path} answered {status}"))),
    }
}

/// Sends `body` (JSON) with `method` to `path` and decodes the JSON answer; an empty answer
/// (204) decodes as `null`, so `T = ()` fits endpoints that return nothing.
#[cfg(feature = "hydrate")]
pub(super) async fn send_json<B: serde::Serialize, T: DeserializeOwned>(
    method: &str,
    path: &str,
    body: Option<&B>,
) -> Result<T, ClientError> {
    use gloo_net::http::{Method, RequestBuilder};
    let method = Method::from_bytes(method.as_bytes())
        .map_err(|e| ClientError::Transport(format!("bad method {method}: {e}")))?;
    let builder = RequestBuilder::new(path)
        .method(method)
        .header("accept", "application/json");
    let request = match body {
        Some(body) => builder.json(body),
        None => builder.build(),
    }
    .map_err(|e| ClientError::Transport(format!("request to {path} failed: {e}")))?;
    answer(request, path).await
}

/// Sends `text` (e.g. a YAML rule file) with `method` to `path` and decodes the JSON answer.
#[cfg(feature = "hydrate")]
pub(super) async fn send_text<T: DeserializeOwned>(
    method: &str,
    path: &str,
    content_type: &str,
    text: &str,
) -> Result<T, ClientError> {
    use gloo_net::http::{Method, RequestBuilder};
    let method = Method::from_bytes(method.as_bytes())
        .map_err(|e| ClientError::Transport(format!("bad method {method}: {e}")))?;
    let request = RequestBuilder::new(path)
        .method(method)
        .header("accept", "application/json")
        .header("content-type", content_type)
        .body(text.to_string())
        .map_err(|e| ClientError::Transport(format!("request to {path} failed: {e}")))?;
    answer(request, path).await
}

/// Sends `request` and decodes its JSON answer or the API's error body.
#[cfg(feature = "hydrate")]
async fn answer<T: DeserializeOwned>(
    request: gloo_net::http::Request,
    path: &str,
) -> Result<T, ClientError> {
    let response = request
        .send()
        .await
        .map_err(|e| ClientError::Transport(format!("request to {path} failed: {e}")))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if (200..300).contains(&status) {
        let text = if text.trim().is_empty() {
            "null"
        } else {
            text.as_str()
        };
        return serde_json::from_str(text)
            .map_err(|e| ClientError::Transport(format!("unexpected answer from {path}: {e}")));
    }
    match serde_json::from_str::<ErrorBody>(&text) {
        Ok(body) => Err(ClientError::Api { status, body }),
        Err(_) => Err(ClientError::Transport(format!("{path} answered {status}"))),
    }
}

/// On the server nothing is sent; forms that call this run in the browser.
#[cfg(not(feature = "hydrate"))]
pub(super) async fn send_text<T: DeserializeOwned>(
    _method: &str,
    path: &str,
    _content_type: &str,
    _text: &str,
) -> Result<T, ClientError> {
    Err(ClientError::Transport(format!(
        "{path} is called from the browser"
    )))
}

/// On the server nothing is sent; forms that call this run in the browser.
#[cfg(not(feature = "hydrate"))]
pub(super) async fn send_json<B: serde::Serialize, T: DeserializeOwned>(
    _method: &str,
    path: &str,
    _body: Option<&B>,
) -> Result<T, ClientError> {
    Err(ClientError::Transport(format!(
        "{path} is called from the browser"
    )))
}

/// On the server pages do not fetch through HTTP; resources that call this run in the browser.
#[cfg(not(feature = "hydrate"))]
pub(super) async fn get_json<T: DeserializeOwned>(path: &str) -> Result<T, ClientError> {
    Err(ClientError::Transport(format!(
        "{path} is fetched in the browser"
    )))
}

/// Fetches a Prometheus-API `path` and returns its `data`, or the API's error message (which
/// for a bad query says where and why), whatever the status code.
#[cfg(feature = "hydrate")]
pub(super) async fn get_prom<T: DeserializeOwned>(path: &str) -> Result<T, String> {
    use super::prometheus::PromResponse;
    use gloo_net::http::Request;
    let response = Request::get(path)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| format!("request to {path} failed: {e}"))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| format!("reading the answer from {path} failed: {e}"))?;
    if let Ok(answer) = serde_json::from_str::<PromResponse<T>>(&text) {
        return match answer {
            PromResponse::Success { data, .. } => Ok(data),
            PromResponse::Error { error, .. } => Err(error),
        };
    }
    match serde_json::from_str::<ErrorBody>(&text) {
        Ok(body) => Err(body.error.message),
        Err(_) => Err(format!("{path} answered {status}")),
    }
}

/// On the server pages do not fetch through HTTP; resources that call this run in the browser.
#[cfg(not(feature = "hydrate"))]
pub(super) async fn get_prom<T: DeserializeOwned>(path: &str) -> Result<T, String> {
    Err(format!("{path} is fetched in the browser"))
}
