//! Who is speaking in a room, from the audio level every audio packet carries (RFC 6464), and
//! whose audio is therefore forwarded. Pure: no clock of its own, no I/O.
//!
//! In a room of 50, forwarding everyone's microphone to everyone is 49 streams per person, most
//! of them silence. Like the large SFUs, Salon forwards only the few loudest voices
//! ([`MAX_SPEAKERS`]). The choice must not flicker: a voice that gets in stays for
//! [`HOLD`] after it went quiet, and one that is already in is only displaced by a voice that has
//! been clearly louder ([`MARGIN`]) for a while ([`CHALLENGE`]), and only after it had the floor
//! for [`MIN_TENURE`]. A free seat is taken at once by the first loud packet, so nobody's first
//! word is cut.

use std::time::{Duration, Instant};

pub use salon_protocol::MAX_SPEAKERS;

/// How often a room's speakers are recomputed.
pub const TICK: Duration = Duration::from_millis(100);

/// Loudness at or above which a voice counts as speaking, as a score of 127 − level in −dBov:
/// 72 is louder than −55 dBov (speech into a microphone is around −20 to −40 dBov; a quiet
/// room −60 and below).
pub const LOUD: f32 = 72.0;

/// How long a voice keeps its seat after it went quiet (pauses between words and sentences).
pub const HOLD: Duration = Duration::from_millis(1500);

/// How long a voice must be loud before it may displace one that has a seat.
pub const CHALLENGE: Duration = Duration::from_millis(300);

/// How long a voice keeps its seat at least, however loud the challenger.
pub const MIN_TENURE: Duration = Duration::from_secs(1);

/// How much louder (in score points, i.e. dB) a challenger must be than the quietest seat.
pub const MARGIN: f32 = 8.0;

/// How much louder another speaker must be to become the first in the list (the "active
/// speaker" that a speaker view shows large).
pub const DOMINANT_MARGIN: f32 = 4.0;

/// The speakers list goes out at most this often.
pub const ANNOUNCE_GAP: Duration = Duration::from_millis(200);

/// The loudness score of an RFC 6464 audio-level extension's payload: 127 minus the level
/// (0 = −127 dBov, silence; 127 = 0 dBov). `None` for an empty payload.
pub fn score(extension: &[u8]) -> Option<u8> {
    extension.first().map(|b| 127 - (b & 0x7f))
}

/// One audio publication's loudness.
#[derive(Debug, Default, Clone)]
pub struct Voice {
    /// The loudest packet since the last tick.
    peak: u8,
    smoothed: f32,
    loud_since: Option<Instant>,
    last_loud: Option<Instant>,
    selected_at: Option<Instant>,
}

impl Voice {
    /// A packet with this loudness score arrived.
    pub fn hear(&mut self, score: u8) {
        self.peak = self.peak.max(score);
    }

    /// Its audio is forwarded now.
    pub fn selected(&self) -> bool {
        self.selected_at.is_some()
    }

    fn update(&mut self, now: Instant) {
        let bucket = f32::from(std::mem::take(&mut self.peak));
        self.smoothed = 0.6 * self.smoothed + 0.4 * bucket;
        if bucket >= LOUD || self.smoothed >= LOUD {
            self.last_loud = Some(now);
            self.loud_since.get_or_insert(now);
        } else {
            self.loud_since = None;
        }
    }

    fn held(&self, now: Instant) -> bool {
        self.last_loud
            .is_some_and(|t| now.saturating_duration_since(t) <= HOLD)
    }
}

/// A room's current speakers.
#[derive(Debug, Clone)]
pub struct Selection<K> {
    /// In the order they got their seat.
    seats: Vec<K>,
    dominant: Option<K>,
    announced: Vec<K>,
    announced_at: Option<Instant>,
}

impl<K> Default for Selection<K> {
    fn default() -> Self {
        Self {
            seats: Vec::new(),
            dominant: None,
            announced: Vec::new(),
            announced_at: None,
        }
    }
}

impl<K: Copy + Eq> Selection<K> {
    /// One tick over all the room's voices (voices missing here are gone). Returns the list to
    /// announce when it changed since the last announcement and may go out now.
    pub fn tick(&mut self, voices: &mut [(K, &mut Voice)], now: Instant) -> Option<Vec<K>> {
        for (_, v) in voices.iter_mut() {
            v.update(now);
        }
        let find = |voices: &[(K, &mut Voice)], k: K| voices.iter().position(|(key, _)| *key == k);
        // Seats of voices gone or quiet for too long are freed.
        self.seats
            .retain(|k| find(voices, *k).is_some_and(|i| voices[i].1.held(now)));
        // Loud voices without a seat, loudest first.
        let mut challengers: Vec<usize> = (0..voices.len())
            .filter(|&i| voices[i].1.loud_since.is_some() && !self.seats.contains(&voices[i].0))
            .collect();
        challengers.sort_by(|&a, &b| voices[b].1.smoothed.total_cmp(&voices[a].1.smoothed));
        for c in challengers {
            if self.seats.len() < MAX_SPEAKERS {
                self.seats.push(voices[c].0);
                continue;
            }
            let challenger = &voices[c].1;
            if challenger
                .loud_since
                .is_none_or(|t| now.saturating_duration_since(t) < CHALLENGE)
            {
                continue;
            }
            // The quietest seat that has had the floor long enough.
            let weakest = self
                .seats
                .iter()
                .enumerate()
                .filter_map(|(s, k)| find(voices, *k).map(|i| (s, &voices[i].1)))
                .filter(|(_, v)| {
                    v.selected_at
                        .is_some_and(|t| now.saturating_duration_since(t) >= MIN_TENURE)
                })
                .min_by(|a, b| a.1.smoothed.total_cmp(&b.1.smoothed))
                .map(|(s, v)| (s, v.smoothed));
            if let Some((s, quietest)) = weakest
                && voices[c].1.smoothed > quietest + MARGIN
            {
                self.seats[s] = voices[c].0;
            }
        }
        for (k, v) in voices.iter_mut() {
            if self.seats.contains(k) {
                v.selected_at.get_or_insert(now);
            } else {
                v.selected_at = None;
            }
        }
        let loudness = |k: K| find(voices, k).map_or(0.0, |i| voices[i].1.smoothed);
        let loudest = self
            .seats
            .iter()
            .copied()
            .max_by(|a, b| loudness(*a).total_cmp(&loudness(*b)));
        self.dominant = match self.dominant {
            Some(d) if self.seats.contains(&d) => match loudest {
                Some(l) if l != d && loudness(l) > loudness(d) + DOMINANT_MARGIN => Some(l),
                _ => Some(d),
            },
            _ => loudest,
        };
        let mut list: Vec<K> = self.dominant.into_iter().collect();
        list.extend(
            self.seats
                .iter()
                .copied()
                .filter(|k| Some(*k) != self.dominant),
        );
        let too_soon = self
            .announced_at
            .is_some_and(|t| now.saturating_duration_since(t) < ANNOUNCE_GAP);
        if list == self.announced || too_soon {
            return None;
        }
        self.announced = list.clone();
        self.announced_at = Some(now);
        Some(list)
    }

    /// The current speakers, the dominant one first.
    pub fn announced(&self) -> &[K] {
        &self.announced
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A room of `n` voices driven tick by tick.
    struct Room {
        voices: Vec<Voice>,
        selection: Selection<usize>,
        now: Instant,
    }

    impl Room {
        fn new(n: usize) -> Self {
            Self {
                voices: vec![Voice::default(); n],
                selection: Selection::default(),
                now: Instant::now(),
            }
        }

        /// One tick in which voice `i` peaks at `levels[i]` (−dBov; `None`: no packet).
        fn tick(&mut self, levels: &[Option<u8>]) -> Option<Vec<usize>> {
            for (v, level) in self.voices.iter_mut().zip(levels) {
                if let Some(level) = level {
                    v.hear(score(&[0x80 | level]).unwrap());
                }
            }
            self.now += TICK;
            let mut refs: Vec<(usize, &mut Voice)> = self.voices.iter_mut().enumerate().collect();
            self.selection.tick(&mut refs, self.now)
        }

        fn run(&mut self, ticks: usize, levels: &[Option<u8>]) {
            for _ in 0..ticks {
                self.tick(levels);
            }
        }

        fn selected(&self) -> Vec<usize> {
            (0..self.voices.len())
                .filter(|&i| self.voices[i].selected())
                .collect()
        }
    }

    const SPEECH: Option<u8> = Some(25);
    const LOUDER: Option<u8> = Some(10);
    const SILENCE: Option<u8> = Some(127);

    #[test]
    fn the_level_byte_ignores_the_voice_bit() {
        assert_eq!(score(&[0x80 | 30]), Some(97));
        assert_eq!(score(&[30]), Some(97));
        assert_eq!(score(&[127]), Some(0));
        assert_eq!(score(&[0]), Some(127));
        assert_eq!(score(&[]), None);
    }

    #[test]
    fn a_first_word_gets_a_free_seat_at_once() {
        let mut room = Room::new(5);
        assert_eq!(
            room.tick(&[SILENCE; 5]),
            None,
            "nobody speaks: nothing to say"
        );
        let announced = room.tick(&[SILENCE, SPEECH, SILENCE, SILENCE, SILENCE]);
        assert_eq!(announced, Some(vec![1]));
        assert_eq!(room.selected(), vec![1]);
    }

    #[test]
    fn at_most_three_voices_are_forwarded_however_many_speak() {
        let mut room = Room::new(10);
        room.run(50, &[SPEECH; 10]);
        assert_eq!(room.selected().len(), MAX_SPEAKERS);
        assert_eq!(room.selection.announced().len(), MAX_SPEAKERS);
    }

    #[test]
    fn a_pause_between_sentences_keeps_the_seat_but_silence_frees_it() {
        let mut room = Room::new(2);
        room.run(10, &[SPEECH, SILENCE]);
        // One second of silence (DTX: no packets at all): still in.
        room.run(10, &[None, None]);
        assert_eq!(room.selected(), vec![0]);
        // Past the hold time: out, and the announcement says so.
        room.run(6, &[None, None]);
        assert!(room.selected().is_empty());
        assert!(room.selection.announced().is_empty());
    }

    #[test]
    fn a_louder_voice_displaces_the_quietest_only_after_a_while() {
        let mut room = Room::new(4);
        let quiet_talk = Some(45);
        room.run(20, &[SPEECH, SPEECH, quiet_talk, SILENCE]);
        assert_eq!(room.selected(), vec![0, 1, 2]);
        // A louder fourth voice starts: not in at the first packet (no free seat)...
        room.tick(&[SPEECH, SPEECH, quiet_talk, LOUDER]);
        assert_eq!(room.selected(), vec![0, 1, 2]);
        // ...but after the challenge time, in place of the quietest.
        room.run(5, &[SPEECH, SPEECH, quiet_talk, LOUDER]);
        assert_eq!(room.selected(), vec![0, 1, 3]);
    }

    #[test]
    fn similar_voices_do_not_flicker() {
        let mut room = Room::new(4);
        let mut changes = 0;
        // Four people talking at about the same loudness, each a little louder in turn.
        for t in 0..200 {
            let levels: Vec<Option<u8>> = (0..4)
                .map(|i| Some(if (t / 3) % 4 == i { 22 } else { 26 }))
                .collect();
            if room.tick(&levels).is_some() {
                changes += 1;
            }
        }
        assert_eq!(room.selected().len(), 3);
        assert!(changes <= 2, "{changes} announcements for a steady room");
    }

    #[test]
    fn the_dominant_speaker_changes_only_for_a_clearly_louder_one() {
        let mut room = Room::new(2);
        room.run(10, &[SPEECH, Some(27)]);
        assert_eq!(room.selection.announced().first(), Some(&0));
        // Slightly louder: stays.
        room.run(10, &[SPEECH, Some(24)]);
        assert_eq!(room.selection.announced().first(), Some(&0));
        // Clearly louder: takes over.
        room.run(10, &[SPEECH, LOUDER]);
        assert_eq!(room.selection.announced().first(), Some(&1));
    }

    #[test]
    fn a_departed_voice_frees_its_seat() {
        let mut room = Room::new(3);
        room.run(5, &[SPEECH, SPEECH, SPEECH]);
        let mut refs: Vec<(usize, &mut Voice)> =
            room.voices.iter_mut().enumerate().skip(1).collect();
        room.now += TICK * 3;
        let announced = room.selection.tick(&mut refs, room.now).unwrap();
        assert!(!announced.contains(&0));
    }

    #[test]
    fn announcements_are_spaced() {
        let mut room = Room::new(2);
        assert!(room.tick(&[SPEECH, SILENCE]).is_some());
        // The second voice comes in the very next tick: the list waits for the gap.
        assert!(room.tick(&[SPEECH, SPEECH]).is_none());
        assert_eq!(room.tick(&[SPEECH, SPEECH]).map(|l| l.len()), Some(2));
    }
}
