//! `GET /metrics`: banyan's state in the OpenMetrics text format (which Prometheus
//! scrapes), encoded by `prometheus-client` from a copy taken at scrape time. The metric
//! names and labels are a contract with dashboards and alerts (`docs/operations.md`); the
//! `route` label is bounded (`stats/labels.rs`).

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::app::App;
use crate::shadow::Outcome;
use crate::stats::{Label, Totals, PROM_BOUNDS_MICROS};

pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What one scrape reports, copied out of the running state.
#[derive(Debug)]
struct Scrape {
    requests: Vec<Totals>,
    reloads: (u64, u64),
    generation: u64,
    /// The SHA-256 of the flags file serving now.
    sha256: String,
    /// Native shares (0..1) held in memory over the file's, by route.
    overrides: Vec<(Label, f64)>,
    /// Per flags route: its label and the share it sends native now (0..1).
    routes: Vec<(Label, f64)>,
    websockets: Vec<(Label, &'static str, usize)>,
    shadow: Vec<(Label, [u64; 4])>,
    trips: Vec<(Label, u64)>,
    records: Vec<(Label, crate::record::Summary)>,
    legacy: crate::legacy::Seen,
    /// None where /proc cannot be read.
    process: Option<Process>,
}

/// The process's own figures, under the names every Prometheus client library uses.
#[derive(Debug)]
struct Process {
    cpu_seconds: f64,
    resident_bytes: u64,
    virtual_bytes: u64,
    open_fds: u64,
    max_fds: Option<u64>,
    start_time_seconds: f64,
    threads: u64,
}

impl Process {
    fn read() -> Option<Process> {
        let me = procfs::process::Process::myself().ok()?;
        let stat = me.stat().ok()?;
        let ticks = procfs::ticks_per_second() as f64;
        let max_fds = me.limits().ok().and_then(|l| match l.max_open_files.soft_limit {
            procfs::process::LimitValue::Value(n) => Some(n),
            procfs::process::LimitValue::Unlimited => None,
        });
        Some(Process {
            cpu_seconds: (stat.utime + stat.stime) as f64 / ticks,
            resident_bytes: stat.rss * procfs::page_size(),
            virtual_bytes: stat.vsize,
            open_fds: me.fd_count().ok()? as u64,
            max_fds,
            start_time_seconds: procfs::boot_time_secs().ok()? as f64 + stat.starttime as f64 / ticks,
            threads: stat.num_threads.max(0) as u64,
        })
    }
}

pub fn render(app: &App) -> String {
    let snapshot = app.flags.snapshot();
    let overrides = app.flags.overrides();
    let scrape = Scrape {
        requests: app.stats.totals(),
        reloads: app.flags.reloads(),
        generation: snapshot.generation,
        sha256: snapshot.sha256.clone(),
        overrides: snapshot
            .routes
            .iter()
            .filter_map(|r| overrides.get(&r.name).map(|o| (r.label, o.native / 100.0)))
            .collect(),
        routes: snapshot
            .routes
            .iter()
            .map(|r| (r.label, if snapshot.legacy_only { 0.0 } else { r.native_percent / 100.0 }))
            .collect(),
        websockets: app.ws.sessions.by_route(),
        shadow: app.shadow.book.counts(),
        trips: app.rollout.trips(&snapshot.routes),
        records: app.records.summaries(),
        legacy: app.legacy.health(),
        process: Process::read(),
    };
    let mut registry = Registry::default();
    registry.register_collector(Box::new(scrape));
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
    out
}

impl std::fmt::Debug for Totals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Totals").field("label", &self.label.name()).field("requests", &self.requests).finish()
    }
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut e = encoder.encode_descriptor(
            "banyan_requests",
            "Requests answered, by route, backend and status code.",
            None,
            MetricType::Counter,
        )?;
        for t in &self.requests {
            for (code, n) in &t.codes {
                let code = code.to_string();
                let labels = [("route", t.label.name()), ("backend", t.backend.as_str()), ("code", code.as_str())];
                e.encode_family(&labels)?.encode_counter::<NoLabelSet, _, u64>(n, None)?;
            }
        }

        let mut e = encoder.encode_descriptor(
            "banyan_request_duration_seconds",
            "Time from a request's head to its answer's head, by route and backend.",
            None,
            MetricType::Histogram,
        )?;
        for t in &self.requests {
            let mut buckets: Vec<(f64, u64)> =
                PROM_BOUNDS_MICROS.iter().zip(&t.prom).map(|(b, n)| (*b as f64 / 1e6, *n)).collect();
            buckets.push((f64::INFINITY, t.prom[PROM_BOUNDS_MICROS.len()]));
            let labels = [("route", t.label.name()), ("backend", t.backend.as_str())];
            e.encode_family(&labels)?.encode_histogram::<NoLabelSet>(
                t.sum_micros as f64 / 1e6,
                t.requests,
                &buckets,
                None,
            )?;
        }

        let mut e = encoder.encode_descriptor(
            "banyan_shadow",
            "Shadow copies, by route and outcome: match, mismatch, error (the copy failed or an answer could not be compared), dropped (too many in flight, or a body too large).",
            None,
            MetricType::Counter,
        )?;
        for (label, counts) in &self.shadow {
            for outcome in Outcome::ALL {
                let labels = [("route", label.name()), ("outcome", outcome.as_str())];
                e.encode_family(&labels)?.encode_counter::<NoLabelSet, _, u64>(&counts[outcome as usize], None)?;
            }
        }

        let mut e = encoder.encode_descriptor(
            "banyan_flags_reloads",
            "Flags reloads, by outcome: applied, or rejected (invalid or unreadable file; the last good generation keeps serving).",
            None,
            MetricType::Counter,
        )?;
        for (outcome, n) in [("applied", self.reloads.0), ("rejected", self.reloads.1)] {
            e.encode_family(&[("outcome", outcome)])?.encode_counter::<NoLabelSet, _, u64>(&n, None)?;
        }

        encoder
            .encode_descriptor(
                "banyan_flags_generation",
                "The flags generation serving now (counts this process's reloads: compare replicas by banyan_flags_info).",
                None,
                MetricType::Gauge,
            )?
            .encode_gauge(&self.generation)?;

        encoder
            .encode_descriptor(
                "banyan_flags",
                "The flags file serving now, by the SHA-256 of its bytes (as sha256sum prints it): replicas that agree report the same one.",
                None,
                MetricType::Info,
            )?
            .encode_info(&[("sha256", self.sha256.as_str())])?;

        let mut e = encoder.encode_descriptor(
            "banyan_flags_override",
            "A route's native share (0 to 1) held in memory over the file's, because the file could not take a guard's rollback: make it permanent where flags are managed.",
            None,
            MetricType::Gauge,
        )?;
        for (label, share) in &self.overrides {
            e.encode_family(&[("route", label.name())])?.encode_gauge(share)?;
        }

        encoder
            .encode_descriptor("banyan_build", "The banyan build serving.", None, MetricType::Info)?
            .encode_info(&[("version", env!("CARGO_PKG_VERSION"))])?;

        let mut e = encoder.encode_descriptor(
            "banyan_websocket_connections",
            "Websocket sessions open now, by route and mode (relay, merge, native).",
            None,
            MetricType::Gauge,
        )?;
        for (label, mode, n) in &self.websockets {
            e.encode_family(&[("route", label.name()), ("mode", *mode)])?.encode_gauge(&(*n as u64))?;
        }

        let mut e = encoder.encode_descriptor(
            "banyan_guard_trips",
            "Times a route's guard sent it back to legacy (routes with a guard).",
            None,
            MetricType::Counter,
        )?;
        for (label, n) in &self.trips {
            e.encode_family(&[("route", label.name())])?.encode_counter::<NoLabelSet, _, u64>(n, None)?;
        }

        let mut e = encoder.encode_descriptor(
            "banyan_records_held",
            "Exchanges a route with `record` holds now, and the bytes they take (the recording's memory).",
            None,
            MetricType::Gauge,
        )?;
        for (label, r) in &self.records {
            e.encode_family(&[("route", label.name()), ("unit", "exchanges")])?.encode_gauge(&(r.held as u64))?;
            e.encode_family(&[("route", label.name()), ("unit", "bytes")])?.encode_gauge(&(r.bytes as u64))?;
        }
        let mut e = encoder.encode_descriptor(
            "banyan_records_not_kept",
            "Exchanges of a recorded route that did not fit `[server] record_max_bytes`.",
            None,
            MetricType::Counter,
        )?;
        for (label, r) in &self.records {
            e.encode_family(&[("route", label.name())])?.encode_counter::<NoLabelSet, _, u64>(&r.not_kept, None)?;
        }

        let mut e = encoder.encode_descriptor(
            "banyan_native_share",
            "The share of a flags route's requests decided native now (0 to 1; 0 under the kill switch).",
            None,
            MetricType::Gauge,
        )?;
        for (label, share) in &self.routes {
            e.encode_family(&[("route", label.name())])?.encode_gauge(share)?;
        }
        self.encode_legacy(&mut encoder)?;
        if let Some(p) = &self.process {
            p.encode(&mut encoder)?;
        }
        Ok(())
    }
}

impl Scrape {
    fn encode_legacy(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        // Unknown (no connection tried yet) is left out, not reported as down.
        if let Some(up) = self.legacy.up {
            encoder
                .encode_descriptor(
                    "banyan_legacy_up",
                    "1 if banyan's last new connection to legacy worked, 0 if it failed.",
                    None,
                    MetricType::Gauge,
                )?
                .encode_gauge(&u64::from(up))?;
        }
        for (name, help, n) in [
            ("banyan_legacy_connects", "New connections banyan made to legacy.", self.legacy.connects),
            (
                "banyan_legacy_connect_errors",
                "New connections to legacy that failed (refused, timed out): each is a 502 for a client or a failed probe.",
                self.legacy.connect_errors,
            ),
        ] {
            encoder.encode_descriptor(name, help, None, MetricType::Counter)?.encode_counter::<NoLabelSet, _, u64>(
                &n, None,
            )?;
        }
        Ok(())
    }
}

impl Process {
    fn encode(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        encoder
            .encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds.",
                None,
                MetricType::Counter,
            )?
            .encode_counter::<NoLabelSet, _, f64>(&self.cpu_seconds, None)?;
        let gauges = [
            ("process_resident_memory_bytes", "Resident memory size in bytes.", Some(self.resident_bytes as f64)),
            ("process_virtual_memory_bytes", "Virtual memory size in bytes.", Some(self.virtual_bytes as f64)),
            ("process_open_fds", "Number of open file descriptors.", Some(self.open_fds as f64)),
            ("process_max_fds", "Maximum number of open file descriptors.", self.max_fds.map(|n| n as f64)),
            (
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                Some(self.start_time_seconds),
            ),
            ("process_threads", "Number of OS threads in the process.", Some(self.threads as f64)),
        ];
        for (name, help, value) in gauges {
            if let Some(value) = value {
                encoder.encode_descriptor(name, help, None, MetricType::Gauge)?.encode_gauge(&value)?;
            }
        }
        Ok(())
    }
}
