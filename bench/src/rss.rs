//! Peak resident memory of the proxy and of PostgreSQL, sampled from /proc.
//!
//! PostgreSQL's processes share their buffer pool, so the sum of their VmRSS counts shared
//! pages once per process that touched them; the sum of Pss (from smaps_rollup) splits them
//! and is the memory really in use. Both are reported. Reading smaps_rollup walks each
//! process's page tables (about 1 ms per backend), so Pss is sampled only every
//! `PSS_EVERY` samples and at the end, to keep the watcher from loading the machine it measures.

use std::cell::Cell;
use std::fs;
use std::rc::Rc;
use std::time::Duration;

use crate::procfs;

/// Pss is read on every this many samples (and the last).
const PSS_EVERY: u64 = 20;

/// Maximum values over the samples, in KiB; `None` when never readable.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct MemoryPeaks {
    pub proxy_rss_max_kb: Option<u64>,
    /// The kernel's own high-water mark of the proxy (since it started).
    pub proxy_hwm_kb: Option<u64>,
    pub pg_rss_sum_max_kb: Option<u64>,
    pub pg_pss_sum_max_kb: Option<u64>,
    pub pg_processes_max: Option<u64>,
}

fn max_into(slot: &mut Option<u64>, value: Option<u64>) {
    if let Some(value) = value {
        *slot = Some(slot.map_or(value, |old| old.max(value)));
    }
}

/// Samples every `every` until `stop`. `postmaster` limits PostgreSQL to that server's
/// processes; without it every process named `postgres` counts.
pub(crate) async fn watch(
    proxy: Option<u32>,
    postgres: bool,
    postmaster: Option<u32>,
    every: Duration,
    stop: Rc<Cell<bool>>,
) -> MemoryPeaks {
    let mut peaks = MemoryPeaks::default();
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for sample in 0u64.. {
        // The last sample is taken after `stop`, so a short run still gets one.
        let stopping = stop.get();
        if let Some(pid) = proxy {
            let status = fs::read_to_string(format!("/proc/{pid}/status")).ok();
            let status = status.as_deref().unwrap_or_default();
            max_into(&mut peaks.proxy_rss_max_kb, procfs::field(status, "VmRSS:"));
            max_into(&mut peaks.proxy_hwm_kb, procfs::field(status, "VmHWM:"));
        }
        if postgres {
            let with_pss = stopping || sample % PSS_EVERY == 0;
            let (count, rss, pss) = postgres_sums(postmaster, with_pss);
            if count > 0 {
                max_into(&mut peaks.pg_processes_max, Some(count));
                max_into(&mut peaks.pg_rss_sum_max_kb, Some(rss));
                max_into(&mut peaks.pg_pss_sum_max_kb, pss);
            }
        }
        if stopping {
            return peaks;
        }
        ticks.tick().await;
    }
    peaks
}

/// (processes, sum of VmRSS, sum of Pss if asked) of PostgreSQL's processes.
fn postgres_sums(postmaster: Option<u32>, with_pss: bool) -> (u64, u64, Option<u64>) {
    let (mut count, mut rss, mut pss) = (0, 0, 0);
    for pid in procfs::postgres_pids(postmaster) {
        let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) else {
            continue;
        };
        count += 1;
        rss += procfs::field(&status, "VmRSS:").unwrap_or(0);
        if with_pss {
            let rollup = fs::read_to_string(format!("/proc/{pid}/smaps_rollup"));
            pss += procfs::field(&rollup.unwrap_or_default(), "Pss:").unwrap_or(0);
        }
    }
    (count, rss, with_pss.then_some(pss))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_this_process() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let stop = Rc::new(Cell::new(true));
        let me = std::process::id();
        let peaks = runtime.block_on(watch(Some(me), false, None, Duration::from_millis(5), stop));
        assert!(peaks.proxy_rss_max_kb.unwrap() > 0);
        assert!(peaks.proxy_hwm_kb.unwrap() >= peaks.proxy_rss_max_kb.unwrap());
    }
}
