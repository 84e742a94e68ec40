//! Deadlines of the event loop, keyed by what they are for.
//!
//! Sans-IO: times are milliseconds on the loop's monotonic clock, passed in by the caller. The
//! loop sleeps exactly until [`Timers::next_deadline`] (no fixed tick), so an idle daemon never
//! wakes up.

use heapless::Vec as FixedVec;

/// The deadline table is full (raise the capacity in `limits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimersFull;

/// At most `N` deadlines, at most one per key, kept sorted (soonest first): `N` is small, so a
/// sorted array beats a heap and never allocates.
#[derive(Debug)]
pub struct Timers<K: Copy + Eq, const N: usize> {
    sorted: FixedVec<(u64, K), N>,
}

impl<K: Copy + Eq, const N: usize> Default for Timers<K, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Copy + Eq, const N: usize> Timers<K, N> {
    pub const fn new() -> Self {
        Timers {
            sorted: FixedVec::new(),
        }
    }

    /// Arms (or re-arms) the timer `key` to fire at `at_ms`.
    pub fn set(&mut self, key: K, at_ms: u64) -> Result<(), TimersFull> {
        self.cancel(key);
        let pos = self
            .sorted
            .iter()
            .position(|(t, _)| *t > at_ms)
            .unwrap_or(self.sorted.len());
        self.sorted
            .insert(pos, (at_ms, key))
            .map_err(|_| TimersFull)
    }

    /// Disarms `key`; returns whether it was armed.
    pub fn cancel(&mut self, key: K) -> bool {
        match self.sorted.iter().position(|(_, k)| *k == key) {
            Some(pos) => {
                self.sorted.remove(pos);
                true
            }
            None => false,
        }
    }

    /// When `key` fires, if armed.
    pub fn deadline(&self, key: K) -> Option<u64> {
        self.sorted.iter().find(|(_, k)| *k == key).map(|(t, _)| *t)
    }

    /// The soonest deadline.
    pub fn next_deadline(&self) -> Option<u64> {
        self.sorted.first().map(|(t, _)| *t)
    }

    /// How long the loop may sleep at `now_ms`: `None` = until an event arrives.
    pub fn timeout(&self, now_ms: u64) -> Option<std::time::Duration> {
        self.next_deadline()
            .map(|t| std::time::Duration::from_millis(t.saturating_sub(now_ms)))
    }

    /// Removes and returns the soonest timer that is due at `now_ms`; call until `None`.
    pub fn pop_expired(&mut self, now_ms: u64) -> Option<K> {
        match self.sorted.first() {
            Some(&(t, key)) if t <= now_ms => {
                self.sorted.remove(0);
                Some(key)
            }
            _ => None,
        }
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum T {
        A,
        B,
        C,
    }

    #[test]
    fn fires_in_deadline_order_and_only_when_due() {
        let mut t: Timers<T, 4> = Timers::new();
        t.set(T::B, 200).unwrap();
        t.set(T::A, 100).unwrap();
        t.set(T::C, 300).unwrap();
        assert_eq!(t.next_deadline(), Some(100));
        assert_eq!(t.pop_expired(99), None);
        assert_eq!(t.pop_expired(250), Some(T::A));
        assert_eq!(t.pop_expired(250), Some(T::B));
        assert_eq!(t.pop_expired(250), None);
        assert_eq!(t.next_deadline(), Some(300));
    }

    #[test]
    fn rearming_replaces_the_old_deadline() {
        let mut t: Timers<T, 4> = Timers::new();
        t.set(T::A, 100).unwrap();
        t.set(T::B, 150).unwrap();
        t.set(T::A, 500).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t.deadline(T::A), Some(500));
        assert_eq!(t.pop_expired(200), Some(T::B));
        assert_eq!(t.pop_expired(200), None);
    }

    #[test]
    fn cancel_and_capacity() {
        let mut t: Timers<T, 2> = Timers::new();
        t.set(T::A, 1).unwrap();
        t.set(T::B, 2).unwrap();
        assert_eq!(t.set(T::C, 3), Err(TimersFull));
        // Re-arming an existing key never needs room.
        assert_eq!(t.set(T::B, 5), Ok(()));
        assert!(t.cancel(T::A));
        assert!(!t.cancel(T::A));
        assert_eq!(t.next_deadline(), Some(5));
    }

    #[test]
    fn idle_loop_sleeps_forever_and_late_deadlines_give_zero() {
        let mut t: Timers<T, 2> = Timers::new();
        assert_eq!(t.timeout(1000), None);
        t.set(T::A, 1500).unwrap();
        assert_eq!(t.timeout(1000), Some(std::time::Duration::from_millis(500)));
        assert_eq!(t.timeout(2000), Some(std::time::Duration::ZERO));
    }
}
