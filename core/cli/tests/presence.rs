//! `salon-cli door`, `card`, `peek` and `friends add|list|watch` against a real server: two
//! data folders play two people.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};
use std::time::Duration;

fn cli(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_salon-cli"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .output()
        .unwrap()
}

/// Runs the CLI on a blocking thread (the server runs on this test's runtime).
async fn run(dir: &std::path::Path, args: &[&str]) -> String {
    let dir = dir.to_owned();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cli(&dir, &args)
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "salon-cli failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_shares_a_card_opens_the_door_and_a_friend_watches_it() {
    let data = tempfile::tempdir().unwrap();
    let config = salon_server::config::Config::for_tests(data.path().join("server"));
    let server = salon_server::start(&config).await.unwrap();
    let ada = data.path().join("ada");
    let bo = data.path().join("bo");

    let link = run(
        &ada,
        &["create", "--server", &server.url(), "--name", "Ada's"],
    )
    .await;
    let link = link.trim();
    let card = run(&ada, &["card", link, "--name", "Ada"]).await;
    let card = card.trim();
    assert!(
        card.starts_with(&format!("{}/friend?v=1&name=Ada&room=", server.url())),
        "{card}"
    );
    assert!(card.contains("&presence="), "{card}");
    // Bo cannot make a card for Ada's room: he has no host key for it.
    assert!(!cli(&bo, &["card", link, "--name", "Bo"]).status.success());

    let added: serde_json::Value =
        serde_json::from_str(&run(&bo, &["friends", "add", card]).await).unwrap();
    assert_eq!(added["presence"], true);
    let list: serde_json::Value =
        serde_json::from_str(&run(&bo, &["friends", "list", "--json"]).await).unwrap();
    assert_eq!(list[0]["name"], "Ada");
    assert_eq!(list[0]["available"], true);
    assert_eq!(list[0]["door_open"], false);
    assert_eq!(list[0]["people"], 0);

    let state: serde_json::Value = serde_json::from_str(
        &run(&ada, &["door", link, "open", "--names", "--minutes", "30"]).await,
    )
    .unwrap();
    assert_eq!(
        (state["door"].as_str(), state["door_open"].as_bool()),
        (Some("open"), Some(true))
    );
    assert!(state["until"].as_i64().is_some());
    let list: serde_json::Value =
        serde_json::from_str(&run(&bo, &["friends", "list", "--json"]).await).unwrap();
    assert_eq!(list[0]["door_open"], true);
    assert_eq!(list[0]["names"], serde_json::json!([]));
    let peek: serde_json::Value =
        serde_json::from_str(&run(&bo, &["peek", link, "--json"]).await).unwrap();
    assert_eq!(peek["door_open"], true);

    // Bo watches while Ada closes the door: a JSON line says so.
    let bo_dir = bo.clone();
    let watch = tokio::task::spawn_blocking(move || {
        cli(&bo_dir, &["friends", "watch", "--json", "--seconds", "4"])
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    run(&ada, &["door", link, "close"]).await;
    let out = watch.await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        lines.iter().any(|l| l["door_open"] == true),
        "the first state: {lines:?}"
    );
    assert_eq!(lines.last().unwrap()["door_open"], false, "{lines:?}");
    assert_eq!(lines.last().unwrap()["event"], "presence");

    // Bad input is refused with a message, not a panic.
    let bad = cli(&ada, &["door", link, "close", "--minutes", "5"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--minutes"));
    let bad = cli(
        &bo,
        &["friends", "add", "salon:friend?v=1&name=X&room=nope"],
    );
    assert!(!bad.status.success());
}
