use super::*;
use salon_protocol::{Ban as WireBan, Knock as WireKnock, RoomInfo};

const LINK: &str = "https://salon.example.org/r/r";

fn p(id: &str, name: &str) -> Participant {
    Participant {
        id: id.into(),
        name: name.into(),
        media: MediaState::default(),
        role: Role::Guest,
        e2ee: None,
        hand: None,
        screen: false,
    }
}

fn room(id: &str, locked: bool, panic: bool) -> RoomInfo {
    RoomInfo {
        id: id.into(),
        name: Some("Friday".into()),
        max_participants: 50,
        locked,
        panic,
        e2ee: false,
    }
}

fn joined_as(role: Role, others: Vec<Participant>, knocks: Vec<WireKnock>) -> ServerMessage {
    ServerMessage::Joined {
        media_kept: false,
        ice_servers: Vec::new(),
        version: 1,
        participant_id: "me".into(),
        room: room("r", false, false),
        participants: others,
        resume_token: "t".into(),
        resumed: false,
        role,
        knocks,
    }
}

fn joined(others: Vec<Participant>) -> ServerMessage {
    joined_as(Role::Guest, others, Vec::new())
}

fn knock(id: &str, name: &str) -> WireKnock {
    WireKnock {
        id: id.into(),
        name: name.into(),
        denied_before: 0,
    }
}

fn fresh() -> RoomState {
    RoomState::new("r".into(), LINK.into(), MediaState::default())
}

#[test]
fn follows_the_room() {
    let mut s = fresh();
    assert!(s.apply(&joined(vec![p("a", "Ada")])));
    assert_eq!(s.me.as_deref(), Some("me"));
    assert_eq!(s.connection, ConnectionStatus::Connected);
    assert_eq!(s.role, Role::Guest);
    assert!(s.apply(&ServerMessage::ParticipantJoined {
        participant: p("b", "Bo")
    }));
    let mut muted = p("b", "Bo");
    muted.media.audio = false;
    assert!(s.apply(&ServerMessage::ParticipantUpdated { participant: muted }));
    assert!(!s.participants[1].audio_on);
    assert!(s.apply(&ServerMessage::ParticipantLeft {
        participant_id: "a".into()
    }));
    assert!(!s.apply(&ServerMessage::ParticipantLeft {
        participant_id: "a".into()
    }));
    assert_eq!(s.participants.len(), 1);
    assert!(!s.apply(&ServerMessage::Pong));
}

#[test]
fn receiving_survives_a_rejoin() {
    let mut s = fresh();
    s.apply(&joined(vec![p("a", "Ada")]));
    assert!(s.set_receiving("a", MediaKind::Video, true));
    assert!(!s.set_receiving("a", MediaKind::Video, true));
    s.apply(&joined(vec![p("a", "Ada")]));
    assert!(s.participants[0].receiving_video);
    assert!(!s.set_receiving("ghost", MediaKind::Audio, true));
}

#[test]
fn an_owner_sees_the_lobby_and_the_bans() {
    let mut s = fresh();
    s.apply(&joined_as(Role::Owner, vec![], vec![knock("k1", "Early")]));
    assert_eq!(s.role, Role::Owner);
    assert_eq!(s.knocks.len(), 1);

    assert!(s.apply(&ServerMessage::KnockReceived {
        knock: knock("k2", "Zoë")
    }));
    // The same knock again changes nothing; a second denial is news.
    assert!(!s.apply(&ServerMessage::KnockReceived {
        knock: knock("k2", "Zoë")
    }));
    let mut again = knock("k2", "Zoë");
    again.denied_before = 1;
    assert!(s.apply(&ServerMessage::KnockReceived { knock: again }));
    assert_eq!(
        s.knocks,
        vec![
            Knock {
                id: "k1".into(),
                name: "Early".into(),
                denied_before: 0
            },
            Knock {
                id: "k2".into(),
                name: "Zoë".into(),
                denied_before: 1
            }
        ]
    );
    assert!(s.apply(&ServerMessage::KnockEnded {
        knock_id: "k1".into()
    }));
    assert!(!s.apply(&ServerMessage::KnockEnded {
        knock_id: "k1".into()
    }));

    let bans = vec![WireBan {
        id: "b1".into(),
        name: "Troll".into(),
        at: 7,
    }];
    assert!(s.apply(&ServerMessage::Bans { bans: bans.clone() }));
    assert!(!s.apply(&ServerMessage::Bans { bans }));
    assert_eq!(s.bans[0].name, "Troll");
    assert!(s.apply(&ServerMessage::Bans { bans: vec![] }));
    assert!(s.bans.is_empty());
}

#[test]
fn lock_panic_and_a_rotated_link() {
    let mut s = fresh();
    s.apply(&joined_as(Role::Owner, vec![], vec![]));
    assert!(s.apply(&ServerMessage::RoomUpdated {
        room: room("r", true, false)
    }));
    assert!(s.locked && !s.panic);
    assert!(!s.apply(&ServerMessage::RoomUpdated {
        room: room("r", true, false)
    }));
    assert!(s.apply(&ServerMessage::RoomUpdated {
        room: room("NEWID", true, true)
    }));
    assert!(s.panic);
    assert_eq!(s.room_id, "NEWID");
    assert_eq!(s.link, "https://salon.example.org/r/NEWID");
    // Hosts are not held by panic; guests are.
    assert!(!s.media_held_off());
    s.role = Role::Guest;
    assert!(s.media_held_off());
}

#[test]
fn a_rotated_link_keeps_a_path_prefix() {
    let mut s = RoomState::new(
        "old".into(),
        "https://example.org/salon/r/old".into(),
        MediaState::default(),
    );
    s.apply(&ServerMessage::RoomUpdated {
        room: room("new", false, false),
    });
    assert_eq!(s.link, "https://example.org/salon/r/new");
}

#[test]
fn waiting_in_the_lobby_shows_nobody() {
    let mut s = fresh();
    // Someone who was inside before (a reconnect that lands in the lobby).
    s.apply(&joined_as(
        Role::Cohost,
        vec![p("a", "Ada")],
        vec![knock("k", "K")],
    ));
    assert!(s.apply(&ServerMessage::Waiting {
        room_name: Some("Friday".into()),
        host_present: false,
    }));
    assert_eq!(
        s.connection,
        ConnectionStatus::Waiting {
            host_present: false
        }
    );
    assert!(s.participants.is_empty() && s.knocks.is_empty());
    assert_eq!(s.room_name.as_deref(), Some("Friday"));
    // Admitted: `joined` follows.
    s.apply(&joined(vec![p("a", "Ada")]));
    assert_eq!(s.connection, ConnectionStatus::Connected);
}

#[test]
fn updates_about_me_change_my_role_and_switches_not_the_list() {
    let mut s = fresh();
    s.apply(&joined(vec![p("a", "Ada")]));
    let mut me = p("me", "Me");
    me.role = Role::Cohost;
    assert!(s.apply(&ServerMessage::ParticipantUpdated {
        participant: me.clone()
    }));
    assert_eq!(s.role, Role::Cohost);
    assert_eq!(s.participants.len(), 1, "I am not someone else");
    assert!(!s.apply(&ServerMessage::ParticipantJoined {
        participant: me.clone()
    }));

    // A co-host sees knocks; un-named, the lobby and bans disappear.
    s.apply(&ServerMessage::KnockReceived {
        knock: knock("k", "K"),
    });
    s.apply(&ServerMessage::Bans {
        bans: vec![WireBan {
            id: "b".into(),
            name: "B".into(),
            at: 1,
        }],
    });
    me.role = Role::Guest;
    me.media = MediaState {
        audio: false,
        video: true,
    };
    assert!(s.apply(&ServerMessage::ParticipantUpdated { participant: me }));
    assert_eq!(s.role, Role::Guest);
    assert!(s.knocks.is_empty() && s.bans.is_empty());
    assert!(!s.microphone_on && s.camera_on);
}

#[test]
fn a_host_mute_turns_my_switches_off() {
    let mut s = fresh();
    s.apply(&joined(vec![]));
    assert!(s.microphone_on && s.camera_on);
    assert!(s.apply(&ServerMessage::Muted {
        by: "Host".into(),
        media: MediaState {
            audio: false,
            video: true
        },
    }));
    assert_eq!(
        s.my_media(),
        MediaState {
            audio: false,
            video: true
        }
    );
    assert!(!s.apply(&ServerMessage::Muted {
        by: "Host".into(),
        media: MediaState {
            audio: false,
            video: true
        },
    }));
    // Asking is only asking.
    assert!(!s.apply(&ServerMessage::MuteRequested { by: "Host".into() }));
    assert!(!s.microphone_on);
}

#[test]
fn remote_roles_are_followed() {
    let mut s = fresh();
    s.apply(&joined(vec![p("a", "Ada")]));
    let mut ada = p("a", "Ada");
    ada.role = Role::Cohost;
    assert!(s.apply(&ServerMessage::ParticipantUpdated { participant: ada }));
    assert_eq!(s.participants[0].role, Role::Cohost);
}

fn speakers(ids: &[&str]) -> ServerMessage {
    ServerMessage::Speakers {
        speakers: ids.iter().map(|s| (*s).to_owned()).collect(),
    }
}

fn speaking(s: &RoomState) -> Vec<&str> {
    s.participants
        .iter()
        .filter(|p| p.speaking)
        .map(|p| p.id.as_str())
        .collect()
}

#[test]
fn speakers_come_from_the_server() {
    let mut s = fresh();
    s.apply(&joined(vec![p("a", "Ada"), p("b", "Bo"), p("c", "Cy")]));
    assert!(s.speakers.is_empty() && !s.speaking && speaking(&s).is_empty());

    assert!(s.apply(&speakers(&["b", "me"])));
    assert_eq!(s.speakers, ["b", "me"]);
    assert!(s.speaking, "my own id is listed when I speak");
    assert_eq!(speaking(&s), ["b"]);
    // The same list again changes nothing.
    assert!(!s.apply(&speakers(&["b", "me"])));
    // A new order is a change (loudest first) even with the same people.
    assert!(s.apply(&speakers(&["me", "b"])));
    assert_eq!(speaking(&s), ["b"]);

    assert!(s.apply(&speakers(&["c", "a"])));
    assert!(!s.speaking);
    assert_eq!(speaking(&s), ["a", "c"]);
    assert_eq!(s.speakers, ["c", "a"]);

    // Someone listed leaves: gone from the list too.
    assert!(s.apply(&ServerMessage::ParticipantLeft {
        participant_id: "c".into()
    }));
    assert_eq!(s.speakers, ["a"]);
    // Someone who arrives while listed (an unknown id first) speaks at once.
    assert!(s.apply(&speakers(&["d", "a"])));
    assert!(s.apply(&ServerMessage::ParticipantJoined {
        participant: p("d", "Di")
    }));
    assert_eq!(speaking(&s), ["a", "d"]);

    assert!(s.apply(&speakers(&[])));
    assert!(s.speakers.is_empty() && !s.speaking && speaking(&s).is_empty());
}

#[test]
fn a_new_connection_forgets_the_speakers_and_the_lobby_too() {
    let mut s = fresh();
    s.apply(&joined(vec![p("a", "Ada")]));
    s.apply(&speakers(&["a", "me"]));
    s.apply(&ServerMessage::VideoWatched { watched: false });
    // Resumed: the server says again who speaks; my video counts as watched until told.
    assert!(s.apply(&joined(vec![p("a", "Ada")])));
    assert!(s.speakers.is_empty() && !s.speaking && speaking(&s).is_empty());
    assert!(s.video_watched);
    s.apply(&speakers(&["a"]));
    s.apply(&ServerMessage::Waiting {
        room_name: None,
        host_present: true,
    });
    assert!(s.speakers.is_empty());
}

#[test]
fn video_watched_follows_the_server() {
    let mut s = fresh();
    assert!(s.video_watched, "watched until the server says otherwise");
    s.apply(&joined(vec![p("a", "Ada")]));
    assert!(s.apply(&ServerMessage::VideoWatched { watched: false }));
    assert!(!s.video_watched);
    assert!(!s.apply(&ServerMessage::VideoWatched { watched: false }));
    assert!(s.apply(&ServerMessage::VideoWatched { watched: true }));
    assert!(s.video_watched);
}

#[test]
fn video_layers_follow_the_server_until_a_new_connection() {
    let layers = |rids: &[&str]| ServerMessage::VideoLayers {
        layers: rids.iter().map(|r| (*r).to_owned()).collect(),
    };
    let mut s = fresh();
    assert_eq!(
        s.video_layers, None,
        "every layer until the server names some"
    );
    s.apply(&joined(vec![p("a", "Ada")]));
    assert!(s.apply(&layers(&["q"])));
    assert_eq!(s.video_layers.as_deref(), Some(&["q".to_owned()][..]));
    assert!(!s.apply(&layers(&["q"])));
    assert!(s.apply(&layers(&["q", "f"])));
    // Nobody watching keeps the list: it holds again when someone watches.
    s.apply(&ServerMessage::VideoWatched { watched: false });
    s.apply(&ServerMessage::VideoWatched { watched: true });
    assert_eq!(s.video_layers.as_ref().map(Vec::len), Some(2));
    // A new connection starts over with every layer.
    s.apply(&layers(&["f"]));
    assert!(s.apply(&joined(vec![p("a", "Ada")])));
    assert_eq!(s.video_layers, None);
}

fn entry(id: u64, text: &str) -> super::ChatEntry {
    super::ChatEntry {
        id,
        from: "a".into(),
        name: "Ada".into(),
        at_ms: 1,
        text: Some(text.into()),
    }
}

#[test]
fn hands_follow_the_room_mine_too() {
    let mut s = fresh();
    s.apply(&joined(vec![p("a", "Ada")]));
    let mut up = p("a", "Ada");
    up.hand = Some(4);
    assert!(s.apply(&ServerMessage::ParticipantUpdated { participant: up }));
    assert_eq!(s.participants[0].hand, Some(4));
    let mut me = p("me", "Me");
    me.hand = Some(5);
    assert!(s.apply(&ServerMessage::ParticipantUpdated {
        participant: me.clone()
    }));
    assert_eq!(s.my_hand, Some(5));
    me.hand = None;
    assert!(s.apply(&ServerMessage::ParticipantUpdated { participant: me }));
    assert_eq!(s.my_hand, None);
}

#[test]
fn chat_merges_by_id_and_is_bounded_and_cleared() {
    let mut s = fresh();
    assert!(s.add_chat(vec![entry(2, "two"), entry(1, "one")], false));
    // History sent again after a resume adds nothing.
    assert!(!s.add_chat(vec![entry(1, "one"), entry(2, "two")], false));
    assert!(s.add_chat(vec![entry(3, "three")], false));
    let ids: Vec<u64> = s.chat.iter().map(|e| e.id).collect();
    assert_eq!(ids, [1, 2, 3]);
    let many: Vec<_> = (10..10 + super::CHAT_KEPT_IN_STATE as u64 + 5)
        .map(|i| entry(i, "x"))
        .collect();
    s.add_chat(many, false);
    assert_eq!(s.chat.len(), super::CHAT_KEPT_IN_STATE);
    assert_eq!(
        s.chat.last().map(|e| e.id),
        Some(10 + super::CHAT_KEPT_IN_STATE as u64 + 4)
    );
    assert!(s.apply(&ServerMessage::ChatCleared));
    assert!(s.chat.is_empty());
    assert!(!s.apply(&ServerMessage::ChatCleared));
}

#[test]
fn the_first_history_after_joined_is_the_whole_chat() {
    let mut s = fresh();
    s.apply(&joined(vec![]));
    s.add_chat(vec![entry(1, "one"), entry(2, "two")], true);
    s.add_chat(vec![entry(3, "three")], false);
    // A second batch of the same history adds.
    s.add_chat(vec![entry(4, "four")], true);
    assert_eq!(s.chat.len(), 4);
    // Back after the owner cleared the chat: the (empty) history replaces what was shown.
    s.apply(&joined(vec![]));
    assert!(s.add_chat(Vec::new(), true));
    assert!(s.chat.is_empty());
    // A resume that re-sends the same history shows each message once.
    s.add_chat(vec![entry(5, "five")], false);
    s.apply(&joined(vec![]));
    s.add_chat(vec![entry(5, "five")], true);
    assert_eq!(s.chat.iter().map(|e| e.id).collect::<Vec<_>>(), [5]);
}
