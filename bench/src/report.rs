//! The figures of a run: a readable table on standard output and one `RESULT {json}` line.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{json, Map, Value};

use crate::cli::Config;
use crate::cpu::CpuUse;
use crate::load::LoadStats;
use crate::measure::Queryable;
use crate::rss::MemoryPeaks;

/// How the digest kept up, from the project's event count and the queue depth.
#[derive(Debug, Clone)]
pub(crate) struct DigestFigures {
    /// Events digested from the start until the queue drained (or the wait gave up).
    pub events: i64,
    pub events_during_load: i64,
    /// Events digested per second of load.
    pub per_s_loaded: f64,
    /// Events per second from the start until the queue drained.
    pub per_s_to_drain: f64,
    pub drained: bool,
    /// From the end of the load until the queue was empty (or the wait gave up).
    pub drain: Duration,
    pub queue_max: i64,
    pub queue_at_load_end: i64,
    /// The queue's growth over the second half of the load, payloads per second.
    pub queue_growth_per_s: Option<f64>,
}

/// On-disk bytes per digested event, after the drain.
#[derive(Debug, Clone)]
pub(crate) struct StorageFigures {
    pub events: i64,
    pub schema_bytes_delta: i64,
    pub archive_bytes_delta: i64,
    pub schema_bytes_total: i64,
}

impl StorageFigures {
    fn per_event(&self, bytes: i64) -> Option<f64> {
        (self.events > 0).then(|| bytes as f64 / self.events as f64)
    }
}

/// Everything a run measured; the parts after `load` need `--database-url`.
pub(crate) struct Report {
    pub config: Config,
    pub load: LoadStats,
    pub elapsed: Duration,
    /// CPU use during the load (not the drain).
    pub cpu: CpuUse,
    pub digest: Option<DigestFigures>,
    pub queryable: Option<Queryable>,
    pub memory: Option<MemoryPeaks>,
    pub storage: Option<StorageFigures>,
    /// Measurements that failed or figures to read with care.
    pub notes: Vec<String>,
}

fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

fn ms(histogram: &Histogram<u64>, quantile: f64) -> Option<f64> {
    (!histogram.is_empty()).then(|| round(histogram.value_at_quantile(quantile) as f64 / 1000.0, 2))
}

fn mb(kb: Option<u64>) -> Option<f64> {
    kb.map(|kb| round(kb as f64 / 1024.0, 1))
}

impl Report {
    fn per_second(&self, count: u64) -> f64 {
        round(count as f64 / self.elapsed.as_secs_f64().max(1e-9), 1)
    }

    /// The machine-readable figures.
    pub(crate) fn json(&self) -> Value {
        let load = &self.load;
        let mut statuses = Map::new();
        for (status, count) in &load.statuses {
            statuses.insert(status.to_string(), json!(count));
        }
        if load.timeouts > 0 {
            statuses.insert("timeout".into(), json!(load.timeouts));
        }
        if load.errors > 0 {
            statuses.insert("error".into(), json!(load.errors));
        }
        let mut out = json!({
            "label": self.config.label,
            "target": self.config.target.name(),
            "mode": if self.config.rate.is_some() { "open" } else { "closed" },
            "rate": self.config.rate.unwrap_or(0.0),
            "connections": self.config.connections,
            "elapsed_s": round(self.elapsed.as_secs_f64(), 3),
            "requests": load.sent,
            "accepted": load.accepted(),
            "requests_per_s": self.per_second(load.sent),
            "accepted_per_s": self.per_second(load.accepted()),
            "statuses": statuses,
            "latency_ms": {
                "p50": ms(&load.latency, 0.5), "p90": ms(&load.latency, 0.9),
                "p99": ms(&load.latency, 0.99), "max": ms(&load.latency, 1.0),
            },
            "body_bytes_mean": (load.sent > 0).then(|| load.bytes / load.sent),
            "cpu_pct": {
                "cores": self.cpu.cores, "capacity": 100 * self.cpu.cores, "machine": round(self.cpu.machine, 0),
                "loadgen": round(self.cpu.loadgen, 0), "proxy": self.cpu.proxy.map(|p| round(p, 0)),
                "postgres": self.cpu.postgres.map(|p| round(p.total, 0)),
                "postgres_backends": self.cpu.postgres.map(|p| round(p.backends, 0)),
                "postgres_digest": self.cpu.postgres.map(|p| round(p.digest, 0)),
                "postgres_background": self.cpu.postgres.map(|p| round(p.background, 0)), "other": round(self.cpu.other, 0),
            },
            "gzipped": load.gzipped,
            "with_session": load.with_session,
            "late": load.late,
            "unsent": load.unsent,
            "schedule_lag_ms": {"p99": ms(&load.lag, 0.99), "max": ms(&load.lag, 1.0)},
            "notes": self.notes,
        });
        if let Some(d) = &self.digest {
            out["digest"] = json!({
                "events": d.events, "events_during_load": d.events_during_load,
                "events_per_s_loaded": round(d.per_s_loaded, 1),
                "events_per_s_to_drain": round(d.per_s_to_drain, 1),
                "drained": d.drained, "drain_s": round(d.drain.as_secs_f64(), 2),
                "queue_max": d.queue_max, "queue_at_load_end": d.queue_at_load_end,
                "queue_growth_per_s": d.queue_growth_per_s.map(|g| round(g, 1)),
            });
        }
        if let Some(q) = &self.queryable {
            out["queryable_ms"] = json!({
                "samples": q.samples, "seen": q.seen,
                "p50": ms(&q.latency, 0.5), "p99": ms(&q.latency, 0.99), "max": ms(&q.latency, 1.0),
            });
        }
        if let Some(m) = &self.memory {
            out["memory_mb"] = json!({
                "proxy_rss_max": mb(m.proxy_rss_max_kb), "proxy_hwm": mb(m.proxy_hwm_kb),
                "pg_rss_sum_max": mb(m.pg_rss_sum_max_kb), "pg_pss_sum_max": mb(m.pg_pss_sum_max_kb),
                "pg_processes": m.pg_processes_max,
            });
        }
        if let Some(s) = &self.storage {
            out["storage"] = json!({
                "events": s.events,
                "bytes_per_event": s.per_event(s.schema_bytes_delta).map(|b| round(b, 0)),
                "archive_bytes_per_event": s.per_event(s.archive_bytes_delta).map(|b| round(b, 0)),
                "schema_bytes_delta": s.schema_bytes_delta,
                "archive_bytes_delta": s.archive_bytes_delta,
                "schema_bytes_total": s.schema_bytes_total,
            });
        }
        out
    }

    /// The table for people, then the RESULT line.
    pub(crate) fn print(&self) {
        let j = self.json();
        let mut rows: Vec<(&str, &str)> = vec![
            (
                "run",
                "{/label}: {/mode} loop, {/target}, {/connections} connections",
            ),
            ("elapsed", "{/elapsed_s} s"),
            ("requests sent", "{/requests} ({/requests_per_s} req/s)"),
            ("accepted (200)", "{/accepted} ({/accepted_per_s} req/s)"),
            ("statuses", "{/statuses}"),
            (
                "latency p50/p90/p99/max",
                "{/latency_ms/p50} / {/latency_ms/p90} / {/latency_ms/p99} / {/latency_ms/max} ms",
            ),
            (
                "body mean, gzip, session",
                "{/body_bytes_mean} B, {/gzipped} gzipped, {/with_session} with session",
            ),
        ];
        if self.config.rate.is_some() {
            rows.push(("open loop at", "{/rate} req/s: {/late} sent >10 ms late (lag p99 {/schedule_lag_ms/p99} ms, max {/schedule_lag_ms/max} ms), {/unsent} never sent"));
        }
        rows.push(("CPU during load, % of a core", "{/cpu_pct/machine} of {/cpu_pct/capacity}: loadgen {/cpu_pct/loadgen}, proxy {/cpu_pct/proxy}, PostgreSQL {/cpu_pct/postgres} (backends {/cpu_pct/postgres_backends}, digest workers {/cpu_pct/postgres_digest}, background {/cpu_pct/postgres_background}), other {/cpu_pct/other}"));
        if self.digest.is_some() {
            rows.extend([
                ("digested events", "{/digest/events} ({/digest/events_during_load} during the load)"),
                ("digest while loaded", "{/digest/events_per_s_loaded} events/s"),
                ("digest until drained", "{/digest/events_per_s_to_drain} events/s (drained: {/digest/drained}, {/digest/drain_s} s after the load)"),
                ("queue max / at load end", "{/digest/queue_max} / {/digest/queue_at_load_end} (growth {/digest/queue_growth_per_s} /s in the 2nd half)"),
            ]);
        }
        if self.queryable.is_some() {
            rows.push(("ingest→queryable p50/p99/max", "{/queryable_ms/p50} / {/queryable_ms/p99} / {/queryable_ms/max} ms ({/queryable_ms/seen} of {/queryable_ms/samples} samples seen)"));
        }
        if self.memory.is_some() {
            rows.extend([
                ("proxy RSS max / HWM", "{/memory_mb/proxy_rss_max} / {/memory_mb/proxy_hwm} MB"),
                ("PostgreSQL RSS sum / PSS sum", "{/memory_mb/pg_rss_sum_max} / {/memory_mb/pg_pss_sum_max} MB ({/memory_mb/pg_processes} processes)"),
            ]);
        }
        if self.storage.is_some() {
            rows.extend([
                ("disk per event (all)", "{/storage/bytes_per_event} B"),
                ("  of which archive", "{/storage/archive_bytes_per_event} B"),
            ]);
        }
        let width = rows
            .iter()
            .map(|(name, _)| name.chars().count())
            .max()
            .unwrap_or(0);
        for (name, template) in &rows {
            println!("  {name:<width$}  {}", fill(template, &j));
        }
        for note in &self.notes {
            println!("  {:<width$}  {note}", "note");
        }
        println!("RESULT {j}");
    }
}

/// `template` with each `{/json/pointer}` replaced by that value of `json` (`-` when null).
fn fill(template: &str, json: &Value) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find("{/") {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let pointer = &rest[open + 1..open + close];
        match json.pointer(pointer) {
            None | Some(Value::Null) => out.push('-'),
            Some(Value::String(text)) => out.push_str(text),
            Some(value) => out.push_str(&value.to_string()),
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_pointers() {
        let j = json!({"a": {"b": 1.5}, "s": "x", "n": null});
        assert_eq!(
            fill("{/a/b} ms, {/s}, {/n}, {/missing}.", &j),
            "1.5 ms, x, -, -."
        );
        assert_eq!(fill("no fields", &j), "no fields");
    }
}
