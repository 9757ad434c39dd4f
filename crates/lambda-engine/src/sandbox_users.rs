//! The users execution environments run as. When the engine runs as root, each
//! environment gets a uid of its own from a reserved range (its group the same number), so
//! the kernel's per-user process count (RLIMIT_NPROC) counts that environment alone, its
//! files and signals are its own, and no two environments share a user. Uids are handed
//! out round-robin over the range, so one comes back only after every other was used.
//! Without root, or when the range is not mapped in this user namespace (a rootless
//! container), every environment runs as one shared user.

use parking_lot::Mutex;
use std::collections::HashSet;
use std::sync::Arc;

/// How many uids the range holds.
pub const RANGE_SIZE: u32 = 65_536;
/// `nobody`, the shared user when the range cannot be used.
const NOBODY: (u32, u32) = (65_534, 65_534);

/// Who environments run as.
#[derive(Debug)]
pub enum SandboxUsers {
    /// The engine's own user (not root): every environment runs as it.
    Engine,
    /// One user for every environment (root, without a usable range).
    Shared((u32, u32)),
    /// A uid of its own per environment.
    Dedicated(Arc<UidRange>),
}

#[derive(Debug)]
pub struct UidRange {
    first: u32,
    state: Mutex<RangeState>,
}

#[derive(Debug, Default)]
struct RangeState {
    next: u32,
    in_use: HashSet<u32>,
}

/// An environment's user, returned to the range when dropped.
#[derive(Debug)]
pub struct UserLease {
    pub uid: u32,
    pub gid: u32,
    pub dedicated: bool,
    range: Option<Arc<UidRange>>,
}

impl Drop for UserLease {
    fn drop(&mut self) {
        if let Some(range) = &self.range {
            range.state.lock().in_use.remove(&self.uid);
        }
    }
}

impl SandboxUsers {
    /// Decides who environments run as: a range from `first_uid` when root and the range is
    /// mapped here, else nobody when root, else this user.
    pub fn detect(first_uid: u32) -> Self {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Self::Engine;
        }
        let map = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
        let last = first_uid.checked_add(RANGE_SIZE - 1);
        match last {
            Some(last) if mapped(&map, first_uid, last) && mapped_gids(first_uid, last) => {
                Self::Dedicated(Arc::new(UidRange {
                    first: first_uid,
                    state: Mutex::new(RangeState::default()),
                }))
            }
            _ => {
                tracing::warn!(
                    first_uid,
                    "uids {first_uid}..{} are not mapped in this user namespace: every execution environment runs as nobody, \
                     sharing one process count; set LAMBDA_STEPS_ENGINE_FIRST_UID to the start of {RANGE_SIZE} mapped uids",
                    first_uid.saturating_add(RANGE_SIZE - 1)
                );
                Self::Shared(NOBODY)
            }
        }
    }

    /// A user for a new environment; `None` when every uid of the range is in use.
    pub fn lease(&self) -> Option<UserLease> {
        match self {
            Self::Engine => Some(UserLease {
                // SAFETY: getuid and getgid have no preconditions.
                uid: unsafe { libc::getuid() },
                gid: unsafe { libc::getgid() },
                dedicated: false,
                range: None,
            }),
            Self::Shared((uid, gid)) => Some(UserLease {
                uid: *uid,
                gid: *gid,
                dedicated: false,
                range: None,
            }),
            Self::Dedicated(range) => {
                let mut state = range.state.lock();
                for _ in 0..RANGE_SIZE {
                    let uid = range.first + state.next;
                    state.next = (state.next + 1) % RANGE_SIZE;
                    if state.in_use.insert(uid) {
                        return Some(UserLease {
                            uid,
                            gid: uid,
                            dedicated: true,
                            range: Some(range.clone()),
                        });
                    }
                }
                None
            }
        }
    }

    /// The uid and gid to switch to, when it differs from the engine's (root).
    pub fn switches(&self) -> bool {
        !matches!(self, Self::Engine)
    }

    /// A user the engine checks reachability as: any uid of the range is as good as
    /// another, since none owns anything.
    pub fn representative(&self) -> Option<(u32, u32)> {
        match self {
            Self::Engine => None,
            Self::Shared(user) => Some(*user),
            Self::Dedicated(range) => Some((range.first, range.first)),
        }
    }

    /// For the start log.
    pub fn describe(&self) -> String {
        match self {
            Self::Engine => "the engine's own user (not root: no other user to switch to)".into(),
            Self::Shared((uid, _)) => format!("uid {uid} for every environment"),
            Self::Dedicated(range) => format!(
                "a uid of its own per environment, from {} to {}",
                range.first,
                range.first + (RANGE_SIZE - 1)
            ),
        }
    }
}

/// Whether `/proc/self/uid_map` (lines of `inside outside count`) maps all of first..=last.
fn mapped(map: &str, first: u32, last: u32) -> bool {
    map.lines().any(|line| {
        let fields: Vec<u64> = line.split_whitespace().filter_map(|f| f.parse().ok()).collect();
        matches!(fields.as_slice(), [inside, _, count] if *inside <= u64::from(first) && u64::from(last) < inside + count)
    })
}

fn mapped_gids(first: u32, last: u32) -> bool {
    let map = std::fs::read_to_string("/proc/self/gid_map").unwrap_or_default();
    mapped(&map, first, last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_is_usable_only_where_the_user_namespace_maps_all_of_it() {
        let host = "         0          0 4294967295\n";
        assert!(mapped(host, 1_879_048_192, 1_879_048_192 + RANGE_SIZE - 1));
        let rootless = "         0       1000          1\n         1     100000      65536\n";
        assert!(!mapped(rootless, 1_879_048_192, 1_879_048_192 + RANGE_SIZE - 1));
        assert!(mapped(rootless, 1, 65_536));
        assert!(!mapped(rootless, 60_000, 60_000 + RANGE_SIZE - 1));
    }

    #[test]
    fn each_lease_is_a_uid_no_other_environment_holds() {
        let users = SandboxUsers::Dedicated(Arc::new(UidRange {
            first: 5000,
            state: Mutex::new(RangeState::default()),
        }));
        let a = users.lease().unwrap();
        let b = users.lease().unwrap();
        assert_ne!(a.uid, b.uid);
        assert_eq!((a.uid, a.gid), (5000, 5000));
        assert!(a.dedicated);
        let a_uid = a.uid;
        drop(a);
        // Round-robin: a returned uid is not the next one handed out.
        assert_ne!(users.lease().unwrap().uid, a_uid);
    }
}
