//! Which stream each recent invocation wrote to, by group and request id: a reader looking
//! for one request's lines (the service that embeds the engine, after every Invoke) reads
//! that one stream instead of every stream of the group active in the invocation's window
//! (one per execution environment: 64 of them for a busy function). Bounded: the oldest
//! entries are forgotten first, and a request not found here is searched for across the
//! group as before.

use std::collections::{HashMap, VecDeque};

use parking_lot::Mutex;

/// How many requests are remembered, across every group.
const REMEMBERED: usize = 16_384;

#[derive(Default)]
pub struct RecentRequests(Mutex<Inner>);

#[derive(Default)]
struct Inner {
    streams: HashMap<(String, String), String>,
    order: VecDeque<(String, String)>,
}

impl RecentRequests {
    /// `request_id` of `group` writes to `stream`.
    pub fn note(&self, group: &str, request_id: &str, stream: &str) {
        let mut inner = self.0.lock();
        let key = (group.to_string(), request_id.to_string());
        if inner.streams.insert(key.clone(), stream.to_string()).is_none() {
            inner.order.push_back(key);
        }
        while inner.order.len() > REMEMBERED {
            if let Some(oldest) = inner.order.pop_front() {
                inner.streams.remove(&oldest);
            }
        }
    }

    /// The stream `request_id` of `group` wrote to, when it is remembered.
    pub fn stream_of(&self, group: &str, request_id: &str) -> Option<String> {
        self.0
            .lock()
            .streams
            .get(&(group.to_string(), request_id.to_string()))
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_requests_are_forgotten_first() {
        let recent = RecentRequests::default();
        for i in 0..=REMEMBERED {
            recent.note("/aws/lambda/f", &format!("r{i}"), &format!("s{}", i % 3));
        }
        assert_eq!(recent.stream_of("/aws/lambda/f", "r0"), None);
        assert_eq!(recent.stream_of("/aws/lambda/f", "r1").as_deref(), Some("s1"));
        assert_eq!(recent.stream_of("/aws/lambda/g", "r1"), None);
        assert_eq!(recent.0.lock().streams.len(), REMEMBERED);
    }
}
