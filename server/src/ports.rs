//! Hands out UDP ports for media. webrtc 0.21 binds one socket per peer connection (there is no
//! UDP mux), so each participant takes one port from the configured range while connected.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use crate::config::PortRange;

/// Pure bookkeeping of which ports in a range are taken. Hands out the lowest free port after
/// the last one given, so a port just released is not reused at once (late packets from the
/// previous owner find nothing).
#[derive(Debug)]
pub struct PortPool {
    range: PortRange,
    taken: BTreeSet<u16>,
    next: u16,
}

impl PortPool {
    pub fn new(range: PortRange) -> Self {
        let next = match range {
            PortRange::Any => 0,
            PortRange::Range { first, .. } => first,
        };
        Self {
            range,
            taken: BTreeSet::new(),
            next,
        }
    }

    /// Takes a port; `Some(0)` means "let the OS choose". `None` when the range is exhausted.
    pub fn take(&mut self) -> Option<u16> {
        let PortRange::Range { first, last } = self.range else {
            return Some(0);
        };
        let size = u32::from(last - first) + 1;
        for i in 0..size {
            let offset = (u32::from(self.next.saturating_sub(first)) + i) % size;
            // offset < size <= 65535, and first + offset <= last.
            let port = first + offset as u16;
            if self.taken.insert(port) {
                self.next = if port == last { first } else { port + 1 };
                return Some(port);
            }
        }
        None
    }

    pub fn release(&mut self, port: u16) {
        self.taken.remove(&port);
    }

    pub fn in_use(&self) -> usize {
        self.taken.len()
    }
}

/// A port taken from a shared pool, returned when dropped.
pub struct PortLease {
    pool: Arc<Mutex<PortPool>>,
    pub port: u16,
}

impl PortLease {
    pub fn take(pool: &Arc<Mutex<PortPool>>) -> Option<Self> {
        let port = pool.lock().unwrap_or_else(|p| p.into_inner()).take()?;
        Some(Self {
            pool: pool.clone(),
            port,
        })
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        if self.port != 0 {
            self.pool
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .release(self.port);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hands_out_each_port_once_then_runs_out() {
        let mut pool = PortPool::new(PortRange::Range {
            first: 5000,
            last: 5002,
        });
        assert_eq!(pool.take(), Some(5000));
        assert_eq!(pool.take(), Some(5001));
        assert_eq!(pool.take(), Some(5002));
        assert_eq!(pool.take(), None);
        pool.release(5001);
        assert_eq!(pool.take(), Some(5001));
        assert_eq!(pool.in_use(), 3);
    }

    #[test]
    fn a_released_port_is_not_reused_at_once() {
        let mut pool = PortPool::new(PortRange::Range {
            first: 5000,
            last: 5009,
        });
        assert_eq!(pool.take(), Some(5000));
        pool.release(5000);
        assert_eq!(pool.take(), Some(5001));
    }

    #[test]
    fn the_top_of_the_range_wraps() {
        let mut pool = PortPool::new(PortRange::Range {
            first: 65534,
            last: 65535,
        });
        assert_eq!(pool.take(), Some(65534));
        assert_eq!(pool.take(), Some(65535));
        pool.release(65534);
        assert_eq!(pool.take(), Some(65534));
    }

    #[test]
    fn any_means_os_chosen() {
        let mut pool = PortPool::new(PortRange::Any);
        assert_eq!(pool.take(), Some(0));
        assert_eq!(pool.take(), Some(0));
    }

    #[test]
    fn leases_return_their_port() {
        let pool = Arc::new(Mutex::new(PortPool::new(PortRange::Range {
            first: 7000,
            last: 7000,
        })));
        let lease = PortLease::take(&pool).expect("a port");
        assert!(PortLease::take(&pool).is_none());
        drop(lease);
        assert!(PortLease::take(&pool).is_some());
    }
}
