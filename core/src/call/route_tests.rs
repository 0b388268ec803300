#![allow(clippy::unwrap_used)]

use super::*;

const ID: &str = "abcdefghijklmnopqrstuv";

fn ws(base: &str) -> String {
    node_ws_url(base, ID)
}

#[test]
fn a_moved_url_gives_the_node_base() {
    let from = "ws://entry.example/api/rooms/abcdefghijklmnopqrstuv/ws";
    assert_eq!(
        check_moved(&ws("ws://10.0.0.2:8080"), from).unwrap(),
        "ws://10.0.0.2:8080"
    );
    assert_eq!(
        check_moved(&ws("wss://salon.example/n/a"), from).unwrap(),
        "wss://salon.example/n/a"
    );
    // From wss, wss is fine.
    let secure = "wss://salon.example/api/rooms/abcdefghijklmnopqrstuv/ws";
    assert_eq!(
        check_moved(&ws("wss://b.salon.example"), secure).unwrap(),
        "wss://b.salon.example"
    );
}

#[test]
fn invalid_moved_urls_are_refused() {
    let from = "ws://entry.example/api/rooms/abcdefghijklmnopqrstuv/ws";
    let secure = "wss://entry.example/api/rooms/abcdefghijklmnopqrstuv/ws";
    for (url, from, why) in [
        ("not a url", from, "malformed"),
        (&ws("http://b.example") as &str, from, "scheme"),
        (&ws("https://b.example"), from, "scheme"),
        (&ws("ftp://b.example"), from, "scheme"),
        (&ws("ws://b.example"), secure, "downgrade"),
        (&ws("ws://user:pw@b.example"), from, "userinfo"),
        (&ws("ws://user@b.example"), from, "userinfo"),
        (
            "ws://b.example/api/rooms/abcdefghijklmnopqrstuv/ws?x=1",
            from,
            "query",
        ),
        (
            "ws://b.example/api/rooms/abcdefghijklmnopqrstuv/ws#f",
            from,
            "fragment",
        ),
        (
            "ws://b.example/api/rooms/abcdefghijklmnopqrstuv",
            from,
            "path",
        ),
        (
            "ws://b.example/rooms/abcdefghijklmnopqrstuv/ws",
            from,
            "path",
        ),
        ("ws://b.example/api/rooms/short/ws", from, "room id"),
        (
            "ws://b.example/api/rooms/abcdefghijklmnopqrst!v/ws",
            from,
            "room id",
        ),
        ("ws://b.example/api/rooms//ws", from, "path"),
        (
            "ws://b.example/api/rooms/abcdefghijklmnopqrstuv/x/ws",
            from,
            "path",
        ),
    ] {
        assert!(check_moved(url, from).is_err(), "{why}: {url} was accepted");
    }
}

#[test]
fn a_walk_follows_three_moves_then_fails() {
    let entry = "ws://entry.example/api/rooms/abcdefghijklmnopqrstuv/ws".to_owned();
    let mut route = Route::default();
    let mut walk = Walk::new(entry.clone());
    let mut at = entry.clone();
    for n in 1..=MAX_MOVES {
        let to = ws(&format!("ws://node{n}.example"));
        assert_eq!(walk.moved(&mut route, &to, &at), Step::Connect(to.clone()));
        assert_eq!(
            route.node.as_deref(),
            Some(&*format!("ws://node{n}.example"))
        );
        at = to;
    }
    assert_eq!(walk.moves(), MAX_MOVES);
    let Step::Fail(e) = walk.moved(&mut route, &ws("ws://node9.example"), &at) else {
        panic!("a fourth move was followed");
    };
    assert!(e.to_string().contains("moved"), "{e}");
}

#[test]
fn an_invalid_move_fails_and_keeps_the_route() {
    let entry = "wss://entry.example/api/rooms/abcdefghijklmnopqrstuv/ws".to_owned();
    let mut route = Route::default();
    let mut walk = Walk::new(entry.clone());
    let step = walk.moved(&mut route, &ws("ws://evil.example"), &entry);
    assert!(
        matches!(&step, Step::Fail(CoreError::Server { reason }) if reason.contains("invalid address")),
        "{step:?}"
    );
    assert_eq!(route.node, None);
}

#[test]
fn an_unreachable_node_falls_back_to_the_entry_once() {
    let entry = "ws://entry.example/api/rooms/abcdefghijklmnopqrstuv/ws".to_owned();
    let mut route = Route {
        node: Some("ws://dead.example".into()),
    };
    let node = route.url(&entry, ID);
    assert_eq!(node, ws("ws://dead.example"));
    let mut walk = Walk::new(entry.clone());
    let refused = CoreError::network("connection refused");
    assert_eq!(
        walk.unreachable(&mut route, &node, refused.clone()),
        Step::Connect(entry.clone())
    );
    assert_eq!(route.node, None);
    assert_eq!(route.url(&entry, ID), entry);
    // The entry answers moved to the dead node again (its lease has not lapsed yet): after
    // that one fails too, the walk gives up (the driver backs off and tries again).
    let again = walk.moved(&mut route, &node, &entry);
    assert_eq!(again, Step::Connect(node.clone()));
    assert_eq!(
        walk.unreachable(&mut route, &node, refused.clone()),
        Step::Fail(refused.clone())
    );
    assert_eq!(route.node, None);
    // The entry itself unreachable: nothing else to try.
    let mut walk = Walk::new(entry.clone());
    assert_eq!(
        walk.unreachable(&mut route, &entry, refused.clone()),
        Step::Fail(refused)
    );
}

#[test]
fn the_node_url_follows_a_rotated_link() {
    let route = Route {
        node: Some("wss://salon.example/n/b".into()),
    };
    assert_eq!(
        route.url(
            "wss://salon.example/api/rooms/old/ws",
            "zyxwvutsrqponmlkjihgfe"
        ),
        "wss://salon.example/n/b/api/rooms/zyxwvutsrqponmlkjihgfe/ws"
    );
}
