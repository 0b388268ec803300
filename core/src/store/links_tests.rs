use super::*;

const ID: &str = "pQ0m3vM1wqjHn4HqB6hC7A";

fn link(server: &str) -> InviteLink {
    InviteLink {
        server: server.into(),
        room_id: ID.into(),
        secret: None,
    }
}

#[test]
fn plain_invite_links_parse() {
    for (input, server) in [
        (
            format!("https://salon.example.org/r/{ID}"),
            "https://salon.example.org",
        ),
        (
            format!("http://127.0.0.1:8080/r/{ID}"),
            "http://127.0.0.1:8080",
        ),
        (format!("http://[::1]:8080/r/{ID}"), "http://[::1]:8080"),
        (
            format!("https://salon.example.org/r/{ID}/"),
            "https://salon.example.org",
        ),
        (
            format!("  https://salon.example.org/r/{ID}\n"),
            "https://salon.example.org",
        ),
        (
            format!("https://salon.example.org/r/{ID}?utm=x#top"),
            "https://salon.example.org",
        ),
        (
            format!("HTTPS://Salon.Example.ORG:443/r/{ID}"),
            "https://salon.example.org",
        ),
        (
            format!("salon.example.org/r/{ID}"),
            "https://salon.example.org",
        ),
    ] {
        assert_eq!(InviteLink::parse(&input), Ok(link(server)), "{input:?}");
    }
}

#[test]
fn a_path_prefix_belongs_to_the_server() {
    let parsed = InviteLink::parse(&format!("https://example.org/salon/r/{ID}")).unwrap();
    assert_eq!(parsed, link("https://example.org/salon"));
    assert_eq!(parsed.to_url(), format!("https://example.org/salon/r/{ID}"));
    assert_eq!(parsed.api_base(), "https://example.org/salon/api");
    assert_eq!(
        parsed.ws_url(),
        format!("wss://example.org/salon/api/rooms/{ID}/ws")
    );

    // Deeper prefixes, and a prefix that itself contains an `r` segment.
    let parsed = InviteLink::parse(&format!("https://example.org/a/r/b/r/{ID}/")).unwrap();
    assert_eq!(parsed.server, "https://example.org/a/r/b");
}

#[test]
fn helpers_build_the_api_and_websocket_urls() {
    let local = link("http://127.0.0.1:8080");
    assert_eq!(local.to_url(), format!("http://127.0.0.1:8080/r/{ID}"));
    assert_eq!(local.api_base(), "http://127.0.0.1:8080/api");
    assert_eq!(
        local.room_api_url(),
        format!("http://127.0.0.1:8080/api/rooms/{ID}")
    );
    assert_eq!(
        local.ws_url(),
        format!("ws://127.0.0.1:8080/api/rooms/{ID}/ws")
    );
    assert_eq!(local.to_string(), local.to_url());
}

#[test]
fn the_canonical_link_parses_back_to_itself() {
    for input in [
        format!("HTTPS://Salon.Example.ORG:443/r/{ID}/?x"),
        format!("http://localhost:8080/pre%20fix/r/{ID}"),
        format!("https://bücher.example/r/{ID}"),
    ] {
        let once = InviteLink::parse(&input).unwrap();
        assert_eq!(
            InviteLink::parse(&once.to_url()),
            Ok(once.clone()),
            "{input}"
        );
    }
}

#[test]
fn bad_invite_links_are_refused_with_a_reason() {
    let long = format!("https://example.org/{}/r/{ID}", "a".repeat(MAX_LINK_BYTES));
    let cases: Vec<(String, LinkError)> = vec![
        ("".into(), LinkError::Empty),
        ("   \n".into(), LinkError::Empty),
        (
            long.clone(),
            LinkError::TooLong {
                len: long.len(),
                max: MAX_LINK_BYTES,
            },
        ),
        (
            format!("https://exa\u{0}mple.org/r/{ID}"),
            LinkError::ControlCharacters,
        ),
        (
            format!("https://example.org/r/{ID}\u{7}"),
            LinkError::ControlCharacters,
        ),
        (
            format!("ftp://example.org/r/{ID}"),
            LinkError::UnsupportedScheme("ftp".into()),
        ),
        (
            format!("javascript:alert(1)//r/{ID}"),
            LinkError::UnsupportedScheme("javascript".into()),
        ),
        (
            format!("salon:friend?room=/r/{ID}"),
            LinkError::UnsupportedScheme("salon".into()),
        ),
        (
            format!("https://user:pw@example.org/r/{ID}"),
            LinkError::UserInfo,
        ),
        (
            format!("https://user@example.org/r/{ID}"),
            LinkError::UserInfo,
        ),
        ("https://example.org/".into(), LinkError::NotARoomLink),
        ("https://example.org/r/".into(), LinkError::NotARoomLink),
        (
            format!("https://example.org/room/{ID}"),
            LinkError::NotARoomLink,
        ),
        (
            format!("https://example.org/r/{ID}/extra"),
            LinkError::NotARoomLink,
        ),
        (
            format!("https://example.org//r/{ID}"),
            LinkError::NotARoomLink,
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(InviteLink::parse(&input), Err(expected), "{input:?}");
    }

    for input in [
        "https://example.org/r/short".to_owned(),
        format!("https://example.org/r/{ID}X"),
        "https://example.org/r/pQ0m3vM1wqjHn4HqB6hC7%41".to_owned(),
    ] {
        assert!(
            matches!(InviteLink::parse(&input), Err(LinkError::InvalidRoomId(_))),
            "{input:?}"
        );
    }
    for input in [
        "http://",
        "https://exa mple.org/r/x",
        "http://[::1/r/x",
        "https://:80/r/x",
    ] {
        let err = InviteLink::parse(input).unwrap_err();
        assert!(
            matches!(err, LinkError::Malformed(_) | LinkError::MissingHost),
            "{input:?}: {err:?}"
        );
    }
}

#[test]
fn error_messages_read_well() {
    let err = InviteLink::parse("ftp://x/r/y").unwrap_err();
    assert_eq!(
        err.to_string(),
        "Salon links start with https:// or http://, not ftp:"
    );
    let err = InviteLink::parse("https://example.org/r/nope").unwrap_err();
    assert!(err.to_string().contains("room id"), "{err}");
}

fn card(name: &str, server: &str) -> FriendCard {
    FriendCard::new(name, link(server)).unwrap()
}

#[test]
fn friend_cards_round_trip() {
    for name in ["Ann", "Zoë & Max = 🎉", "a+b 100% /r/?#", "  spaced  "] {
        let original = card(name, "https://example.org/salon");
        let text = original.to_link();
        assert!(
            text.starts_with("https://example.org/salon/friend?v=1&name="),
            "{text}"
        );
        let app = original.to_app_link();
        assert!(app.starts_with("salon:friend?v=1&name="), "{app}");
        for text in [text, app] {
            assert!(!text.contains(' '), "{text}");
            assert_eq!(FriendCard::parse(&text), Ok(original.clone()), "{text}");
        }
        assert_eq!(original.name, name.trim());
    }
}

#[test]
fn the_card_format_is_stable() {
    let ann = card("Ann Lee", "https://salon.example.org");
    let query = format!("v=1&name=Ann%20Lee&room=https://salon.example.org/r/{ID}");
    assert_eq!(
        ann.to_link(),
        format!("https://salon.example.org/friend?{query}")
    );
    assert_eq!(ann.to_app_link(), format!("salon:friend?{query}"));
}

#[test]
fn friend_cards_parse_from_web_links_and_loose_encodings() {
    let expected = card("Ann Lee", "https://salon.example.org");
    let room = format!("https%3A%2F%2Fsalon.example.org%2Fr%2F{ID}");
    for input in [
        format!("https://cards.example/friend?v=1&name=Ann+Lee&room={room}"),
        format!("http://cards.example/some/prefix/friend/?room={room}&name=Ann%20Lee&v=1"),
        format!("  salon:friend?v=1&name=Ann%20Lee&room={room}&future=yes#frag "),
        format!("SALON:friend?v=1&name=%20Ann%20Lee%20&room=https://Salon.Example.org/r/{ID}/"),
    ] {
        assert_eq!(FriendCard::parse(&input), Ok(expected.clone()), "{input}");
    }
}

#[test]
fn bad_friend_cards_are_refused_with_a_reason() {
    let room = format!("https://salon.example.org/r/{ID}");
    let cases: Vec<(String, LinkError)> = vec![
        ("".into(), LinkError::Empty),
        ("hello there".into(), LinkError::NotAFriendCard),
        (room.clone(), LinkError::NotAFriendCard),
        (
            format!("salon:room?v=1&name=A&room={room}"),
            LinkError::NotAFriendCard,
        ),
        (
            format!("ftp://x/friend?v=1&name=A&room={room}"),
            LinkError::NotAFriendCard,
        ),
        (
            format!("https://u:p@x/friend?v=1&name=A&room={room}"),
            LinkError::UserInfo,
        ),
        (
            format!("salon:friend?name=A&room={room}"),
            LinkError::MissingField("version"),
        ),
        (
            format!("salon:friend?v=1&room={room}"),
            LinkError::MissingField("name"),
        ),
        (
            "salon:friend?v=1&name=A".into(),
            LinkError::MissingField("room link"),
        ),
        (
            format!("salon:friend?v=1&v=1&name=A&room={room}"),
            LinkError::RepeatedField("version"),
        ),
        (
            format!("salon:friend?v=1&name=A&name=B&room={room}"),
            LinkError::RepeatedField("name"),
        ),
        (
            format!("salon:friend?v=2&name=A&room={room}"),
            LinkError::NewerVersion("2".into()),
        ),
        (
            format!("salon:friend?v=99999999999999999999999&name=A&room={room}"),
            LinkError::NewerVersion("9999999999999999".into()),
        ),
        (
            format!("salon:friend?v=one&name=A&room={room}"),
            LinkError::InvalidVersion("one".into()),
        ),
        (
            format!("salon:friend?v=0&name=A&room={room}"),
            LinkError::InvalidVersion("0".into()),
        ),
        (
            "salon:friend?v=1&name=A&room=https://x/r/short".into(),
            LinkError::InvalidRoom(Box::new(LinkError::InvalidRoomId(
                "invalid room id: is not a Salon room id".into(),
            ))),
        ),
        (
            format!("salon:friend?v=1&name=A&room=ftp://x/r/{ID}"),
            LinkError::InvalidRoom(Box::new(LinkError::UnsupportedScheme("ftp".into()))),
        ),
        (
            format!("salon:friend?v=1&name=A\u{1}&room={room}"),
            LinkError::ControlCharacters,
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(FriendCard::parse(&input), Err(expected), "{input:?}");
    }

    for name in ["", "%20%20", "%07bell", &"x".repeat(65)] {
        let input = format!("salon:friend?v=1&name={name}&room={room}");
        assert!(
            matches!(FriendCard::parse(&input), Err(LinkError::InvalidName(_))),
            "{input:?}"
        );
    }
    let long = format!(
        "salon:friend?v=1&name=A&room={room}&pad={}",
        "x".repeat(MAX_CARD_BYTES)
    );
    assert!(matches!(
        FriendCard::parse(&long),
        Err(LinkError::TooLong { .. })
    ));
}

#[test]
fn a_newer_card_says_so() {
    let room = format!("https://salon.example.org/r/{ID}");
    let err = FriendCard::parse(&format!("salon:friend?v=7&name=A&room={room}")).unwrap_err();
    assert!(err.to_string().contains("made by a newer Salon"), "{err}");
}

/// No input panics: a cheap deterministic fuzz over mutations of valid links.
#[test]
fn mangled_input_never_panics() {
    let seeds = [
        format!("https://example.org/salon/r/{ID}/?q#f"),
        card("Zoë", "http://[::1]:8080/p").to_link(),
        format!("https://c.example/friend?v=1&name=A+B&room=https%3A%2F%2Fx%2Fr%2F{ID}"),
    ];
    let pieces = [
        "%", "%zz", "%ff%fe", "/", "//", "?", "#", "&", "=", ":", "@", "[", "]", "\u{0}", "é",
        "🎉", " ", "r", "..",
    ];
    let mut state: u64 = 0x5a10_2024;
    let mut next = move |bound: usize| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) as usize) % bound.max(1)
    };
    for _ in 0..4000 {
        let mut text: Vec<char> = seeds[next(seeds.len())].chars().collect();
        for _ in 0..=next(4) {
            let at = next(text.len() + 1);
            match next(3) {
                0 if at < text.len() => {
                    text.remove(at);
                }
                1 => text
                    .splice(at..at, pieces[next(pieces.len())].chars())
                    .for_each(drop),
                _ => text.truncate(at),
            }
        }
        let text: String = text.into_iter().collect();
        if let Ok(parsed) = InviteLink::parse(&text) {
            assert_eq!(
                InviteLink::parse(&parsed.to_url()),
                Ok(parsed.clone()),
                "{text:?}"
            );
        }
        if let Ok(parsed) = FriendCard::parse(&text) {
            assert_eq!(
                FriendCard::parse(&parsed.to_link()),
                Ok(parsed.clone()),
                "{text:?}"
            );
        }
    }
}

/// What `parse` accepts, `to_url` must give back in a form that parses again: the canonical
/// link may be longer than the pasted text, so `parse` measures the canonical one too. Each
/// input below is within `MAX_LINK_BYTES`; its canonical form is not.
fn assert_canonical_too_long(input: &str, canonical_len: usize) {
    assert!(
        input.len() <= MAX_LINK_BYTES,
        "input of {} bytes",
        input.len()
    );
    // Compared by the canonical length only, to keep a failure's message readable.
    assert_eq!(
        InviteLink::parse(input).map(|link| link.to_url().len()),
        Err(LinkError::TooLong {
            len: canonical_len,
            max: MAX_LINK_BYTES,
        }),
        "input of {} bytes",
        input.len()
    );
}

#[test]
fn a_link_without_a_scheme_is_measured_with_https_added() {
    // Exactly the limit as typed; `https://` makes the canonical link 8 bytes longer.
    let suffix = format!("/r/{ID}");
    let prefix = "h.example/";
    let pad = "a".repeat(MAX_LINK_BYTES - prefix.len() - suffix.len());
    let input = format!("{prefix}{pad}{suffix}");
    assert_eq!(input.len(), MAX_LINK_BYTES);
    assert_canonical_too_long(&input, MAX_LINK_BYTES + "https://".len());

    // 8 bytes shorter, the canonical link is exactly at the limit: accepted, and it round-trips.
    let input = format!("{prefix}{}{suffix}", &pad["https://".len()..]);
    let parsed = InviteLink::parse(&input).unwrap();
    assert_eq!(parsed.to_url().len(), MAX_LINK_BYTES);
    assert_eq!(InviteLink::parse(&parsed.to_url()), Ok(parsed));
}

#[test]
fn a_percent_encoded_path_prefix_is_measured_encoded() {
    // Each `é` is 2 bytes as pasted and 6 (`%C3%A9`) in the canonical link.
    let input = format!("https://h.example/{}/r/{ID}", "é".repeat(400));
    assert_eq!(input.len(), 18 + 800 + 3 + ID.len());
    assert_canonical_too_long(&input, 18 + 2400 + 3 + ID.len());
}

#[test]
fn an_international_host_is_measured_in_punycode() {
    // Each `ü.` label is 3 bytes as pasted and 8 (`xn--tda.`) in the canonical link.
    let input = format!("https://{}example/r/{ID}", "ü.".repeat(600));
    assert_eq!(input.len(), 8 + 1800 + 7 + 3 + ID.len());
    assert_canonical_too_long(&input, 8 + 4800 + 7 + 3 + ID.len());
}

#[test]
fn a_friend_cards_room_is_measured_in_canonical_form() {
    // The same as above, through the card's room: refused, instead of a card whose `to_link`
    // does not parse.
    for (room, canonical_len) in [
        (
            format!("https://h.example/{}/r/{ID}", "é".repeat(400)),
            18 + 2400 + 3 + ID.len(),
        ),
        (
            format!(
                "h.example/{}/r/{ID}",
                "a".repeat(MAX_LINK_BYTES - 13 - ID.len())
            ),
            MAX_LINK_BYTES + "https://".len(),
        ),
    ] {
        assert!(room.len() <= MAX_LINK_BYTES);
        let input = format!("salon:friend?v=1&name=Bo&room={room}");
        assert_eq!(
            FriendCard::parse(&input).map(|card| card.room.to_url().len()),
            Err(LinkError::InvalidRoom(Box::new(LinkError::TooLong {
                len: canonical_len,
                max: MAX_LINK_BYTES,
            }))),
            "room of {} bytes",
            room.len()
        );
    }
}

#[test]
fn friend_cards_carry_a_presence_key() {
    let key = "k".repeat(43);
    let original = card("Ann", "https://salon.example.org")
        .with_presence(&key)
        .unwrap();
    let text = original.to_link();
    assert!(text.ends_with(&format!("&presence={key}")), "{text}");
    assert_eq!(FriendCard::parse(&text), Ok(original));
    // Cards without one still parse; a malformed or repeated key is refused.
    assert_eq!(
        FriendCard::parse(&card("Ann", "https://salon.example.org").to_link())
            .unwrap()
            .presence,
        None
    );
    let base = card("Ann", "https://salon.example.org").to_link();
    assert_eq!(
        FriendCard::parse(&format!("{base}&presence=short")),
        Err(LinkError::InvalidPresenceKey)
    );
    assert_eq!(
        FriendCard::parse(&format!("{base}&presence={key}&presence={key}")),
        Err(LinkError::RepeatedField("presence key"))
    );
    assert_eq!(
        card("Ann", "https://salon.example.org").with_presence("x/y"),
        Err(LinkError::InvalidPresenceKey)
    );
}

const SECRET: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

#[test]
fn the_room_secret_rides_in_the_fragment_and_never_reaches_the_server() {
    let text = format!("https://salon.example.org/r/{ID}#k={SECRET}");
    let link = InviteLink::parse(&text).unwrap();
    assert_eq!(link.secret.as_deref(), Some(SECRET));
    assert_eq!(link.to_url(), text);
    assert_eq!(link.base_url(), format!("https://salon.example.org/r/{ID}"));
    for url in [link.api_base(), link.room_api_url(), link.ws_url()] {
        assert!(!url.contains(SECRET) && !url.contains('#'), "{url}");
    }
    // Debug output (logs) never shows it.
    assert!(!format!("{link:?}").contains(SECRET));
    // Other fragment parameters are ignored; a link without one has no secret.
    let other =
        InviteLink::parse(&format!("https://salon.example.org/r/{ID}#x=1&k={SECRET}")).unwrap();
    assert_eq!(other.secret.as_deref(), Some(SECRET));
    assert_eq!(
        InviteLink::parse(&format!("https://salon.example.org/r/{ID}#top"))
            .unwrap()
            .secret,
        None
    );
    assert!(link.same_room(&InviteLink::parse(&link.base_url()).unwrap()));
    // A damaged key is refused rather than dropped: the join would fail later, less clearly.
    for bad in [&SECRET[..42], "%%%", "", &format!("{SECRET}A")] {
        assert_eq!(
            InviteLink::parse(&format!("https://salon.example.org/r/{ID}#k={bad}")),
            Err(LinkError::InvalidSecret),
            "{bad}"
        );
    }
    assert_eq!(
        InviteLink::parse(&format!(
            "https://salon.example.org/r/{ID}#k={SECRET}&k={SECRET}"
        )),
        Err(LinkError::InvalidSecret)
    );
}

#[test]
fn friend_cards_carry_the_secret_in_their_own_fragment() {
    let room = InviteLink::parse(&format!("https://salon.example.org/r/{ID}#k={SECRET}")).unwrap();
    let card = FriendCard::new("Ada", room.clone()).unwrap();
    let web = card.to_link();
    // The query (which a browser sends to the server) holds the room without its key.
    let (query, fragment) = web.split_once('#').unwrap();
    assert!(!query.contains(SECRET), "{web}");
    assert_eq!(fragment, format!("k={SECRET}"));
    assert_eq!(FriendCard::parse(&web).unwrap().room, room);
    assert_eq!(FriendCard::parse(&card.to_app_link()).unwrap().room, room);
    // A key inside `room=` (it went to a server already) is not taken.
    let leaked = format!(
        "salon:friend?v=1&name=Ada&room=https%3A%2F%2Fsalon.example.org%2Fr%2F{ID}%23k%3D{SECRET}"
    );
    assert_eq!(FriendCard::parse(&leaked).unwrap().room.secret, None);
}
