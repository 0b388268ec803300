//! Handing a participant's media over from a dropped signaling connection to the connection that
//! resumes it, so a Wi-Fi blip costs no new peer connection and no renegotiation for the others.
//!
//! The old connection's task *gives* its media when the room tells it a resume took its seat;
//! the new connection's task *claims* it right after being let in. Either may come first: a gift
//! waits (parked) for a claim, a claim waits briefly for a gift. What nobody takes is dropped,
//! and the value's own `Drop` releases it (the engine closes the peer connection).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::oneshot;

enum Slot<T> {
    /// A new connection waits for the old one's media.
    Waiting(u64, oneshot::Sender<T>),
    /// The old connection's media waits for the new one.
    Parked(u64, T),
}

/// Pending handovers, by participant id. Holds nothing about anyone once a handover is done.
pub struct Handoffs<T> {
    slots: Mutex<HashMap<String, Slot<T>>>,
    tickets: AtomicU64,
}

impl<T> Default for Handoffs<T> {
    fn default() -> Self {
        Self {
            slots: Mutex::new(HashMap::new()),
            tickets: AtomicU64::new(1),
        }
    }
}

/// A parked gift, to take back if nobody claims it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

impl<T> Handoffs<T> {
    fn ticket(&self) -> u64 {
        self.tickets.fetch_add(1, Ordering::Relaxed)
    }

    /// Gives `id`'s media to the connection that claims it. `None` when a waiting claim took it
    /// at once; otherwise it is parked until [`Self::take_back`] (or a claim).
    pub fn give(&self, id: &str, value: T) -> Option<Ticket> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let value = match slots.remove(id) {
            Some(Slot::Waiting(_, tx)) => match tx.send(value) {
                Ok(()) => return None,
                // The claim gave up meanwhile.
                Err(value) => value,
            },
            // An older gift nobody took: replaced (and released) by this one.
            Some(Slot::Parked(..)) | None => value,
        };
        let ticket = self.ticket();
        slots.insert(id.to_owned(), Slot::Parked(ticket, value));
        Some(Ticket(ticket))
    }

    /// Takes a parked gift back if it is still there (nobody claimed it in time).
    pub fn take_back(&self, id: &str, ticket: Ticket) -> Option<T> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        match slots.get(id) {
            Some(Slot::Parked(t, _)) if *t == ticket.0 => match slots.remove(id) {
                Some(Slot::Parked(_, value)) => Some(value),
                _ => None,
            },
            _ => None,
        }
    }

    /// Claims `id`'s media: at once if it was given, or when it is given within `within`.
    pub async fn claim(&self, id: &str, within: Duration) -> Option<T> {
        let (ticket, rx) = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(Slot::Parked(..)) = slots.get(id)
                && let Some(Slot::Parked(_, value)) = slots.remove(id)
            {
                return Some(value);
            }
            let (tx, rx) = oneshot::channel();
            let ticket = self.ticket();
            slots.insert(id.to_owned(), Slot::Waiting(ticket, tx));
            (ticket, rx)
        };
        if let Ok(Ok(value)) = tokio::time::timeout(within, rx).await {
            return Some(value);
        }
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        match slots.get(id) {
            Some(Slot::Waiting(t, _)) if *t == ticket => {
                slots.remove(id);
                None
            }
            // Given right as the wait ended.
            Some(Slot::Parked(..)) => match slots.remove(id) {
                Some(Slot::Parked(_, value)) => Some(value),
                _ => None,
            },
            _ => None,
        }
    }

    /// Drops whatever is parked for `id` (a resume that starts its media over).
    pub fn discard(&self, id: &str) -> Option<T> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        match slots.get(id) {
            Some(Slot::Parked(..)) => match slots.remove(id) {
                Some(Slot::Parked(_, value)) => Some(value),
                _ => None,
            },
            _ => None,
        }
    }

    /// Handovers pending (tests).
    pub fn pending(&self) -> usize {
        self.slots.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Duration = Duration::from_millis(200);

    #[tokio::test]
    async fn a_gift_before_the_claim_is_parked_and_claimed() {
        let h = Handoffs::default();
        assert!(h.give("p", 1).is_some());
        assert_eq!(h.claim("p", WAIT).await, Some(1));
        assert_eq!(h.pending(), 0);
    }

    #[tokio::test]
    async fn a_claim_before_the_gift_waits_for_it() {
        let h = std::sync::Arc::new(Handoffs::default());
        let claimer = {
            let h = h.clone();
            tokio::spawn(async move { h.claim("p", Duration::from_secs(5)).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(h.give("p", 7), None, "delivered to the waiting claim");
        assert_eq!(claimer.await.unwrap(), Some(7));
        assert_eq!(h.pending(), 0);
    }

    #[tokio::test]
    async fn an_unclaimed_gift_is_taken_back_and_a_late_claim_finds_nothing() {
        let h = Handoffs::default();
        let ticket = h.give("p", 3).unwrap();
        assert_eq!(h.take_back("p", ticket), Some(3));
        assert_eq!(h.take_back("p", ticket), None);
        assert_eq!(h.claim("p", WAIT).await, None);
        assert_eq!(
            h.pending(),
            0,
            "a claim that timed out leaves nothing behind"
        );
    }

    #[tokio::test]
    async fn a_newer_gift_replaces_an_older_one_and_the_old_ticket_is_void() {
        let h = Handoffs::default();
        let old = h.give("p", 1).unwrap();
        let new = h.give("p", 2).unwrap();
        assert_eq!(h.take_back("p", old), None);
        assert_eq!(h.take_back("p", new), Some(2));
    }

    #[tokio::test]
    async fn gifts_are_per_participant_and_discard_drops_only_theirs() {
        let h = Handoffs::default();
        h.give("a", 1);
        h.give("b", 2);
        assert_eq!(h.discard("a"), Some(1));
        assert_eq!(h.discard("a"), None);
        assert_eq!(h.claim("b", WAIT).await, Some(2));
    }
}
