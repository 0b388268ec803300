//! End-to-end encryption of a call (ADR 0003): the frame crypto the media paths use
//! ([`MediaCrypto`]) and the key exchange the driver runs over signaling ([`KeyExchange`]).
//!
//! Every participant encrypts with a random sender key of its own and sends it, in a pairwise
//! box, to each member whose announced public key carries a valid MAC under the room secret
//! (the link's `#k=`). Departures make every sender move to a new key generation 500 ms later
//! (sent at once, used 1 s after), so whoever left cannot read what follows. The safety code is
//! derived from the secret and the public keys this client exchanges keys with.
//!
//! Nothing here logs key material; counts and participant ids only.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use salon_e2ee::{
    BoxContent, Codec, FrameSealer, Identity, KeyTable, OpenError, RoomSecret, SenderKey,
    safety_code, verify_announce, verify_commit,
};
use salon_protocol::{
    ClientMessage, E2eeBox, E2eeJoin, Participant, Role, RoomInfo, ServerMessage,
};

use crate::error::CoreError;

/// How long after a departure every sender draws a new key (several departures share one).
const REKEY_AFTER_LEAVE: Duration = Duration::from_millis(500);
/// How long a new key is sent before it is used, so receivers hold it when its frames come.
const USE_NEW_KEY_AFTER: Duration = Duration::from_secs(1);
/// How long after asking for a new link its `room_updated` counts as the answer to me.
const ROTATION_ANSWER_WITHIN: Duration = Duration::from_secs(10);
/// How long after my rotation an announcement under the old secret still counts: the
/// announcements of people who joined just before it, still on their way.
const PREVIOUS_SECRET_FOR: Duration = Duration::from_secs(30);

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64_32(text: &str) -> Option<[u8; 32]> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()?
        .try_into()
        .ok()
}

/// The frame crypto shared by the send path, the receive paths and the driver. Until the room
/// is known to be encrypted (`joined` says so) media goes in the clear, as in a legacy room.
pub struct MediaCrypto {
    encrypted: AtomicBool,
    sealer: FrameSealer,
    keys: Mutex<KeyTable>,
    /// Frames dropped because they did not open (no key yet, wrong key, altered, replayed).
    undecryptable: AtomicU64,
    /// Frames dropped on the send side because they could not be sealed.
    unsealed: AtomicU64,
}

impl MediaCrypto {
    /// Frame crypto sealing with `key` (the first generation, which the key exchange hands
    /// out).
    pub fn new(key: SenderKey) -> Result<Self, CoreError> {
        Ok(Self {
            encrypted: AtomicBool::new(false),
            sealer: FrameSealer::new(key).map_err(CoreError::media)?,
            keys: Mutex::new(KeyTable::new()),
            undecryptable: AtomicU64::new(0),
            unsealed: AtomicU64::new(0),
        })
    }

    pub fn is_encrypted(&self) -> bool {
        self.encrypted.load(Ordering::Relaxed)
    }

    fn keys(&self) -> std::sync::MutexGuard<'_, KeyTable> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An encoded frame as it goes out: sealed in an encrypted room, as is otherwise. `None`:
    /// drop it (it could not be sealed; it never goes out in the clear).
    pub fn outgoing(&self, codec: Codec, frame: Vec<u8>) -> Option<Vec<u8>> {
        if !self.is_encrypted() {
            return Some(frame);
        }
        match self.sealer.seal(codec, &frame) {
            Ok(sealed) => Some(sealed),
            Err(e) => {
                self.unsealed.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(error = %e, ?codec, "frame not sealed; dropped");
                None
            }
        }
    }

    /// A received frame of `sender`, opened in an encrypted room. `Err`: drop it (never decode
    /// it), and for video ask for a keyframe once the key is there.
    pub fn incoming(
        &self,
        sender: &str,
        codec: Codec,
        frame: Vec<u8>,
    ) -> Result<Vec<u8>, OpenError> {
        if !self.is_encrypted() {
            return Ok(frame);
        }
        let opened = self.keys().open(sender, codec, &frame, Instant::now());
        if opened.is_err() {
            self.undecryptable.fetch_add(1, Ordering::Relaxed);
        }
        opened
    }

    /// Frames that did not open, for stats.
    pub fn undecryptable(&self) -> u64 {
        self.undecryptable.load(Ordering::Relaxed)
    }
}

/// What this client knows of another member's keys.
#[derive(Debug, Clone, Default)]
struct Member {
    commit: Option<[u8; 32]>,
    /// Their public key, once its announcement checked out (commitment and MAC).
    verified: Option<[u8; 32]>,
    /// An announcement that did not check out (wrong or missing link key).
    failed: bool,
}

/// The key exchange of one call. The driver feeds it every server message and sends what it
/// queues ([`KeyExchange::take_outbox`]).
pub struct KeyExchange {
    identity: Identity,
    /// From the invite link; `None` joins unencrypted (and an encrypted room refuses).
    secret: Option<RoomSecret>,
    crypto: std::sync::Arc<MediaCrypto>,
    me: Option<String>,
    room_id: String,
    encrypted: bool,
    members: BTreeMap<String, Member>,
    /// My current sender key (what the sealer uses, or will once `pending` is in use).
    current: SenderKey,
    /// A new key sent to the members, and when to start using it.
    pending: Option<(SenderKey, Instant)>,
    rekey_at: Option<Instant>,
    /// I asked for a new link: when it comes, I make the room's new secret.
    /// When I asked: a refused request (I am no host any more) must not make me hand out a
    /// secret of my own at someone else's rotation later.
    rotating: Option<Instant>,
    outbox: Vec<ClientMessage>,
    /// The room secret changed (a rotation): the link to keep from now on.
    new_secret: Option<String>,
    /// Every sender key received, for tests ([`super::Call::received_sender_keys`]).
    received: Vec<(String, SenderKey)>,
    /// The secret I made for a room whose encryption I am turning on.
    turning_on: Option<RoomSecret>,
    /// After my rotation, the secret before it, until when it still verifies announcements of
    /// people who were inside before the new link (their announcement crossed my rotation).
    previous_secret: Option<(RoomSecret, Instant)>,
    /// The chat key of every room secret held in this call (ADR 0003 §16): chat sealed
    /// before a new link still opens.
    chat_keys: Vec<salon_e2ee::ChatKey>,
}

impl KeyExchange {
    /// `first_key` is the key `crypto` seals with now.
    pub fn new(
        secret: Option<&str>,
        room_id: &str,
        crypto: std::sync::Arc<MediaCrypto>,
        first_key: SenderKey,
    ) -> Result<Self, CoreError> {
        let secret = secret
            .map(RoomSecret::from_base64url)
            .transpose()
            .map_err(|_| CoreError::InvalidLink {
                reason: "the link's key (the part after #k=) is damaged".into(),
            })?;
        let identity = Identity::generate().map_err(CoreError::media)?;
        Ok(Self {
            identity,
            secret,
            crypto,
            me: None,
            room_id: room_id.to_owned(),
            encrypted: false,
            members: BTreeMap::new(),
            current: first_key,
            pending: None,
            rekey_at: None,
            rotating: None,
            outbox: Vec::new(),
            new_secret: None,
            received: Vec::new(),
            previous_secret: None,
            turning_on: None,
            chat_keys: Vec::new(),
        })
    }

    /// The chat keys of the secrets held so far, the current one included, and the index of
    /// the current one.
    fn chat_keys(&mut self) -> (&[salon_e2ee::ChatKey], Option<usize>) {
        let current = self.secret.as_ref().map(|secret| {
            let key = salon_e2ee::ChatKey::new(secret);
            match self.chat_keys.iter().position(|k| k.id() == key.id()) {
                Some(at) => at,
                None => {
                    self.chat_keys.push(key);
                    self.chat_keys.len() - 1
                }
            }
        });
        (&self.chat_keys, current)
    }

    /// Seals a chat message under the current room secret, in an encrypted room; `None` in a
    /// room that is not encrypted (chat goes as text there).
    pub fn seal_chat(&mut self, text: &str) -> Option<String> {
        if !self.encrypted {
            return None;
        }
        let (keys, current) = self.chat_keys();
        Some(keys[current?].seal(text))
    }

    /// Opens a sealed chat message with any secret held in this call.
    pub fn open_chat(&mut self, sealed: &str) -> Result<String, salon_e2ee::ChatOpenError> {
        salon_e2ee::open_chat(self.chat_keys().0, sealed)
    }

    /// What `join` carries: our commitment, when we hold the room's secret.
    pub fn join_field(&self) -> Option<E2eeJoin> {
        self.secret.as_ref().map(|_| E2eeJoin {
            commit: b64(&self.identity.commit()),
        })
    }

    /// Checks a room before going in: a link with a key never joins a room the server calls
    /// unencrypted (a downgrade), and a room that is encrypted needs the link's key.
    pub fn check_room(&self, room: &RoomInfo) -> Result<(), CoreError> {
        match (&self.secret, room.e2ee) {
            (Some(_), false) => Err(CoreError::E2ee {
                reason: "The server says this room is not encrypted, but your link says it is. Not joining.".into(),
            }),
            (None, true) => Err(CoreError::E2ee {
                reason: missing_key().into(),
            }),
            _ => Ok(()),
        }
    }

    /// A room joined through a link with a key is encrypted: frames are sealed and opened from
    /// now on.
    pub fn is_encrypted(&self) -> bool {
        self.encrypted
    }

    /// I am about to send `rotate_link`: the new link gets a new secret from me.
    pub fn rotating(&mut self) {
        if self.encrypted {
            self.rotating = Some(Instant::now());
        }
    }

    /// I am about to turn encryption on in an unencrypted room: the new link gets a secret
    /// from me (the call then ends for everyone; the link is what matters).
    pub fn turning_on(&mut self) {
        if !self.encrypted {
            self.turning_on = Some(RoomSecret::generate());
        }
    }

    /// The new secret after a rotation, once (for the link to keep).
    pub fn take_new_secret(&mut self) -> Option<String> {
        self.new_secret.take()
    }

    /// Every sender key received so far (tests).
    pub fn received_keys(&self) -> &[(String, SenderKey)] {
        &self.received
    }

    /// Messages to send now.
    pub fn take_outbox(&mut self) -> Vec<ClientMessage> {
        std::mem::take(&mut self.outbox)
    }

    /// When [`KeyExchange::tick`] has something to do.
    pub fn deadline(&self) -> Option<Instant> {
        [self.rekey_at, self.pending.as_ref().map(|(_, at)| *at)]
            .into_iter()
            .flatten()
            .min()
    }

    /// Runs the timers: a rekey after departures, a new key coming into use.
    pub fn tick(&mut self, now: Instant) {
        if self.rekey_at.is_some_and(|at| now >= at) {
            self.rekey_at = None;
            self.rekey(now);
        }
        if let Some((key, at)) = &self.pending
            && now >= *at
        {
            let key = key.clone();
            self.pending = None;
            match self.crypto.sealer.set_key(key.clone()) {
                Ok(()) => {
                    tracing::debug!(kid = key.kid, "sending with a new key");
                    self.current = key;
                }
                Err(e) => tracing::warn!(error = %e, "new sender key refused"),
            }
        }
    }

    /// Draws the next generation and sends it to every verified member; used in 1 s.
    fn rekey(&mut self, now: Instant) {
        let newest = self
            .pending
            .as_ref()
            .map_or(self.current.kid, |(key, _)| key.kid);
        let key = SenderKey::random(newest + 1);
        self.pending = Some((key.clone(), now + USE_NEW_KEY_AFTER));
        let to: Vec<String> = self.verified_ids();
        self.send_key_to(&to, &key);
    }

    fn verified_ids(&self) -> Vec<String> {
        self.members
            .iter()
            .filter(|(_, m)| m.verified.is_some())
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Boxes `key` for each of `ids` (verified members) into one `e2ee_keys`.
    fn send_key_to(&mut self, ids: &[String], key: &SenderKey) {
        let content = BoxContent::SenderKey(key.clone());
        self.send_box(ids, &[], &content);
    }

    fn send_box(&mut self, ids: &[String], context: &[u8], content: &BoxContent) {
        let boxes: Vec<E2eeBox> = ids
            .iter()
            .filter_map(|id| {
                let public = self.members.get(id)?.verified?;
                let sealed = self.identity.seal_box(&public, context, content).ok()?;
                Some(E2eeBox {
                    to: id.clone(),
                    sealed: b64(&sealed),
                })
            })
            .collect();
        if !boxes.is_empty() {
            self.outbox.push(ClientMessage::E2eeKeys { boxes });
        }
    }

    /// Sends my keys (the one in use, and a pending one) to members just verified, in one
    /// `e2ee_keys` per key (the server allows a member only a few key messages a second).
    fn welcome(&mut self, ids: &[String]) {
        let current = self.current.clone();
        self.send_key_to(ids, &current);
        if let Some((pending, _)) = self.pending.clone() {
            self.send_key_to(ids, &pending);
        }
    }

    fn announce(&mut self) {
        let (Some(me), Some(secret)) = (&self.me, &self.secret) else {
            return;
        };
        let mac = self.identity.announce_mac(secret, me);
        self.outbox.push(ClientMessage::E2eeAnnounce {
            public: b64(&self.identity.public()),
            mac: b64(&mac),
        });
    }

    /// Records a participant's key exchange as the server lists it; verifies an announcement.
    /// Returns whether they became verified now.
    fn learn(&mut self, participant: &Participant) -> bool {
        let Some(e2ee) = &participant.e2ee else {
            self.members.remove(&participant.id);
            return false;
        };
        let commit = unb64_32(&e2ee.commit);
        let member = self.members.entry(participant.id.clone()).or_default();
        if member.commit != commit {
            // A new commitment (a new call of theirs): start over with them.
            *member = Member {
                commit,
                ..Member::default()
            };
        }
        match (&e2ee.public, &e2ee.mac) {
            (Some(public), Some(mac)) => self.verify(&participant.id, public, mac),
            _ => false,
        }
    }

    /// Checks an announcement: the key is the committed one and its MAC holds under the room
    /// secret — or, shortly after my rotation, under the previous one (someone who was inside
    /// before the new link and announced meanwhile: they get the new secret from me). A key
    /// verified once stays verified when it is announced again under a secret I do not hold
    /// yet (a host's re-announcement after a rotation, before its box with the new secret).
    /// Returns whether the member became verified now.
    fn verify(&mut self, id: &str, public: &str, mac: &str) -> bool {
        let Some(secret) = &self.secret else {
            return false;
        };
        let previous = self
            .previous_secret
            .as_ref()
            .filter(|(_, until)| Instant::now() < *until)
            .map(|(s, _)| s);
        let Some(member) = self.members.get_mut(id) else {
            return false;
        };
        let (Some(public), Some(mac)) = (unb64_32(public), unb64_32(mac)) else {
            member.failed = true;
            return false;
        };
        let committed = member.commit.is_some_and(|c| verify_commit(&c, &public));
        let current = committed && verify_announce(secret, id, &public, &mac);
        let before = !current
            && committed
            && previous.is_some_and(|p| verify_announce(p, id, &public, &mac));
        if !current && !before {
            if member.verified == Some(public) {
                return false;
            }
            tracing::info!(participant = %id, committed, "a key announcement did not check out");
            member.failed = true;
            member.verified = None;
            return false;
        }
        member.failed = false;
        let fresh = member.verified != Some(public);
        member.verified = Some(public);
        if before && fresh {
            // They hold the old secret only: give them the new one.
            if let Some(new) = self.secret.clone() {
                let context = self.room_id.clone();
                self.send_box(
                    &[id.to_owned()],
                    context.as_bytes(),
                    &BoxContent::RoomSecret(new),
                );
            }
        }
        fresh
    }

    /// Follows one server message. `roles` answers who is a host (for a new room secret).
    pub fn follow(&mut self, message: &ServerMessage, roles: &HashMap<String, Role>) {
        match message {
            ServerMessage::Joined {
                participant_id,
                room,
                participants,
                ..
            } => {
                self.me = Some(participant_id.clone());
                self.room_id = room.id.clone();
                self.encrypted = room.e2ee && self.secret.is_some();
                self.crypto
                    .encrypted
                    .store(self.encrypted, Ordering::Relaxed);
                if !self.encrypted {
                    return;
                }
                let listed: Vec<&str> = participants.iter().map(|p| p.id.as_str()).collect();
                // Whoever left while I was away (a resume) may hold my key: a new generation,
                // as for a departure.
                let gone: Vec<String> = self
                    .members
                    .keys()
                    .filter(|id| !listed.contains(&id.as_str()))
                    .cloned()
                    .collect();
                for id in &gone {
                    self.on_left(id);
                }
                self.announce();
                for p in participants.iter().filter(|p| p.id != *participant_id) {
                    self.learn(p);
                }
                // Everyone verified gets my keys again: a resume may follow a lost box.
                let ids = self.verified_ids();
                self.welcome(&ids);
            }
            ServerMessage::RoomUpdated { room } if !self.encrypted => {
                // Encryption turned on by me: the new link carries my secret.
                if room.e2ee
                    && room.id != self.room_id
                    && let Some(secret) = self.turning_on.take()
                {
                    self.room_id = room.id.clone();
                    self.new_secret = Some(secret.to_base64url());
                    self.secret = Some(secret);
                }
            }
            _ if !self.encrypted => {}
            ServerMessage::ParticipantJoined { participant }
            | ServerMessage::ParticipantUpdated { participant } => self.on_participant(participant),
            ServerMessage::E2eeAnnounce {
                participant_id,
                public,
                mac,
            } => self.on_announce(participant_id, public, mac),
            ServerMessage::E2eeKey { from, sealed } => self.open_key(from, sealed, roles),
            ServerMessage::ParticipantLeft { participant_id } => self.on_left(participant_id),
            ServerMessage::RoomUpdated { room } if room.id != self.room_id => {
                self.room_id = room.id.clone();
                if self
                    .rotating
                    .take()
                    .is_some_and(|asked| asked.elapsed() < ROTATION_ANSWER_WITHIN)
                {
                    self.new_room_secret();
                }
            }
            _ => {}
        }
    }

    fn on_participant(&mut self, participant: &Participant) {
        if Some(&participant.id) != self.me.as_ref() && self.learn(participant) {
            self.welcome(std::slice::from_ref(&participant.id));
        }
    }

    fn on_announce(&mut self, id: &str, public: &str, mac: &str) {
        if self.members.contains_key(id) && self.verify(id, public, mac) {
            self.welcome(&[id.to_owned()]);
        }
    }

    /// Someone left: their keys go, and soon every sender (me too) moves to a new key they
    /// never get.
    fn on_left(&mut self, id: &str) {
        if self.members.remove(id).is_some() {
            self.crypto.keys().remove_sender(id);
            self.rekey_at
                .get_or_insert(Instant::now() + REKEY_AFTER_LEAVE);
        }
    }

    /// After my rotation: a new secret for the new link, boxed to every verified member, and a
    /// new key generation (whoever held the old link learns nothing new).
    fn new_room_secret(&mut self) {
        let secret = RoomSecret::generate();
        let ids = self.verified_ids();
        let content = BoxContent::RoomSecret(secret.clone());
        let context = self.room_id.clone();
        self.send_box(&ids, context.as_bytes(), &content);
        self.new_secret = Some(secret.to_base64url());
        if let Some(old) = self.secret.replace(secret) {
            self.previous_secret = Some((old, Instant::now() + PREVIOUS_SECRET_FOR));
        }
        self.announce();
        self.rekey(Instant::now());
    }

    fn open_key(&mut self, from: &str, sealed: &str, roles: &HashMap<String, Role>) {
        let Some(public) = self.members.get(from).and_then(|m| m.verified) else {
            tracing::debug!(participant = %from, "a key box from someone not verified; ignored");
            return;
        };
        let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(sealed) else {
            return;
        };
        let opened = self.identity.open_box(&public, &[], &bytes).or_else(|_| {
            self.identity
                .open_box(&public, self.room_id.as_bytes(), &bytes)
        });
        match opened {
            Ok(BoxContent::SenderKey(key)) => {
                let kid = key.kid;
                // Bounded by the room: at most a few generations per member and call.
                if self.received.len() < 4096 {
                    self.received.push((from.to_owned(), key.clone()));
                }
                let fresh = self.crypto.keys().insert(from, key);
                if fresh {
                    tracing::debug!(participant = %from, kid, "a sender key arrived");
                }
            }
            Ok(BoxContent::RoomSecret(secret)) => {
                if !roles.get(from).is_some_and(|r| r.is_host()) {
                    tracing::info!(participant = %from, "a room secret from a guest; ignored");
                    return;
                }
                self.new_secret = Some(secret.to_base64url());
                self.secret = Some(secret);
                // Re-announce under the new secret, and check the others again under it.
                self.announce();
            }
            Err(_) => tracing::info!(participant = %from, "a key box did not open"),
        }
    }

    /// What the app shows: the safety code over everyone I exchange keys with, how many hold
    /// keys, and who could not be verified.
    pub fn state(&self) -> Option<E2eeState> {
        if !self.encrypted {
            return None;
        }
        let secret = self.secret.as_ref()?;
        let mut publics: Vec<[u8; 32]> = self.members.values().filter_map(|m| m.verified).collect();
        publics.push(self.identity.public());
        let unverified = self
            .members
            .iter()
            .filter(|(_, m)| m.verified.is_none())
            .map(|(id, _)| id.clone())
            .collect();
        Some(E2eeState {
            safety_code: safety_code(secret, &publics),
            key_holders: publics.len() as u32,
            unverified,
        })
    }
}

/// What an encrypted call shows: read the code aloud, everyone should see the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct E2eeState {
    /// 12 digits, `dddd dddd dddd`.
    pub safety_code: String,
    /// People holding keys, me included.
    pub key_holders: u32,
    /// Participants whose keys could not be checked yet (or failed: a wrong or missing link
    /// key). They receive nothing from me and I cannot see them.
    pub unverified: Vec<String>,
}

/// What to say when a link to an encrypted room lacks its key.
pub fn missing_key() -> &'static str {
    "This link is missing its key (the part after #). Ask for the whole link."
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use salon_protocol::{E2eeMember, MediaState, Participant, Role, RoomInfo, ServerMessage};

    use super::*;

    const ROOM: &str = "AAAAAAAAAAAAAAAAAAAAAA";
    const NEW_ROOM: &str = "BBBBBBBBBBBBBBBBBBBBBB";

    struct Member {
        id: String,
        role: Role,
        kx: KeyExchange,
        crypto: Arc<MediaCrypto>,
    }

    fn member(id: &str, role: Role, secret: &RoomSecret) -> Member {
        let key = SenderKey::random(0);
        let crypto = Arc::new(MediaCrypto::new(key.clone()).expect("crypto"));
        let kx =
            KeyExchange::new(Some(&secret.to_base64url()), ROOM, crypto.clone(), key).expect("kx");
        Member {
            id: id.into(),
            role,
            kx,
            crypto,
        }
    }

    fn room(id: &str) -> RoomInfo {
        RoomInfo {
            id: id.into(),
            name: None,
            max_participants: 50,
            locked: false,
            panic: false,
            e2ee: true,
        }
    }

    /// What the server lists for a member: the commitment, and the announcement once made.
    fn listed(m: &Member, announced: Option<(&str, &str)>) -> Participant {
        Participant {
            id: m.id.clone(),
            name: m.id.clone(),
            media: MediaState::default(),
            role: m.role,
            e2ee: Some(E2eeMember {
                commit: m.kx.join_field().expect("commit").commit,
                public: announced.map(|(p, _)| p.to_owned()),
                mac: announced.map(|(_, m)| m.to_owned()),
            }),
            hand: None,
            screen: false,
        }
    }

    fn roles(members: &[&Member]) -> HashMap<String, Role> {
        members.iter().map(|m| (m.id.clone(), m.role)).collect()
    }

    /// Relays what `from` queued to the others, as the server does.
    fn relay(from: &mut Member, others: &mut [&mut Member]) -> usize {
        let sent = from.kx.take_outbox();
        let mut count = 0;
        for message in sent {
            match message {
                ClientMessage::E2eeAnnounce { public, mac } => {
                    for o in others.iter_mut() {
                        let m = ServerMessage::E2eeAnnounce {
                            participant_id: from.id.clone(),
                            public: public.clone(),
                            mac: mac.clone(),
                        };
                        let r = HashMap::from([(from.id.clone(), from.role)]);
                        o.kx.follow(&m, &r);
                    }
                }
                ClientMessage::E2eeKeys { boxes } => {
                    for b in boxes {
                        if let Some(o) = others.iter_mut().find(|o| o.id == b.to) {
                            let m = ServerMessage::E2eeKey {
                                from: from.id.clone(),
                                sealed: b.sealed,
                            };
                            let r = HashMap::from([(from.id.clone(), from.role)]);
                            o.kx.follow(&m, &r);
                            count += 1;
                        }
                    }
                }
                _ => {}
            }
        }
        count
    }

    fn joined(me: &mut Member, others: Vec<Participant>, room_id: &str) {
        let m = ServerMessage::Joined {
            version: 1,
            participant_id: me.id.clone(),
            room: room(room_id),
            participants: others,
            resume_token: "t".into(),
            resumed: false,
            role: me.role,
            knocks: Vec::new(),
            media_kept: false,
            ice_servers: Vec::new(),
        };
        me.kx.follow(&m, &HashMap::new());
    }

    /// Ada is inside and has announced; Bo joins and both exchange keys.
    fn two_members(secret: &RoomSecret) -> (Member, Member) {
        let mut ada = member("ada", Role::Owner, secret);
        let mut bo = member("bo", Role::Guest, secret);
        joined(&mut ada, Vec::new(), ROOM);
        let ada_announce = match ada.kx.take_outbox().pop() {
            Some(ClientMessage::E2eeAnnounce { public, mac }) => (public, mac),
            other => panic!("expected an announcement, got {other:?}"),
        };
        ada.kx.follow(
            &ServerMessage::ParticipantJoined {
                participant: listed(&bo, None),
            },
            &roles(&[&bo]),
        );
        joined(
            &mut bo,
            vec![listed(&ada, Some((&ada_announce.0, &ada_announce.1)))],
            ROOM,
        );
        (ada, bo)
    }

    #[test]
    fn two_members_exchange_keys_and_show_one_code() {
        let secret = RoomSecret::generate();
        let (mut ada, mut bo) = two_members(&secret);
        // Bo announces and sends his key to Ada in one go; Ada answers with hers.
        assert_eq!(relay(&mut bo, &mut [&mut ada]), 1);
        assert_eq!(relay(&mut ada, &mut [&mut bo]), 1);
        assert_eq!(ada.crypto.keys().current_kid("bo"), Some(0));
        assert_eq!(bo.crypto.keys().current_kid("ada"), Some(0));
        let (a, b) = (ada.kx.state().expect("on"), bo.kx.state().expect("on"));
        assert_eq!(a.safety_code, b.safety_code);
        assert_eq!((a.key_holders, b.key_holders), (2, 2));
        // A frame Ada seals opens at Bo's.
        let frame = vec![0xfc, 1, 2, 3, 4, 5];
        let sealed = ada
            .crypto
            .outgoing(Codec::Opus, frame.clone())
            .expect("sealed");
        assert_ne!(sealed, frame);
        assert_eq!(bo.crypto.incoming("ada", Codec::Opus, sealed), Ok(frame));
    }

    #[test]
    fn a_wrong_link_key_gets_no_keys_and_shows_as_unverified() {
        let secret = RoomSecret::generate();
        let mut ada = member("ada", Role::Owner, &secret);
        let mut eve = member("eve", Role::Guest, &RoomSecret::generate());
        joined(&mut ada, Vec::new(), ROOM);
        let _ = ada.kx.take_outbox();
        ada.kx.follow(
            &ServerMessage::ParticipantJoined {
                participant: listed(&eve, None),
            },
            &HashMap::new(),
        );
        joined(&mut eve, vec![listed(&ada, None)], ROOM);
        assert_eq!(relay(&mut eve, &mut [&mut ada]), 0, "Eve verified nobody");
        assert_eq!(relay(&mut ada, &mut [&mut eve]), 0, "Ada sends Eve nothing");
        let state = ada.kx.state().expect("on");
        assert_eq!(state.unverified, vec!["eve".to_owned()]);
        assert_eq!(state.key_holders, 1);
    }

    #[test]
    fn a_rotation_that_crosses_a_newcomers_announcement_still_reaches_them() {
        let secret = RoomSecret::generate();
        let (mut ada, mut bo) = two_members(&secret);
        // Ada asks for a new link; it comes before Bo's announcement reaches her.
        ada.kx.rotating();
        let updated = ServerMessage::RoomUpdated {
            room: room(NEW_ROOM),
        };
        ada.kx.follow(&updated, &HashMap::new());
        assert!(ada.kx.take_new_secret().is_some());
        bo.kx.follow(&updated, &roles(&[&ada]));
        // Bo's announcement (under the old secret) and key, then Ada's queue: her re-announcement
        // under the new secret, the new secret for Bo (she verified him under the old one), her
        // keys.
        relay(&mut bo, &mut [&mut ada]);
        relay(&mut ada, &mut [&mut bo]);
        let new = bo.kx.take_new_secret().expect("Bo got the new secret");
        assert!(new != secret.to_base64url());
        // Bo re-announces under the new secret; from then on one code again.
        relay(&mut bo, &mut [&mut ada]);
        relay(&mut ada, &mut [&mut bo]);
        let (a, b) = (ada.kx.state().expect("on"), bo.kx.state().expect("on"));
        assert_eq!(a.safety_code, b.safety_code);
        assert!(
            a.unverified.is_empty() && b.unverified.is_empty(),
            "{a:?} {b:?}"
        );
        assert!(bo.crypto.keys().current_kid("ada").is_some());
    }

    #[test]
    fn a_room_secret_from_a_guest_is_ignored() {
        let secret = RoomSecret::generate();
        let (mut ada, mut bo) = two_members(&secret);
        relay(&mut bo, &mut [&mut ada]);
        relay(&mut ada, &mut [&mut bo]);
        // Bo (a guest) pretends to rotate: Ada keeps her secret.
        bo.kx.rotating();
        let updated = ServerMessage::RoomUpdated {
            room: room(NEW_ROOM),
        };
        bo.kx.follow(&updated, &HashMap::new());
        ada.kx.follow(&updated, &roles(&[&bo]));
        relay(&mut bo, &mut [&mut ada]);
        assert!(ada.kx.take_new_secret().is_none());
    }
}
