//! The server keeps no record of who asked about which rooms: after presence traffic (several
//! watchers, each subscribing to a friend list, changes flowing, reconnects), its database is
//! exactly what it was, and neither its logs (captured at trace level for the server's own
//! code) nor its metrics name a watched room, a presence key or a watcher's connection.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write as _;
use std::time::Duration;

use common::{TestServer, WsClient, owner, room};
use futures_util::{SinkExt as _, StreamExt as _};
use salon_protocol::{
    PresenceClientMessage, PresenceServerMessage, PresenceSubscription, decode_presence_server,
    encode,
};
use tokio_tungstenite::tungstenite::Message;

/// Every table's schema and rows, as text.
fn dump(db: &std::path::Path) -> Vec<String> {
    let conn = rusqlite::Connection::open_with_flags(
        db,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .unwrap();
    let mut out = Vec::new();
    let tables: Vec<(String, String)> = conn
        .prepare("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for (name, sql) in tables {
        out.push(sql.clone());
        if !sql.starts_with("CREATE TABLE") {
            continue;
        }
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM \"{name}\" ORDER BY rowid"))
            .unwrap();
        let columns = stmt.column_count();
        let rows: Vec<String> = stmt
            .query_map([], |r| {
                let mut row = format!("{name}:");
                for i in 0..columns {
                    let value: rusqlite::types::Value = r.get(i)?;
                    row.push_str(&format!(" {value:?}"));
                }
                Ok(row)
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        out.extend(rows);
    }
    out
}

async fn presence_key(s: &TestServer, id: &str, host_key: &str) -> String {
    let r: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/api/rooms/{id}/presence-key", s.url()))
        .json(&serde_json::json!({ "host_key": host_key }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["presence_key"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_traffic_leaves_no_trace_of_who_watched_what() {
    let captured = common::capture_logs();

    let s = TestServer::start().await;
    // Five rooms with their owners' keys; the door of two shows names.
    let mut rooms = Vec::new();
    for i in 0..5 {
        let (id, host_key) = room(&s).await;
        let key = presence_key(&s, &id, &host_key).await;
        if i % 2 == 0 {
            let r = reqwest::Client::new()
                .post(format!("{}/api/rooms/{id}/door", s.url()))
                .json(
                    &serde_json::json!({"host_key": host_key, "door": "open", "show_names": true}),
                )
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
        rooms.push((id, host_key, key));
    }
    let db = s.dir.path().join("salon.db");
    let before = dump(&db);
    let files_before: Vec<_> = std::fs::read_dir(s.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();

    // Three watchers with overlapping friend lists, two rounds each (a reconnect).
    let lists: [&[usize]; 3] = [&[0, 1, 2], &[1, 3], &[0, 2, 3, 4]];
    let mut ports = Vec::new();
    let mut watchers = Vec::new();
    for _round in 0..2 {
        for list in lists {
            let url = format!("ws://{}/api/presence", s.server.addr);
            let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
            if let tokio_tungstenite::MaybeTlsStream::Plain(tcp) = ws.get_ref() {
                ports.push(tcp.local_addr().unwrap().port());
            }
            let subscribe = PresenceClientMessage::Subscribe {
                rooms: list
                    .iter()
                    .map(|&i| PresenceSubscription {
                        room: rooms[i].0.clone(),
                        key: rooms[i].2.clone(),
                    })
                    .collect(),
            };
            ws.send(Message::Text(encode(&subscribe).into()))
                .await
                .unwrap();
            let first = ws.next().await.unwrap().unwrap();
            let Ok(PresenceServerMessage::Presence { rooms: seen }) =
                decode_presence_server(first.to_text().unwrap())
            else {
                panic!("expected presence, got {first:?}");
            };
            assert_eq!(seen.len(), list.len());
            assert!(seen.iter().all(|r| r.available));
            watchers.push(ws);
        }
    }
    assert_eq!(ports.len(), 6);

    // Changes flow to them: owners and guests come and go.
    let mut inside = Vec::new();
    for (id, host_key, _) in &rooms {
        inside.push(owner(&s, id, host_key).await);
        inside.push(WsClient::joined(&s.ws_url(id), "Guest").await.0);
    }
    let mut changes = 0;
    for ws in &mut watchers {
        while let Ok(Some(Ok(frame))) =
            tokio::time::timeout(Duration::from_millis(300), ws.next()).await
        {
            if let Message::Text(text) = frame
                && let Ok(PresenceServerMessage::Presence { .. }) = decode_presence_server(&text)
            {
                changes += 1;
            }
        }
    }
    assert!(changes >= 6, "the watchers saw the changes ({changes})");
    for mut c in inside {
        c.send(&salon_protocol::ClientMessage::Leave).await;
    }
    for mut ws in watchers {
        ws.send(Message::Text(encode(&PresenceClientMessage::Ping).into()))
            .await
            .unwrap();
        let _ = ws.close(None).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    // The database holds exactly what it held before, and no new file appeared.
    assert_eq!(dump(&db), before, "presence traffic changed the database");
    let mut files_after: Vec<_> = std::fs::read_dir(s.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let mut files_before = files_before;
    files_before.sort();
    files_after.sort();
    assert_eq!(files_after, files_before);

    // The logs: something was logged (the capture works), but nothing names a watched room's
    // link or key, or a watcher's connection.
    let logs = captured.text();
    assert!(
        logs.contains("participant joined"),
        "capture works:\n{logs}"
    );
    for (id, _, key) in &rooms {
        assert!(
            !logs.contains(id.as_str()),
            "a room link in the logs:\n{logs}"
        );
        assert!(!logs.contains(key.as_str()), "a presence key in the logs");
    }
    for port in &ports {
        assert!(
            !logs.contains(&format!(":{port}")),
            "a watcher's connection ({port}) in the logs:\n{logs}"
        );
    }

    // The metrics are server-wide.
    let metrics = s.metrics().await;
    for (id, _, key) in &rooms {
        assert!(!metrics.contains(id.as_str()) && !metrics.contains(key.as_str()));
    }
    let _ = std::io::stderr().flush();
}
