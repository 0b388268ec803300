//! The browser guest page, embedded in the binary from `server/web/` (plain HTML, CSS and JS
//! modules; no build step).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

#[derive(rust_embed::Embed)]
#[folder = "web/"]
struct Assets;

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// Content-Security-Policy of the pages: same-origin scripts, styles, images and sockets only.
/// `worker-src 'self'`: the end-to-end encryption worker (`e2ee-worker.js`), same origin only.
const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; media-src 'self'; worker-src 'self'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// Serves one embedded file, or 404.
pub fn asset(name: &str) -> Response {
    // Flat folder: no paths, so no traversal.
    if name.contains('/') || name.contains('\\') || name.starts_with('.') {
        return StatusCode::NOT_FOUND.into_response();
    }
    match Assets::get(name) {
        Some(file) => {
            let mut response = file.data.into_owned().into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(content_type(name)),
            );
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            // The page's URL holds the room's secret id: never send it to anyone else.
            headers.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            );
            if name.ends_with(".html") {
                // Only our own scripts run (the host key sits in local storage), and no other
                // site can frame the page to trick a host into clicking Remove or End.
                headers.insert(
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(PAGE_POLICY),
                );
                headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            }
            response
        }
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_embedded() {
        for page in ["index.html", "room.html", "friend.html", "friend.js"] {
            assert!(
                Assets::get(page).is_some(),
                "{page} missing from server/web/"
            );
        }
    }

    #[test]
    fn paths_are_refused() {
        assert_eq!(asset("../Cargo.toml").status(), StatusCode::NOT_FOUND);
        assert_eq!(asset(".hidden").status(), StatusCode::NOT_FOUND);
        assert_eq!(asset("nope.js").status(), StatusCode::NOT_FOUND);
    }
}
