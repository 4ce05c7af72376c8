//! Who used the CPUs during a run: the machine, loadgen, the proxy and PostgreSQL, from /proc.
//!
//! Two snapshots, before and after. A process that appears in between counts from zero; one
//! that exits in between is lost (PostgreSQL's long-lived backends and workers are not). What
//! the machine spent beyond these three is `other`: the kernel's network work and any
//! neighbour, such as a compiler, that would make the figures of the run unreliable.

use std::fs;
use std::time::Instant;

use crate::procfs;

/// Clock ticks per second of /proc/stat and /proc/PID/stat (USER_HZ, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU ticks at one moment.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    at: Instant,
    busy: u64,
    cores: usize,
    loadgen: u64,
    proxy: u64,
    postgres: Vec<(u32, Role, u64)>,
}

/// What a PostgreSQL process does, from its title.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Serves a client: the proxy's ingest calls (and loadgen's few measuring queries).
    Backend,
    /// pg_crashcache's digest workers.
    Digest,
    /// The postmaster, WAL writer, checkpointer, autovacuum, …
    Background,
}

impl Role {
    fn of(title: &str) -> Role {
        if title.contains("digest worker") {
            Role::Digest
        } else if title.contains(")") || title.contains("[local]") {
            Role::Backend
        } else {
            Role::Background
        }
    }
}

/// PostgreSQL's share, split by role, in percent of one core.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PostgresUse {
    pub total: f64,
    pub backends: f64,
    pub digest: f64,
    pub background: f64,
}

/// Average use over the run, in percent of one core (so 200 is two full cores).
#[derive(Debug, Clone, Copy)]
pub(crate) struct CpuUse {
    pub cores: usize,
    pub machine: f64,
    pub loadgen: f64,
    pub proxy: Option<f64>,
    pub postgres: Option<PostgresUse>,
    pub other: f64,
}

/// Reads the counters now. `postmaster` selects PostgreSQL's processes.
pub(crate) fn snapshot(proxy: Option<u32>, postmaster: Option<u32>) -> Snapshot {
    let stat = fs::read_to_string("/proc/stat").unwrap_or_default();
    let busy = stat
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("cpu "))
        .map(|fields| {
            let n: Vec<u64> = fields
                .split_whitespace()
                .filter_map(|f| f.parse().ok())
                .collect();
            // user nice system idle iowait irq softirq steal: all but idle and iowait.
            n.iter().take(8).sum::<u64>() - n.get(3).unwrap_or(&0) - n.get(4).unwrap_or(&0)
        })
        .unwrap_or(0);
    let cores = stat
        .lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .count();
    let postgres = match postmaster {
        Some(pm) => procfs::postgres_pids(Some(pm))
            .into_iter()
            .filter_map(|pid| {
                let ticks = procfs::cpu_ticks(pid)?;
                Some((pid, Role::of(&procfs::title(pid)), ticks))
            })
            .collect(),
        None => Vec::new(),
    };
    Snapshot {
        at: Instant::now(),
        busy,
        cores: cores.max(1),
        loadgen: procfs::cpu_ticks(std::process::id()).unwrap_or(0),
        proxy: proxy.and_then(procfs::cpu_ticks).unwrap_or(0),
        postgres,
    }
}

/// The average use between two snapshots.
pub(crate) fn between(before: &Snapshot, after: &Snapshot, proxy: bool) -> CpuUse {
    let seconds = (after.at - before.at).as_secs_f64().max(1e-9);
    let percent = |ticks: u64| ticks as f64 / TICKS_PER_SECOND / seconds * 100.0;
    let mut by_role = [0u64; 3];
    for &(pid, role, now) in &after.postgres {
        let then = before.postgres.iter().find(|(p, _, _)| *p == pid);
        by_role[role as usize] += now.saturating_sub(then.map_or(0, |(_, _, t)| *t));
    }
    let machine = percent(after.busy.saturating_sub(before.busy));
    let loadgen = percent(after.loadgen.saturating_sub(before.loadgen));
    let proxy_use = proxy.then(|| percent(after.proxy.saturating_sub(before.proxy)));
    let pg_use = (!after.postgres.is_empty()).then(|| PostgresUse {
        total: percent(by_role.iter().sum()),
        backends: percent(by_role[Role::Backend as usize]),
        digest: percent(by_role[Role::Digest as usize]),
        background: percent(by_role[Role::Background as usize]),
    });
    let known = loadgen + proxy_use.unwrap_or(0.0) + pg_use.map_or(0.0, |p| p.total);
    CpuUse {
        cores: after.cores,
        machine,
        loadgen,
        proxy: proxy_use,
        postgres: pg_use,
        other: (machine - known).max(0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_from_titles() {
        assert_eq!(
            Role::of("postgres: pg_crashcache digest worker 1 "),
            Role::Digest
        );
        assert_eq!(
            Role::of("postgres: postgres crashcache 127.0.0.1(44050) idle"),
            Role::Backend
        );
        assert_eq!(
            Role::of("postgres: postgres crashcache [local] SELECT"),
            Role::Backend
        );
        assert_eq!(Role::of("postgres: walwriter "), Role::Background);
        assert_eq!(
            Role::of("/usr/lib/postgresql/15/bin/postgres -D /x"),
            Role::Background
        );
    }

    #[test]
    fn counts_this_process_and_the_machine() {
        let me = std::process::id();
        let before = snapshot(Some(me), None);
        let spin = Instant::now();
        let mut x = 0u64;
        while spin.elapsed().as_millis() < 200 {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        assert_ne!(x, 1);
        let after = snapshot(Some(me), None);
        let used = between(&before, &after, true);
        assert!(used.loadgen > 30.0, "{used:?}");
        assert!(used.machine >= used.loadgen * 0.5, "{used:?}");
        assert!(used.cores >= 1);
    }
}
