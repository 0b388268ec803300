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
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("webp") => "image/webp",
        // Compiled by the browser only with this type (streaming compilation).
        Some("wasm") => "application/wasm",
        // MediaPipe's graphs (`.binarypb`), models (`.tflite`) and packed assets (`.data`).
        _ => "application/octet-stream",
    }
}

/// Content-Security-Policy of the pages: same-origin scripts, styles, images and sockets only.
/// `worker-src 'self'`: the end-to-end encryption worker (`e2ee-worker.js`), same origin only.
/// `'wasm-unsafe-eval'`: compiling WebAssembly (the effects' MediaPipe, `vendor/mediapipe/`),
/// and nothing else — no `'unsafe-eval'`, so `eval` and `new Function` stay refused.
const PAGE_POLICY: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; media-src 'self'; worker-src 'self'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Third-party files (`vendor/…`) carry their version in the path, so they never change under
/// the same name: browsers may keep them (the effects' MediaPipe is 17 MB).
const VENDOR_PREFIX: &str = "vendor/";

/// Whether `name` may name an embedded file: the page's own files (one plain name) or a file
/// under `vendor/` (`/`-separated plain names). A plain name is ASCII letters, digits, `.`, `_`,
/// `-` and `@`, not starting with `.`; so no `..`, no empty segment, no backslash, no
/// percent-escape, no hidden file.
fn allowed_name(name: &str) -> bool {
    let plain = |segment: &str| {
        !segment.is_empty()
            && !segment.starts_with('.')
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'))
    };
    match name.strip_prefix(VENDOR_PREFIX) {
        Some(rest) => rest.split('/').all(plain),
        None => plain(name),
    }
}

/// Serves one embedded file, or 404.
pub fn asset(name: &str) -> Response {
    if !allowed_name(name) {
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
            let cache = if name.starts_with(VENDOR_PREFIX) {
                "public, max-age=31536000, immutable"
            } else {
                "no-cache"
            };
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
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
        for bad in [
            "vendor/../room.html",
            "vendor/mediapipe/../../room.html",
            "vendor//x.js",
            "vendor/.hidden",
            "vendor/a\\b.js",
            "vendor/a%2Fb.js",
            "other/room.html",
            "/room.html",
            "",
        ] {
            assert!(!allowed_name(bad), "{bad} allowed");
            assert_eq!(asset(bad).status(), StatusCode::NOT_FOUND, "{bad}");
        }
    }

    #[test]
    fn vendored_files_are_served_for_long() {
        let name = "vendor/mediapipe/selfie_segmentation-0.1.1675465747/selfie_segmentation_solution_simd_wasm_bin.wasm";
        let response = asset(name);
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/wasm");
        assert!(
            response.headers()[header::CACHE_CONTROL]
                .to_str()
                .unwrap()
                .contains("immutable")
        );
        assert_eq!(
            asset("room.js").headers()[header::CACHE_CONTROL],
            "no-cache"
        );
    }

    #[test]
    fn the_policy_allows_wasm_but_no_eval() {
        assert!(PAGE_POLICY.contains("script-src 'self' 'wasm-unsafe-eval';"));
        assert!(!PAGE_POLICY.contains("'unsafe-eval'") && !PAGE_POLICY.contains("http"));
    }
}
