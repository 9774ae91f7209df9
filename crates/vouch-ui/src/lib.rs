//! Vouch's web UI: pages rendered on the server from templates compiled into the binary,
//! over the application layer (`vouch-app`) and the views. No page holds a rule of its
//! own: it parses its request, calls what the CLI and the JSON API call, and renders the
//! result. Every page works without JavaScript (tables, links, forms with stable URLs);
//! the one small script only adds conveniences. Charts are SVG drawn here ([`chart`]).
#![deny(missing_docs)]

pub mod chart;
pub mod pages;

use vouch_app::failure::Failure;

/// The stylesheet, served at `/static/vouch.css`.
pub const STYLESHEET: &str = include_str!("../static/vouch.css");
/// The script, served at `/static/vouch.js`.
pub const SCRIPT: &str = include_str!("../static/vouch.js");

/// A rendered page and the HTTP status to answer it with (a page that shows a refused
/// form, for instance, is 400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Html {
    /// The document.
    pub body: String,
    /// The status.
    pub status: u16,
}

impl Html {
    /// A page answered with 200.
    pub fn ok(body: String) -> Self {
        Html { body, status: 200 }
    }
}

/// Why a page could not be shown.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UiError {
    /// The request names something the ledger does not hold, or asks for it wrongly;
    /// classified as the CLI and the API classify it.
    #[error("{message}")]
    Refused {
        /// The kind (the HTTP status and the page's wording come from it).
        failure: Failure,
        /// What to tell the user.
        message: String,
    },
    /// A template failed to render (a bug).
    #[error("rendering the page failed: {0}")]
    Render(#[from] askama::Error),
}

impl UiError {
    /// A refusal of kind `failure`.
    pub fn new(failure: Failure, message: impl std::fmt::Display) -> Self {
        UiError::Refused {
            failure,
            message: message.to_string(),
        }
    }

    /// How the error is classified.
    pub fn failure(&self) -> Failure {
        match self {
            UiError::Refused { failure, .. } => *failure,
            UiError::Render(_) => Failure::Internal,
        }
    }
}

/// The result of rendering a page.
pub type Result<T> = std::result::Result<T, UiError>;
