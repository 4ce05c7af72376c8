//! Reading /proc: process relations, CPU ticks and the `Name:  value` fields of its files.

use std::fs;

/// The fields of /proc/PID/stat after the command name (which may hold spaces and
/// parentheses, so the split is at the last `)`); index 0 is the state, field 3 of stat(5).
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(
        stat.rsplit_once(')')?
            .1
            .split_whitespace()
            .map(str::to_string)
            .collect(),
    )
}

/// The parent process of `pid` (field 4 of stat(5)).
pub(crate) fn parent_of(pid: u32) -> Option<u32> {
    stat_fields(pid)?.get(1)?.parse().ok()
}

/// utime + stime of a process with its threads, in clock ticks (fields 14 and 15).
pub(crate) fn cpu_ticks(pid: u32) -> Option<u64> {
    let fields = stat_fields(pid)?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

fn all_pids() -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .collect()
}

/// PostgreSQL's processes: the postmaster and its children, or without a postmaster every
/// process named `postgres`.
pub(crate) fn postgres_pids(postmaster: Option<u32>) -> Vec<u32> {
    match postmaster {
        Some(pm) => all_pids()
            .into_iter()
            .filter(|&pid| pid == pm || parent_of(pid) == Some(pm))
            .collect(),
        None => all_pids()
            .into_iter()
            .filter(|pid| {
                fs::read_to_string(format!("/proc/{pid}/comm"))
                    .is_ok_and(|c| c.trim() == "postgres")
            })
            .collect(),
    }
}

/// The command line, which PostgreSQL rewrites into its process title
/// (`postgres: USER DB HOST(PORT) STATE`, `postgres: walwriter`, …).
pub(crate) fn title(pid: u32) -> String {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    String::from_utf8_lossy(&raw).replace('\0', " ")
}

/// The number after `name` on its line (`VmRSS:   1234 kB` → 1234).
pub(crate) fn field(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields() {
        let status = "Name:\tpostgres\nPPid:\t17\nVmHWM:\t   2048 kB\nVmRSS:\t   1024 kB\n";
        assert_eq!(field(status, "VmRSS:"), Some(1024));
        assert_eq!(field(status, "VmHWM:"), Some(2048));
        assert_eq!(field(status, "Pss:"), None);
    }

    #[test]
    fn knows_this_process() {
        let me = std::process::id();
        assert_eq!(parent_of(me), Some(std::os::unix::process::parent_id()));
        assert!(cpu_ticks(me).is_some());
        let parent = std::os::unix::process::parent_id();
        assert!(postgres_pids(Some(parent)).contains(&me));
    }
}
