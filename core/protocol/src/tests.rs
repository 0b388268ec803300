use super::*;

#[test]
fn join_round_trips_with_the_documented_shape() {
    let text = r#"{"type":"join","version":1,"name":"Ada","media":{"audio":true,"video":false}}"#;
    let msg = decode_client(text).expect("valid join");
    assert_eq!(
        msg,
        ClientMessage::Join {
            version: 1,
            name: "Ada".into(),
            media: MediaState {
                audio: true,
                video: false
            },
            resume: None,
        }
    );
    assert_eq!(encode(&msg), text);
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
            version: 1,
            name: bad.into(),
            media: MediaState::default(),
            resume: None,
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
            version: PROTOCOL_VERSION,
            participant_id: "p1".into(),
            room: RoomInfo {
                id: "AAAAAAAAAAAAAAAAAAAAAA".into(),
                name: Some("Friday".into()),
                max_participants: 50,
            },
            participants: vec![Participant {
                id: "p2".into(),
                name: "Bo".into(),
                media: MediaState::default(),
            }],
            resume_token: "tok".into(),
            resumed: false,
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
        resume: Some(r), ..
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
