//! The disk guard's rule: when ingest must refuse new payloads because the database or the
//! digest queue has grown to the bound an operator set, so that a tracker that falls behind,
//! or a flood, cannot fill the disk. The extension measures; this decides and explains.

/// The bounds; 0 turns one off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapacityLimits {
    /// `crashcache.max_database_size`, in bytes.
    pub max_database_bytes: u64,
    /// `crashcache.max_queued`, in payloads.
    pub max_queued: u64,
}

impl CapacityLimits {
    /// Whether any bound is set (else nothing needs measuring).
    pub fn any(&self) -> bool {
        self.max_database_bytes > 0 || self.max_queued > 0
    }
}

/// Why ingest refuses, or `None` while both measures are under their bounds.
pub fn refusal(limits: CapacityLimits, database_bytes: u64, queued: u64) -> Option<String> {
    const MB: u64 = 1024 * 1024;
    if limits.max_database_bytes > 0 && database_bytes >= limits.max_database_bytes {
        return Some(format!(
            "the database holds {} MB, at its bound crashcache.max_database_size of {} MB: \
             new payloads are refused until retention or an operator makes room",
            database_bytes / MB,
            limits.max_database_bytes / MB
        ));
    }
    if limits.max_queued > 0 && queued >= limits.max_queued {
        return Some(format!(
            "{queued} payloads wait to be digested, at the bound crashcache.max_queued of {}: \
             new payloads are refused until the digest catches up",
            limits.max_queued
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{refusal, CapacityLimits};

    const OFF: CapacityLimits = CapacityLimits {
        max_database_bytes: 0,
        max_queued: 0,
    };

    #[test]
    fn off_refuses_nothing() {
        assert!(!OFF.any());
        assert_eq!(refusal(OFF, u64::MAX, u64::MAX), None);
    }

    #[test]
    fn each_bound_refuses_from_where_it_is_reached() {
        let limits = CapacityLimits {
            max_database_bytes: 100 << 20,
            max_queued: 1000,
        };
        assert!(limits.any());
        assert_eq!(refusal(limits, (100 << 20) - 1, 999), None);
        let full = refusal(limits, 100 << 20, 0).unwrap();
        assert!(
            full.starts_with("the database holds 100 MB, at its bound"),
            "{full}"
        );
        let behind = refusal(limits, 0, 1000).unwrap();
        assert!(
            behind.starts_with("1000 payloads wait to be digested"),
            "{behind}"
        );
    }
}
