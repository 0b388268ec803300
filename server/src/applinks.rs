//! Links that open the app: the association files with which Android (App Links) and iOS
//! (Universal Links) let an installed Salon app open this server's invite links (`/r/<id>`)
//! and friend cards (`/friend?…`) instead of the browser. Without the app, or on a server
//! that names none, the same links open the guest page.
//!
//! - `GET /.well-known/assetlinks.json` (Digital Asset Links): each `--android-app` as a package
//!   name and the SHA-256 fingerprints of its signing certificates.
//! - `GET /.well-known/apple-app-site-association`: each `--ios-app` (team id and bundle id) for
//!   the paths `/r/*` and `/friend`.
//!
//! Both are built once at start from validated settings; a server without apps answers 404.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::AppState;

/// An Android app allowed to open this server's links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AndroidApp {
    /// The application id, e.g. `org.example.salon`.
    pub package: String,
    /// The SHA-256 fingerprint of its signing certificate, as upper-case hex pairs joined by `:`.
    pub fingerprint: String,
}

/// An iOS app allowed to open this server's links: `TEAMID.bundle.id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IosApp(pub String);

/// Parses `--android-app PACKAGE=FINGERPRINT`.
pub fn parse_android_app(value: &str) -> Result<AndroidApp, String> {
    let (package, fingerprint) = value.split_once('=').ok_or_else(|| {
        format!(
            "expected PACKAGE=SHA256_FINGERPRINT (e.g. org.example.salon=AB:CD:…), got {value:?}"
        )
    })?;
    let package = package.trim();
    let segments: Vec<&str> = package.split('.').collect();
    let segment_ok = |s: &&str| {
        s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if package.len() > 255 || segments.len() < 2 || !segments.iter().all(segment_ok) {
        return Err(format!(
            "{package:?} is not an Android package name (two or more dot-separated parts, each \
             a letter followed by letters, digits or _)"
        ));
    }
    let hex: String = fingerprint.trim().replace(':', "");
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!(
            "{:?} is not a SHA-256 certificate fingerprint (32 bytes in hex, as `keytool -list \
             -v` or `apksigner verify --print-certs` print them)",
            fingerprint.trim()
        ));
    }
    let hex = hex.to_ascii_uppercase();
    let fingerprint = hex
        .as_bytes()
        .chunks(2)
        .map(|pair| String::from_utf8_lossy(pair).into_owned())
        .collect::<Vec<_>>()
        .join(":");
    Ok(AndroidApp {
        package: package.to_owned(),
        fingerprint,
    })
}

/// Parses `--ios-app TEAMID.BUNDLE_ID`.
pub fn parse_ios_app(value: &str) -> Result<IosApp, String> {
    let value = value.trim();
    let (team, bundle) = value.split_once('.').ok_or_else(|| {
        format!("expected TEAMID.BUNDLE_ID (e.g. ABCDE12345.org.example.salon), got {value:?}")
    })?;
    if team.len() != 10
        || !team
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        return Err(format!(
            "{team:?} is not an Apple team id (10 upper-case letters and digits, from the \
             developer account's Membership page)"
        ));
    }
    let bundle_ok = !bundle.is_empty()
        && bundle.len() <= 155
        && !bundle.starts_with('.')
        && !bundle.ends_with('.')
        && !bundle.contains("..")
        && bundle
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    if !bundle_ok {
        return Err(format!(
            "{bundle:?} is not a bundle id (letters, digits, - and ., e.g. org.example.salon)"
        ));
    }
    Ok(IosApp(value.to_owned()))
}

/// The two files, rendered once (`None`: no app of that platform).
#[derive(Debug, Clone, Default)]
pub struct AppLinks {
    assetlinks: Option<String>,
    apple: Option<String>,
}

impl AppLinks {
    pub fn new(android: &[AndroidApp], ios: &[IosApp]) -> Self {
        // One statement per package, with all of its fingerprints (a debug and a release key).
        let mut packages: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for app in android {
            let keys = packages.entry(&app.package).or_default();
            if !keys.contains(&app.fingerprint.as_str()) {
                keys.push(&app.fingerprint);
            }
        }
        let assetlinks = (!packages.is_empty()).then(|| {
            let statements: Vec<_> = packages
                .iter()
                .map(|(package, keys)| {
                    json!({
                        "relation": ["delegate_permission/common.handle_all_urls"],
                        "target": {
                            "namespace": "android_app",
                            "package_name": package,
                            "sha256_cert_fingerprints": keys,
                        }
                    })
                })
                .collect();
            serde_json::Value::Array(statements).to_string()
        });
        let mut ids: Vec<&str> = ios.iter().map(|a| a.0.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        let apple = (!ids.is_empty()).then(|| {
            json!({
                "applinks": {
                    "details": [{
                        "appIDs": ids,
                        "components": [
                            { "/": "/r/*", "comment": "invite links" },
                            { "/": "/friend", "comment": "friend cards" },
                        ],
                    }]
                }
            })
            .to_string()
        });
        Self { assetlinks, apple }
    }
}

fn serve(body: Option<&String>, what: &str) -> Response {
    match body {
        Some(body) => (
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "max-age=3600"),
            ],
            body.clone(),
        )
            .into_response(),
        None => crate::http::api_error(
            StatusCode::NOT_FOUND,
            "not_configured",
            &format!("This server names no {what} app (see --android-app and --ios-app)."),
        ),
    }
}

/// `GET /.well-known/assetlinks.json`
pub async fn assetlinks(State(state): State<AppState>) -> Response {
    serve(state.app_links.assetlinks.as_ref(), "Android")
}

/// `GET /.well-known/apple-app-site-association`
pub async fn apple_app_site_association(State(state): State<AppState>) -> Response {
    serve(state.app_links.apple.as_ref(), "iOS")
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "14:6D:E9:83:C5:73:06:50:D8:EE:B9:95:2F:34:FC:64:16:A0:83:42:E6:1D:BE:A8:8A:04:96:B2:3F:CF:44:E5";

    #[test]
    fn android_apps_are_validated_and_fingerprints_normalised() {
        let app = parse_android_app(&format!("org.example.salon={}", KEY.to_lowercase())).unwrap();
        assert_eq!(app.package, "org.example.salon");
        assert_eq!(app.fingerprint, KEY);
        let bare = parse_android_app(&format!("a.b={}", KEY.replace(':', ""))).unwrap();
        assert_eq!(bare.fingerprint, KEY);
        for bad in [
            "org.example.salon",
            &format!("salon={KEY}"),
            &format!("org.1example={KEY}"),
            &format!("org.exa-mple={KEY}"),
            &format!("org..salon={KEY}"),
            "org.example.salon=AB:CD",
            &format!("org.example.salon={}", KEY.replace('E', "G")),
        ] {
            let error = parse_android_app(bad).unwrap_err();
            assert!(!error.is_empty(), "{bad}");
        }
    }

    #[test]
    fn ios_apps_are_validated() {
        assert_eq!(
            parse_ios_app("ABCDE12345.org.example.salon").unwrap(),
            IosApp("ABCDE12345.org.example.salon".into())
        );
        for bad in [
            "org.example.salon",
            "abcde12345.org.example.salon",
            "ABCDE1234.org.example.salon",
            "ABCDE12345.",
            "ABCDE12345.org..salon",
            "ABCDE12345.org/salon",
        ] {
            assert!(parse_ios_app(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_files_name_every_app_once() {
        let release = parse_android_app(&format!("org.example.salon={KEY}")).unwrap();
        let debug = AndroidApp {
            package: "org.example.salon".into(),
            fingerprint: "AA".repeat(32),
        };
        let links = AppLinks::new(
            &[release.clone(), debug, release],
            &[IosApp("ABCDE12345.org.example.salon".into())],
        );
        let android: serde_json::Value =
            serde_json::from_str(links.assetlinks.as_deref().unwrap()).unwrap();
        assert_eq!(android.as_array().unwrap().len(), 1);
        assert_eq!(
            android[0]["target"]["sha256_cert_fingerprints"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            android[0]["relation"][0],
            "delegate_permission/common.handle_all_urls"
        );
        let apple: serde_json::Value =
            serde_json::from_str(links.apple.as_deref().unwrap()).unwrap();
        assert_eq!(
            apple["applinks"]["details"][0]["appIDs"][0],
            "ABCDE12345.org.example.salon"
        );
        assert_eq!(
            apple["applinks"]["details"][0]["components"][0]["/"],
            "/r/*"
        );
        let none = AppLinks::new(&[], &[]);
        assert!(none.assetlinks.is_none() && none.apple.is_none());
    }
}
