//! Reactions, raised hands and chat through the core against a real server (issue 14), in an
//! end-to-end encrypted room: chat is sealed by the sender's core and opened by the others',
//! a member who comes back on the same device reads what was said while they were inside, a
//! stranger reads nothing, and a reaction reaches everyone as an event.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use salon_core::{Call, CallConfig, CallEvent, CallListener, Client, Refusal, RoomState};

#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<CallEvent>>,
}

impl CallListener for Recorder {
    fn on_state_changed(&self, _state: RoomState) {}

    fn on_event(&self, event: CallEvent) {
        self.events.lock().unwrap().push(event);
    }
}

impl Recorder {
    fn reactions(&self) -> Vec<(String, String)> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match e {
                CallEvent::Reaction {
                    participant_id,
                    emoji,
                } => Some((participant_id.clone(), emoji.clone())),
                _ => None,
            })
            .collect()
    }

    fn refused(&self, want: Refusal) -> bool {
        self.events
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, CallEvent::Refused { reason, .. } if *reason == want))
    }
}

fn quiet(name: &str) -> CallConfig {
    let mut config = CallConfig::new(name);
    config.audio_on = false;
    config.video_on = false;
    config
}

async fn join(client: &Client, link: &str, name: &str) -> (Call, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    let call = client
        .join(
            link,
            quiet(name),
            Some(recorder.clone() as Arc<dyn CallListener>),
            None,
            None,
        )
        .await
        .unwrap();
    (call, recorder)
}

async fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while tokio::time::Instant::now() < deadline {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(f(), "timed out waiting for {what}");
}

fn texts(call: &Call) -> Vec<Option<String>> {
    call.state().chat.into_iter().map(|m| m.text).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_chat_reactions_and_hands_between_cores() {
    let dir = tempfile::tempdir().unwrap();
    let config = salon_server::config::Config::for_tests(dir.path().join("server"));
    let server = salon_server::start(&config).await.unwrap();
    let owner_client = Client::open(&dir.path().join("owner")).unwrap();
    let room = owner_client
        .create_room(&server.url(), Some("Social"))
        .await
        .unwrap();
    assert!(room.link.contains("#k="), "new rooms are encrypted");
    let (owner, owner_events) = join(&owner_client, &room.link, "Owner").await;
    let ada_client = Client::open(&dir.path().join("ada")).unwrap();
    let (ada, _) = join(&ada_client, &room.link, "Ada").await;
    wait_for("an encrypted room", || {
        owner.state().e2ee.is_some() && ada.state().e2ee.is_some()
    })
    .await;

    // Chat: sealed by Ada's core, opened by the owner's.
    ada.send_chat("  the cake is in the fridge  ").unwrap();
    wait_for("the owner to read it", || {
        texts(&owner) == [Some("the cake is in the fridge".to_owned())]
    })
    .await;
    let entry = owner.state().chat[0].clone();
    assert_eq!(entry.name, "Ada");
    assert_eq!(Some(entry.from.as_str()), ada.state().me.as_deref());
    // Too long or empty is refused before it leaves.
    assert!(ada.send_chat(&"x".repeat(1001)).is_err());
    assert!(ada.send_chat("   ").is_err());

    // A reaction comes back to everyone as an event; a made-up one is refused locally.
    ada.react("🎉").unwrap();
    let ada_id = ada.state().me.unwrap();
    wait_for("the reaction", || {
        owner_events.reactions() == [(ada_id.clone(), "🎉".to_owned())]
    })
    .await;
    assert!(ada.react("lol").is_err());
    assert_eq!(Call::reactions().len(), 8);

    // A hand goes up for everyone; the owner lowers all.
    ada.raise_hand(true).unwrap();
    wait_for("the hand", || {
        owner.state().participants.iter().any(|p| p.hand.is_some()) && ada.state().my_hand.is_some()
    })
    .await;
    owner.lower_hands(None).unwrap();
    wait_for("hands down", || ada.state().my_hand.is_none()).await;

    // Ada leaves and comes back on the same device: she reads what was said while she was in.
    ada.leave().await;
    drop(ada);
    // Gone for the room too (on a busy machine the server may hear of it after `leave` gave up
    // waiting), before anything is said that she must not read.
    wait_for("Ada to be gone", || {
        !owner.state().participants.iter().any(|p| p.id == ada_id)
    })
    .await;
    owner.send_chat("said while Ada was out").unwrap();
    wait_for("the owner's message", || owner.state().chat.len() == 2).await;
    let (ada, _) = join(&ada_client, &room.link, "Ada").await;
    wait_for("Ada's history", || {
        texts(&ada) == [Some("the cake is in the fridge".to_owned())]
    })
    .await;

    // The server kept ciphertext only: the words are nowhere in its files.
    for entry in std::fs::read_dir(dir.path().join("server")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap_or_default();
        for words in [&b"the cake is in the fridge"[..], b"said while Ada was out"] {
            assert!(
                !bytes.windows(words.len()).any(|w| w == words),
                "plaintext chat in the server's files"
            );
        }
    }

    // A stranger with the link reads nothing from before.
    let stranger_client = Client::in_memory().unwrap();
    let (stranger, stranger_events) = join(&stranger_client, &room.link, "Stranger").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        stranger.state().chat.is_empty(),
        "{:?}",
        stranger.state().chat
    );

    // Only the owner clears the chat.
    stranger.clear_chat().unwrap();
    wait_for("the refusal", || {
        stranger_events.refused(Refusal::NotAllowed)
    })
    .await;
    owner.clear_chat().unwrap();
    wait_for("an empty chat", || {
        ada.state().chat.is_empty() && owner.state().chat.is_empty()
    })
    .await;

    stranger.leave().await;
    ada.leave().await;
    owner.leave().await;
}
