//! The association files that let the Android and iOS apps open this server's links, served
//! from the settings (`--android-app`, `--ios-app`), and refused settings.
#![allow(clippy::unwrap_used)]

mod common;

use clap::Parser;
use common::TestServer;
use salon_server::applinks::{parse_android_app, parse_ios_app};
use salon_server::config::Config;

const KEY: &str = "14:6D:E9:83:C5:73:06:50:D8:EE:B9:95:2F:34:FC:64:16:A0:83:42:E6:1D:BE:A8:8A:04:96:B2:3F:CF:44:E5";

async fn get(s: &TestServer, path: &str) -> (u16, String, serde_json::Value) {
    let r = reqwest::get(format!("{}{path}", s.url())).await.unwrap();
    let status = r.status().as_u16();
    let kind = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, kind, r.json().await.unwrap())
}

#[tokio::test]
async fn the_association_files_name_the_configured_apps() {
    let s = TestServer::start_configured(|c| {
        c.android_apps = vec![
            parse_android_app(&format!("org.example.salon={KEY}")).unwrap(),
            parse_android_app(&format!("org.example.salon={}", "AB".repeat(32))).unwrap(),
        ];
        c.ios_apps = vec![parse_ios_app("ABCDE12345.org.example.salon").unwrap()];
    })
    .await;
    let (status, kind, android) = get(&s, "/.well-known/assetlinks.json").await;
    assert_eq!((status, kind.as_str()), (200, "application/json"));
    let target = &android[0]["target"];
    assert_eq!(target["namespace"], "android_app");
    assert_eq!(target["package_name"], "org.example.salon");
    assert_eq!(target["sha256_cert_fingerprints"][0], KEY);
    assert_eq!(
        target["sha256_cert_fingerprints"].as_array().unwrap().len(),
        2
    );

    // Apple fetches it without an extension, and requires JSON without a redirect.
    let (status, kind, apple) = get(&s, "/.well-known/apple-app-site-association").await;
    assert_eq!((status, kind.as_str()), (200, "application/json"));
    let details = &apple["applinks"]["details"][0];
    assert_eq!(details["appIDs"][0], "ABCDE12345.org.example.salon");
    let paths: Vec<&str> = details["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["/"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["/r/*", "/friend"]);

    // The links themselves still open the guest page (for a phone without the app).
    let page = reqwest::get(format!("{}/r/abc", s.url())).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("<html"));
}

#[tokio::test]
async fn a_server_without_apps_says_so() {
    let s = TestServer::start().await;
    for path in [
        "/.well-known/assetlinks.json",
        "/.well-known/apple-app-site-association",
    ] {
        let (status, _, body) = get(&s, path).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(body["error"]["code"], "not_configured", "{path}: {body}");
    }
}

#[test]
fn bad_app_settings_stop_the_server_with_a_clear_message() {
    let ok = Config::try_parse_from([
        "salon-server",
        "--android-app",
        &format!("org.example.salon={KEY},org.example.other={KEY}"),
        "--ios-app",
        "ABCDE12345.org.example.salon",
    ])
    .unwrap();
    assert_eq!(ok.android_apps.len(), 2);
    assert_eq!(ok.ios_apps.len(), 1);
    for (flag, value, says) in [
        (
            "--android-app",
            "org.example.salon",
            "PACKAGE=SHA256_FINGERPRINT",
        ),
        (
            "--android-app",
            "org.example.salon=AB:CD",
            "SHA-256 certificate fingerprint",
        ),
        (
            "--android-app",
            &format!("salon={KEY}"),
            "Android package name",
        ),
        ("--ios-app", "org.example.salon", "team id"),
        ("--ios-app", "ABCDE12345.", "bundle id"),
    ] {
        let error = Config::try_parse_from(["salon-server", flag, value])
            .unwrap_err()
            .to_string();
        assert!(error.contains(says), "{flag} {value}: {error}");
    }
}
