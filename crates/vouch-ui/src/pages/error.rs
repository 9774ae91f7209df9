//! The page shown when another page cannot be: what went wrong, in the page's layout.

use askama::Template;

use crate::{Html, UiError};

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    nav: &'a str,
    status: u16,
    kind: &'a str,
    message: &'a str,
}

/// The page for `error`, answered with HTTP `status`.
pub fn render(error: &UiError, status: u16) -> Html {
    let message = error.to_string();
    let page = ErrorPage {
        nav: "",
        status,
        kind: error.failure().name(),
        message: &message,
    };
    let body = page.render().unwrap_or_else(|_| {
        format!(
            "<!doctype html><title>Error</title><p>{}</p>",
            crate::chart::escape(&message)
        )
    });
    Html { body, status }
}
