use super::*;

#[test]
fn join_round_trips_with_the_documented_shape() {
    let text = r#"{"type":"join","version":1,"name":"Ada","media":{"audio":true,"video":false}}"#;
    let msg = decode_client(text).expect("valid join");
    assert_eq!(
        msg,
        ClientMessage::Join {
            keep_media: false,
            version: 1,
            name: "Ada".into(),
            media: MediaState {
                audio: true,
                video: false
            },
            resume: None,
            host_key: None,
            device: None,
            e2ee: None,
        }
    );
    assert_eq!(encode(&msg), text);
}

#[test]
fn keeping_media_through_a_resume_is_asked_and_answered_explicitly() {
    let text = r#"{"type":"join","version":1,"name":"Ada","resume":{"participant_id":"p","token":"t"},"keep_media":true}"#;
    let msg = decode_client(text).expect("valid join");
    assert!(matches!(
        msg,
        ClientMessage::Join {
            keep_media: true,
            ..
        }
    ));
    // An older server's `joined` has no `media_kept`: the client starts over.
    let joined = r#"{"type":"joined","version":1,"participant_id":"p","room":{"id":"AAAAAAAAAAAAAAAAAAAAAA","name":null,"max_participants":50,"locked":false,"panic":false},"participants":[],"resume_token":"t","resumed":true}"#;
    match decode_server(joined) {
        Ok(ServerMessage::Joined { media_kept, .. }) => assert!(!media_kept),
        other => panic!("{other:?}"),
    }
}

#[test]
fn media_defaults_to_both_on() {
    let msg = decode_client(r#"{"type":"join","version":1,"name":"Bo"}"#).expect("valid");
    assert!(matches!(msg, ClientMessage::Join { media, .. } if media == MediaState::default()));
}

#[test]
fn ice_candidate_uses_browser_field_names() {
    let text = r#"{"type":"ice_candidate","candidate":"candidate:1 1 udp 2122260223 10.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abcd"}"#;
    let msg = decode_client(text).expect("valid candidate");
    let ClientMessage::IceCandidate(c) = msg else {
        panic!("wrong variant")
    };
    assert_eq!(c.sdp_mid.as_deref(), Some("0"));
    assert_eq!(c.sdp_mline_index, Some(0));
}

#[test]
fn end_of_candidates_is_accepted() {
    assert!(decode_client(r#"{"type":"ice_candidate","candidate":""}"#).is_ok());
}

#[test]
fn unknown_type_is_bad_message() {
    let err = decode_client(r#"{"type":"hack","x":1}"#).unwrap_err();
    assert_eq!(err.code(), ErrorCode::BadMessage);
}

#[test]
fn unknown_fields_are_ignored_for_forward_compatibility() {
    assert_eq!(
        decode_client(r#"{"type":"ping","extra":true}"#),
        Ok(ClientMessage::Ping)
    );
}

#[test]
fn missing_fields_are_bad_message() {
    let err = decode_client(r#"{"type":"join","name":"Ada"}"#).unwrap_err();
    assert_eq!(err.code(), ErrorCode::BadMessage);
}

#[test]
fn garbage_is_bad_message() {
    for text in ["", "null", "[]", "{", "\"join\"", "{\"type\":5}", "\u{0}"] {
        let err = decode_client(text).unwrap_err();
        assert_eq!(err.code(), ErrorCode::BadMessage, "{text:?}");
    }
}

#[test]
fn oversized_message_is_refused_before_parsing() {
    let text = format!(
        r#"{{"type":"offer","sdp":"v=0{}"}}"#,
        "a".repeat(MAX_MESSAGE_BYTES)
    );
    assert_eq!(
        decode_client(&text).unwrap_err().code(),
        ErrorCode::MessageTooLarge
    );
}

#[test]
fn names_are_checked() {
    let long = "x".repeat(MAX_NAME_CHARS + 1);
    for bad in ["", "   ", "a\u{7}b", long.as_str()] {
        let text = encode(&ClientMessage::Join {
            keep_media: false,
            version: 1,
            name: bad.into(),
            media: MediaState::default(),
            resume: None,
            host_key: None,
            device: None,
            e2ee: None,
        });
        assert_eq!(
            decode_client(&text).unwrap_err().code(),
            ErrorCode::InvalidField,
            "{bad:?}"
        );
    }
    assert_eq!(clean_display_name("name", "  Zoë 🎉 ").unwrap(), "Zoë 🎉");
    let max = "é".repeat(MAX_NAME_CHARS);
    assert!(clean_display_name("name", &max).is_ok());
}

#[test]
fn names_are_normalized_and_cannot_hide_or_disguise() {
    // NFC: a decomposed "é" is stored composed, so two spellings are one name.
    assert_eq!(clean_display_name("name", "Zoe\u{301}").unwrap(), "Zoé");
    let decomposed = "e\u{301}".repeat(MAX_NAME_CHARS);
    assert!(
        clean_display_name("name", &decomposed).is_ok(),
        "measured after NFC"
    );
    // Bidi overrides would make "Ada\u{202E})tsoh(" read as "Ada(host)".
    for bad in [
        "Ada\u{202E})tsoh(",
        "Ada\u{2067}x",
        "\u{200F}Ada",
        "Ada\u{061C}",
    ] {
        let e = clean_display_name("name", bad).unwrap_err();
        assert!(e.to_string().contains("direction"), "{bad:?}: {e}");
    }
    // Names that show nothing.
    for bad in [
        "\u{200B}",
        "\u{200B}\u{200D}\u{2060}",
        "\u{3164}",
        "\u{2800}\u{2800}",
        "\u{FEFF}",
        "\u{0301}\u{0301}",
        "\u{E0041}",
    ] {
        let e = clean_display_name("name", bad).unwrap_err();
        assert!(e.to_string().contains("visible"), "{bad:?}: {e}");
    }
    // Joiners inside a visible name are fine (emoji sequences use them).
    assert!(clean_display_name("name", "Ada 👩\u{200D}💻").is_ok());
    // The same rules hold on the wire.
    let text = encode(&ClientMessage::Join {
        keep_media: false,
        version: PROTOCOL_VERSION,
        name: "Ada\u{202E})tsoh(".into(),
        media: MediaState::default(),
        resume: None,
        host_key: None,
        device: None,
        e2ee: None,
    });
    assert_eq!(
        decode_client(&text).unwrap_err().code(),
        ErrorCode::InvalidField
    );
}

#[test]
fn sdp_must_look_like_sdp() {
    for bad in ["", "hello", "v=1\r\n"] {
        let text = encode(&ClientMessage::Offer { sdp: bad.into() });
        assert_eq!(
            decode_client(&text).unwrap_err().code(),
            ErrorCode::InvalidField
        );
    }
}

#[test]
fn candidates_are_checked() {
    let long = format!("candidate:{}", "1".repeat(MAX_CANDIDATE_BYTES));
    for bad in ["not a candidate", long.as_str(), "candidate:1\r\na=evil"] {
        let msg = ClientMessage::IceCandidate(IceCandidate {
            candidate: bad.into(),
            sdp_mid: None,
            sdp_mline_index: None,
            username_fragment: None,
        });
        assert_eq!(
            decode_client(&encode(&msg)).unwrap_err().code(),
            ErrorCode::InvalidField
        );
    }
}

#[test]
fn room_ids_are_checked() {
    assert!(validate_room_id("AAAAAAAAAAAAAAAAAAAAAA").is_ok());
    assert!(validate_room_id("abc-_DEF0123456789xyzQ").is_ok());
    for bad in [
        "",
        "short",
        "AAAAAAAAAAAAAAAAAAAAA/",
        "AAAAAAAAAAAAAAAAAAAAAAA",
        "ÄAAAAAAAAAAAAAAAAAAAA",
    ] {
        assert!(validate_room_id(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn server_messages_round_trip() {
    let messages = [
        ServerMessage::Joined {
            media_kept: false,
            ice_servers: vec![IceServer {
                urls: vec![
                    "turn:turn.example:3478?transport=udp".into(),
                    "turns:turn.example:443?transport=tcp".into(),
                ],
                username: "1796000000:p1".into(),
                credential: "c2VjcmV0".into(),
            }],
            version: PROTOCOL_VERSION,
            participant_id: "p1".into(),
            room: RoomInfo {
                id: "AAAAAAAAAAAAAAAAAAAAAA".into(),
                name: Some("Friday".into()),
                max_participants: 50,
                locked: true,
                panic: false,
                e2ee: false,
            },
            participants: vec![Participant {
                id: "p2".into(),
                name: "Bo".into(),
                media: MediaState::default(),
                role: Role::Cohost,
                e2ee: None,
                hand: Some(3),
                screen: true,
            }],
            resume_token: "tok".into(),
            resumed: false,
            role: Role::Owner,
            knocks: vec![Knock {
                id: "k1".into(),
                name: "Cy".into(),
                denied_before: 1,
            }],
        },
        ServerMessage::Waiting {
            room_name: None,
            host_present: false,
        },
        ServerMessage::Bans {
            bans: vec![Ban {
                id: "b1".into(),
                name: "Troll".into(),
                at: 1_790_000_000,
            }],
        },
        ServerMessage::Muted {
            by: "Ada".into(),
            media: MediaState {
                audio: false,
                video: true,
            },
        },
        ServerMessage::ParticipantLeft {
            participant_id: "p2".into(),
        },
        ServerMessage::Offer {
            sdp: "v=0\r\n".into(),
        },
        ServerMessage::Pong,
        ServerMessage::error(ErrorCode::RoomFull, "The room is full"),
    ];
    for m in messages {
        assert_eq!(decode_server(&encode(&m)).expect("round trip"), m);
    }
}

#[test]
fn error_fatality_follows_code() {
    let ServerMessage::Error { fatal, .. } = ServerMessage::error(ErrorCode::RoomFull, "full")
    else {
        panic!()
    };
    assert!(fatal);
    let ServerMessage::Error { fatal, .. } = ServerMessage::error(ErrorCode::BadMessage, "x")
    else {
        panic!()
    };
    assert!(!fatal);
}

#[test]
fn resume_is_optional_and_checked() {
    let text = r#"{"type":"join","version":1,"name":"Ada","resume":{"participant_id":"p1","token":"abc_-1"}}"#;
    let Ok(ClientMessage::Join {
        keep_media: false,
        resume: Some(r),
        ..
    }) = decode_client(text)
    else {
        panic!("resume parsed")
    };
    assert_eq!(r.participant_id, "p1");
    let bad = r#"{"type":"join","version":1,"name":"Ada","resume":{"participant_id":"p1","token":"has space"}}"#;
    assert_eq!(
        decode_client(bad).unwrap_err().code(),
        ErrorCode::InvalidField
    );
}

/// Found by the fuzzer: serde's message echoes the unknown tag, and cutting it at a byte count
/// inside a multi-byte character panicked.
#[test]
fn long_unknown_tags_with_wide_characters_do_not_panic() {
    // Shift the wide characters across every byte offset so one straddles the cut.
    for pad in 0..5 {
        let tag = format!("{}{}", "x".repeat(pad), r"t~\u4440".repeat(80));
        let text = format!(r#"{{"type":"i {tag}","x":"a1b2"}}"#);
        let err = decode_client(&text).unwrap_err();
        assert_eq!(err.code(), ErrorCode::BadMessage);
        assert!(err.to_string().chars().count() <= 240);
    }
}

#[test]
fn host_actions_have_the_documented_shape() {
    let cases = [
        (
            r#"{"type":"set_locked","locked":true}"#,
            ClientMessage::SetLocked { locked: true },
        ),
        (
            r#"{"type":"admit","knock_id":"k1"}"#,
            ClientMessage::Admit {
                knock_id: "k1".into(),
            },
        ),
        (
            r#"{"type":"deny","knock_id":"k1"}"#,
            ClientMessage::Deny {
                knock_id: "k1".into(),
            },
        ),
        (
            r#"{"type":"remove","participant_id":"p1"}"#,
            ClientMessage::Remove {
                participant_id: "p1".into(),
            },
        ),
        (
            r#"{"type":"unban","ban_id":"b1"}"#,
            ClientMessage::Unban {
                ban_id: "b1".into(),
            },
        ),
        (
            r#"{"type":"ask_mute","participant_id":"p1"}"#,
            ClientMessage::AskMute {
                participant_id: "p1".into(),
            },
        ),
        (
            r#"{"type":"mute","participant_id":"p1","video":true}"#,
            ClientMessage::Mute {
                participant_id: "p1".into(),
                video: true,
            },
        ),
        (
            r#"{"type":"set_cohost","participant_id":"p1","cohost":true}"#,
            ClientMessage::SetCohost {
                participant_id: "p1".into(),
                cohost: true,
            },
        ),
        (
            r#"{"type":"set_panic","active":true}"#,
            ClientMessage::SetPanic { active: true },
        ),
        (
            r#"{"type":"rotate_link"}"#,
            ClientMessage::RotateLink { e2ee: false },
        ),
        (r#"{"type":"end_room"}"#, ClientMessage::EndRoom),
    ];
    for (text, message) in cases {
        assert_eq!(decode_client(text).as_ref(), Ok(&message), "{text}");
        assert_eq!(encode(&message), text);
    }
    // A mute without `video` is the microphone only.
    assert_eq!(
        decode_client(r#"{"type":"mute","participant_id":"p1"}"#),
        Ok(ClientMessage::Mute {
            participant_id: "p1".into(),
            video: false
        })
    );
}

#[test]
fn host_action_targets_are_checked() {
    for text in [
        r#"{"type":"remove","participant_id":""}"#,
        r#"{"type":"admit","knock_id":"a b"}"#,
        r#"{"type":"unban","ban_id":"../../etc"}"#,
        r#"{"type":"mute","participant_id":"x\u0000"}"#,
    ] {
        assert_eq!(
            decode_client(text).unwrap_err().code(),
            ErrorCode::InvalidField,
            "{text}"
        );
    }
}

#[test]
fn join_credentials_are_checked() {
    let ok = r#"{"type":"join","version":1,"name":"A","host_key":"abcDEF_-123","device":"0123456789abcdef"}"#;
    assert!(decode_client(ok).is_ok());
    for bad in [
        r#"{"type":"join","version":1,"name":"A","device":"short"}"#,
        r#"{"type":"join","version":1,"name":"A","device":"0123456789abcdef!"}"#,
        r#"{"type":"join","version":1,"name":"A","host_key":""}"#,
    ] {
        assert_eq!(
            decode_client(bad).unwrap_err().code(),
            ErrorCode::InvalidField,
            "{bad}"
        );
    }
    let long_key = format!(
        r#"{{"type":"join","version":1,"name":"A","host_key":"{}"}}"#,
        "k".repeat(65)
    );
    assert_eq!(
        decode_client(&long_key).unwrap_err().code(),
        ErrorCode::InvalidField
    );
}

#[test]
fn older_servers_messages_still_decode() {
    // Fields added with host controls default when absent.
    let text = r#"{"type":"joined","version":1,"participant_id":"p1","room":{"id":"AAAAAAAAAAAAAAAAAAAAAA","name":null,"max_participants":50},"participants":[{"id":"p2","name":"Bo","media":{"audio":true,"video":true}}],"resume_token":"t"}"#;
    let ServerMessage::Joined {
        media_kept: false,
        ice_servers,
        role,
        knocks,
        room,
        participants,
        ..
    } = decode_server(text).expect("valid")
    else {
        panic!("wrong variant")
    };
    assert_eq!(role, Role::Guest);
    assert!(knocks.is_empty() && !room.locked && !room.panic);
    assert!(
        ice_servers.is_empty(),
        "no TURN servers from a server without them"
    );
    assert_eq!(participants[0].role, Role::Guest);
}

#[test]
fn turn_urls_are_read_with_their_defaults() {
    let url = TurnUrl::parse("turn:turn.example").unwrap();
    assert_eq!(
        (url.secure, url.host.as_str(), url.port, url.transport),
        (false, "turn.example", 3478, TurnTransport::Udp)
    );
    assert_eq!(url.to_string(), "turn:turn.example:3478?transport=udp");
    let url = TurnUrl::parse("turn:192.0.2.7:3479?transport=tcp").unwrap();
    assert_eq!((url.port, url.transport), (3479, TurnTransport::Tcp));
    let url = TurnUrl::parse("turns:turn.example").unwrap();
    assert_eq!(
        (url.secure, url.port, url.transport),
        (true, 5349, TurnTransport::Tcp)
    );
    let url = TurnUrl::parse("turns:[2001:db8::1]:443?transport=tcp").unwrap();
    assert_eq!(url.host, "[2001:db8::1]");
    assert_eq!(url.to_string(), "turns:[2001:db8::1]:443?transport=tcp");
    for bad in [
        "stun:turn.example",
        "turn:",
        "turn:turn.example:0",
        "turn:turn.example:70000",
        "turn:turn.example?transport=sctp",
        "turns:turn.example?transport=udp",
        "turn:turn example",
        "turn:user@turn.example",
        "turn:[not-v6]:3478",
        "turn:turn.example:3478?transport=udp&x=1",
    ] {
        assert!(TurnUrl::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn a_turn_credential_tells_its_expiry() {
    let server = IceServer {
        urls: vec!["turn:t.example".into()],
        username: "1796000000:p1".into(),
        credential: "x".into(),
    };
    assert_eq!(server.expires_at(), Some(1_796_000_000));
    let odd = IceServer {
        username: "someone".into(),
        ..server
    };
    assert_eq!(odd.expires_at(), None);
}

#[test]
fn removal_denial_and_ending_close_the_connection() {
    for code in [
        ErrorCode::Removed,
        ErrorCode::KnockDenied,
        ErrorCode::RoomEnded,
    ] {
        assert!(code.is_fatal());
    }
    assert!(!ErrorCode::NotAllowed.is_fatal());
    assert!(!ErrorCode::NotFound.is_fatal());
}

#[test]
fn view_lists_the_tiles_shown_and_is_bounded() {
    let m = decode_client(
        r#"{"type":"view","tiles":[{"participant_id":"p1","size":"large","width":1280,"height":720},{"participant_id":"p2"}]}"#,
    )
    .unwrap();
    let ClientMessage::View { tiles } = &m else {
        panic!("{m:?}")
    };
    assert_eq!(tiles.len(), 2);
    assert_eq!(tiles[0].size, TileSize::Large);
    assert_eq!((tiles[0].width, tiles[0].height), (1280, 720));
    assert_eq!(tiles[1].size, TileSize::Thumbnail);
    assert_eq!((tiles[1].width, tiles[1].height), (0, 0));
    // Unknown sizes are refused, not guessed.
    assert_eq!(
        decode_client(r#"{"type":"view","tiles":[{"participant_id":"p1","size":"huge"}]}"#)
            .unwrap_err()
            .code(),
        ErrorCode::BadMessage
    );
    // The same person twice, too many tiles, absurd pixels.
    for bad in [
        r#"{"type":"view","tiles":[{"participant_id":"p1"},{"participant_id":"p1"}]}"#.to_owned(),
        format!(
            r#"{{"type":"view","tiles":[{}]}}"#,
            (0..=MAX_PARTICIPANTS)
                .map(|i| format!(r#"{{"participant_id":"p{i}"}}"#))
                .collect::<Vec<_>>()
                .join(",")
        ),
        r#"{"type":"view","tiles":[{"participant_id":"p1","width":99999}]}"#.to_owned(),
        r#"{"type":"view","tiles":[{"participant_id":""}]}"#.to_owned(),
    ] {
        assert_eq!(
            decode_client(&bad).unwrap_err().code(),
            ErrorCode::InvalidField,
            "{bad}"
        );
    }
    // An empty view is fine: nothing shown.
    assert!(decode_client(r#"{"type":"view","tiles":[]}"#).is_ok());
}

#[test]
fn speakers_and_video_demand_round_trip() {
    for m in [
        ServerMessage::Speakers {
            speakers: vec!["p1".into(), "p2".into()],
        },
        ServerMessage::Speakers { speakers: vec![] },
        ServerMessage::VideoWatched { watched: false },
        ServerMessage::VideoLayers {
            layers: vec!["q".into(), "h".into()],
        },
    ] {
        let text = serde_json::to_string(&m).unwrap();
        assert_eq!(decode_server(&text).unwrap(), m);
    }
    assert_eq!(
        serde_json::to_string(&ServerMessage::VideoLayers {
            layers: vec!["f".into()]
        })
        .unwrap(),
        r#"{"type":"video_layers","layers":["f"]}"#
    );
    for bad in [
        r#"{"type":"video_layers","layers":[]}"#,
        r#"{"type":"video_layers","layers":["q","h","f","x"]}"#,
        r#"{"type":"video_layers","layers":["q","q"]}"#,
        r#"{"type":"video_layers","layers":[""]}"#,
        r#"{"type":"video_layers","layers":["a b"]}"#,
        r#"{"type":"video_layers","layers":["<script>"]}"#,
        r#"{"type":"video_layers","layers":["abcdefghijklmnopq"]}"#,
    ] {
        assert!(decode_server(bad).is_err(), "{bad}");
    }
    assert_eq!(
        serde_json::to_string(&ServerMessage::VideoWatched { watched: true }).unwrap(),
        r#"{"type":"video_watched","watched":true}"#
    );
    let too_many = ServerMessage::Speakers {
        speakers: (0..=MAX_SPEAKERS).map(|i| format!("p{i}")).collect(),
    };
    assert!(decode_server(&serde_json::to_string(&too_many).unwrap()).is_err());
}

#[test]
fn key_exchange_messages_have_the_documented_shape() {
    let k = "A".repeat(43);
    let cases = [
        (
            format!(r#"{{"type":"e2ee_announce","pub":"{k}","mac":"{k}"}}"#),
            ClientMessage::E2eeAnnounce {
                public: k.clone(),
                mac: k.clone(),
            },
        ),
        (
            r#"{"type":"e2ee_keys","boxes":[{"to":"p1","box":"abc-_"}]}"#.to_owned(),
            ClientMessage::E2eeKeys {
                boxes: vec![E2eeBox {
                    to: "p1".into(),
                    sealed: "abc-_".into(),
                }],
            },
        ),
        (
            r#"{"type":"keyframe_request","participant_id":"p1"}"#.to_owned(),
            ClientMessage::KeyframeRequest {
                participant_id: "p1".into(),
            },
        ),
        (
            r#"{"type":"rotate_link","e2ee":true}"#.to_owned(),
            ClientMessage::RotateLink { e2ee: true },
        ),
    ];
    for (text, message) in cases {
        assert_eq!(decode_client(&text).as_ref(), Ok(&message), "{text}");
        assert_eq!(encode(&message), text);
    }
    let join = format!(
        r#"{{"type":"join","version":1,"name":"Ada","media":{{"audio":true,"video":true}},"e2ee":{{"commit":"{k}"}}}}"#
    );
    match decode_client(&join) {
        Ok(ClientMessage::Join { e2ee: Some(e), .. }) => assert_eq!(e.commit, k),
        other => panic!("{other:?}"),
    }
    let server = [
        ServerMessage::E2eeAnnounce {
            participant_id: "p1".into(),
            public: k.clone(),
            mac: k.clone(),
        },
        ServerMessage::E2eeKey {
            from: "p1".into(),
            sealed: "x".repeat(82),
        },
    ];
    for message in server {
        assert_eq!(decode_server(&encode(&message)), Ok(message));
    }
    assert!(ErrorCode::E2eeRequired.is_fatal());
}

#[test]
fn key_exchange_fields_are_checked() {
    let k = "A".repeat(43);
    let bad = [
        // Commitments, keys and MACs are exactly 43 base64url characters.
        r#"{"type":"join","version":1,"name":"Ada","e2ee":{"commit":"short"}}"#.to_owned(),
        format!(r#"{{"type":"e2ee_announce","pub":"{k}=","mac":"{k}"}}"#),
        format!(
            r#"{{"type":"e2ee_announce","pub":"{k}","mac":"{}"}}"#,
            "+".repeat(43)
        ),
        // Boxes: 1..=49 of them, each 1..=128 base64url characters, one per member.
        r#"{"type":"e2ee_keys","boxes":[]}"#.to_owned(),
        format!(
            r#"{{"type":"e2ee_keys","boxes":[{{"to":"p1","box":"{}"}}]}}"#,
            "a".repeat(129)
        ),
        r#"{"type":"e2ee_keys","boxes":[{"to":"p1","box":""}]}"#.to_owned(),
        r#"{"type":"e2ee_keys","boxes":[{"to":"p1","box":"a"},{"to":"p1","box":"b"}]}"#.to_owned(),
        r#"{"type":"e2ee_keys","boxes":[{"to":"../x","box":"a"}]}"#.to_owned(),
        r#"{"type":"keyframe_request","participant_id":""}"#.to_owned(),
    ];
    for text in bad {
        assert_eq!(
            decode_client(&text).unwrap_err().code(),
            ErrorCode::InvalidField,
            "{text}"
        );
    }
    let boxes: Vec<String> = (0..50)
        .map(|i| format!(r#"{{"to":"p{i}","box":"a"}}"#))
        .collect();
    let text = format!(r#"{{"type":"e2ee_keys","boxes":[{}]}}"#, boxes.join(","));
    assert_eq!(
        decode_client(&text).unwrap_err().code(),
        ErrorCode::InvalidField
    );
    // A participant's key exchange in a server message is checked the same way.
    let participant = r#"{"type":"participant_joined","participant":{"id":"p1","name":"Ada","media":{"audio":true,"video":true},"e2ee":{"commit":"nope"}}}"#;
    assert!(decode_server(participant).is_err());
}

#[test]
fn social_messages_round_trip_and_are_checked() {
    let good = [
        r#"{"type":"react","emoji":"🎉"}"#,
        r#"{"type":"raise_hand","raised":true}"#,
        r#"{"type":"lower_hands"}"#,
        r#"{"type":"lower_hands","participant_id":"p1"}"#,
        r#"{"type":"chat_send","text":"hello <b>all</b> https://x.test"}"#,
        r#"{"type":"chat_send","sealed":"AQIDBA"}"#,
        r#"{"type":"chat_clear"}"#,
    ];
    for text in good {
        let m = decode_client(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(decode_client(&encode(&m)).expect("again"), m);
    }
    let bad = [
        r#"{"type":"react","emoji":"lol"}"#.to_owned(),
        r#"{"type":"lower_hands","participant_id":"../x"}"#.to_owned(),
        r#"{"type":"chat_send"}"#.to_owned(),
        r#"{"type":"chat_send","text":"a","sealed":"AQID"}"#.to_owned(),
        r#"{"type":"chat_send","text":" \n "}"#.to_owned(),
        format!(r#"{{"type":"chat_send","text":"{}"}}"#, "a".repeat(1001)),
        r#"{"type":"chat_send","sealed":"a+b/"}"#.to_owned(),
    ];
    for text in bad {
        assert_eq!(
            decode_client(&text).unwrap_err().code(),
            ErrorCode::InvalidField,
            "{text}"
        );
    }
    let message = crate::ChatMessage {
        id: 7,
        from: "p1".into(),
        name: "Ada".into(),
        at: 1_700_000_000_000,
        text: Some("hi".into()),
        sealed: None,
    };
    let history = ServerMessage::ChatHistory {
        messages: vec![message.clone(); crate::MAX_CHAT_HISTORY_BATCH],
    };
    assert_eq!(decode_server(&encode(&history)).expect("history"), history);
    let too_many = ServerMessage::ChatHistory {
        messages: vec![message.clone(); crate::MAX_CHAT_HISTORY_BATCH + 1],
    };
    assert!(decode_server(&encode(&too_many)).is_err());
    let neither = ServerMessage::Chat {
        message: crate::ChatMessage {
            text: None,
            ..message
        },
    };
    assert!(decode_server(&encode(&neither)).is_err());
    // The largest sealed history batch stays below the message limit.
    let big = crate::ChatMessage {
        id: u64::MAX,
        from: "p".repeat(64),
        name: "é".repeat(64),
        at: i64::MAX,
        text: None,
        sealed: Some("A".repeat(crate::MAX_CHAT_SEALED_CHARS)),
    };
    let batch = encode(&ServerMessage::ChatHistory {
        messages: vec![big; crate::MAX_CHAT_HISTORY_BATCH],
    });
    assert!(batch.len() < MAX_MESSAGE_BYTES, "{}", batch.len());
    assert!(decode_server(&batch).is_ok());
}
