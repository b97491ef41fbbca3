//! `WebError`: everything an HTTP handler can fail with, and the response
//! each failure gets.
//!
//! A `WebError` answers with its status and a short JSON body
//! (`{"error": "..."}`, as the webhook and cron routes always have). Inside
//! the panel the response also carries an [`ErrorPage`] extension, and the
//! panel's middleware (`admin::session::guard`) replaces the body with the
//! page through the layout, in the configured language, with the navigation
//! when someone is signed in. Failures of the server (5xx) are logged here,
//! with their cause; the client never sees it.

use axum::extract::{FromRequestParts, Path};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use crate::services::JobError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// Nothing at this address: an unknown route, an id that is not a
    /// number, a row that does not exist (any more).
    #[error("not found")]
    NotFound,
    /// A request that cannot be understood, with the reason.
    #[error("{0}")]
    BadRequest(String),
    /// A missing or wrong secret (API routes).
    #[error("{0}")]
    Unauthorized(&'static str),
    /// A body over the route's limit.
    #[error("{0}")]
    PayloadTooLarge(&'static str),
    /// 503 with a reason the client may read; the cause, if any, is logged.
    #[error("{reason}")]
    Unavailable {
        reason: &'static str,
        #[source]
        source: Option<Box<JobError>>,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Job(#[from] Box<JobError>),
    #[error("page failed to render: {0}")]
    Template(#[from] minijinja::Error),
    /// Any other failure of the server (500).
    #[error("{0}")]
    Internal(String),
}

impl From<JobError> for WebError {
    fn from(error: JobError) -> Self {
        match error {
            // Same answer as from the store itself (a missing row is a 404).
            JobError::Store(e) => WebError::Store(e),
            other => WebError::Job(Box::new(other)),
        }
    }
}

/// What a handler returns.
pub type WebResult<T = Response> = Result<T, WebError>;

/// The panel's error page for a [`WebError`] response: the status is the
/// response's, the texts are these i18n keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorPage {
    pub title_key: &'static str,
    pub message_key: &'static str,
}

impl WebError {
    /// 503 for a failure the client may retry later (the cause is logged).
    pub fn unavailable(reason: &'static str, source: impl Into<JobError>) -> WebError {
        WebError::Unavailable {
            reason,
            source: Some(Box::new(source.into())),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            WebError::NotFound | WebError::Store(StoreError::NotFound(_)) => StatusCode::NOT_FOUND,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            WebError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            WebError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            WebError::Store(_)
            | WebError::Job(_)
            | WebError::Template(_)
            | WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The JSON body's text: never the cause of a server failure.
    fn public_message(&self) -> String {
        match self.status() {
            StatusCode::NOT_FOUND => "not found".to_string(),
            StatusCode::INTERNAL_SERVER_ERROR => "internal error".to_string(),
            _ => self.to_string(),
        }
    }

    fn page(&self) -> ErrorPage {
        let message_key = match self.status() {
            StatusCode::NOT_FOUND => "error_not_found",
            _ => "error_server",
        };
        ErrorPage {
            title_key: "error_title",
            message_key,
        }
    }

    fn log(&self) {
        let status = self.status();
        if !status.is_server_error() {
            tracing::debug!(status = status.as_u16(), error = %self, "request refused");
            return;
        }
        match self {
            WebError::Unavailable {
                reason,
                source: Some(source),
            } => tracing::error!(error = %source, reason, "request failed"),
            _ => tracing::error!(error = %self, "request failed"),
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        self.log();
        let page = self.page();
        let mut response = super::json_error(self.status(), &self.public_message());
        response.extensions_mut().insert(page);
        response
    }
}

/// A numeric id from the path (`/admin/clients/{id}`); anything else
/// (`/admin/clients/abc`) is not found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Id(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, WebError> {
        match Path::<i64>::from_request_parts(parts, state).await {
            Ok(Path(id)) => Ok(Id(id)),
            Err(rejection) => {
                tracing::debug!(error = %rejection, "not an id");
                Err(WebError::NotFound)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_bodies() {
        let missing = WebError::from(StoreError::NotFound("client 7".into()));
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert_eq!(missing.public_message(), "not found");
        let job = WebError::from(JobError::Queue("secret detail".into()));
        assert_eq!(job.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(job.public_message(), "internal error");
        assert_eq!(job.page().message_key, "error_server");
        let busy = WebError::unavailable("storage unavailable", JobError::Ingest("x".into()));
        assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(busy.public_message(), "storage unavailable");
        let response = WebError::NotFound.into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            response.extensions().get::<ErrorPage>(),
            Some(&ErrorPage {
                title_key: "error_title",
                message_key: "error_not_found"
            })
        );
    }
}
