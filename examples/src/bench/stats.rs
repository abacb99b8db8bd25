//! What one measured run yields, and the median / min–max summaries of repetitions.

use std::time::Duration;

use super::sys::CpuTime;

/// The raw outcome of one run: how many operations (round trips, messages, deliveries) were
/// completed in the window, the wall time of the window, and each side's CPU time in it.
#[derive(Clone, Debug, Default)]
pub struct Measured {
    /// Operations completed in the window.
    pub n: u64,
    /// Wall time of the window.
    pub wall: Duration,
    /// CPU time of the client thread (or the sending side).
    pub client: CpuTime,
    /// CPU time of the server thread (or the receiving side).
    pub server: CpuTime,
    /// Round-trip latencies in nanoseconds (round-trip scenarios only).
    pub latencies: Vec<u32>,
}

/// One run reduced to the reported figures.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Run {
    /// Operations per second (wall).
    pub rate: f64,
    /// CPU ns per operation, both sides.
    pub cpu_ns: f64,
    /// CPU ns per operation, client (sending) side.
    pub client_ns: f64,
    /// CPU ns per operation, server (receiving) side.
    pub server_ns: f64,
    /// Median latency in µs (round trips only, else 0).
    pub p50_us: f64,
    /// 99th percentile latency in µs (round trips only, else 0).
    pub p99_us: f64,
    /// Operations counted.
    pub n: u64,
    /// The user share of both sides' CPU time (tick-based, information only).
    pub user_share: f64,
}

impl Measured {
    /// Reduces the raw outcome to the reported figures.
    pub fn run(mut self) -> Run {
        let n = self.n.max(1) as f64;
        let secs = self.wall.as_secs_f64().max(1e-9);
        self.latencies.sort_unstable();
        let pct = |p: f64| -> f64 {
            if self.latencies.is_empty() {
                return 0.0;
            }
            let i = ((self.latencies.len() - 1) as f64 * p).round() as usize;
            f64::from(self.latencies[i]) / 1000.0
        };
        Run {
            rate: self.n as f64 / secs,
            cpu_ns: (self.client.ns + self.server.ns) as f64 / n,
            client_ns: self.client.ns as f64 / n,
            server_ns: self.server.ns as f64 / n,
            p50_us: pct(0.50),
            p99_us: pct(0.99),
            n: self.n,
            user_share: self.client.plus(self.server).user_share(),
        }
    }
}

/// Median with min and max.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stat {
    /// The median (the mean of the middle two for an even count).
    pub med: f64,
    /// The smallest value.
    pub min: f64,
    /// The largest value.
    pub max: f64,
}

impl Stat {
    /// Summarises `values`; `None` when empty.
    pub fn of(values: &[f64]) -> Option<Stat> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let mid = v.len() / 2;
        let med = if v.len() % 2 == 1 {
            v[mid]
        } else {
            (v[mid - 1] + v[mid]) / 2.0
        };
        Some(Stat {
            med,
            min: v[0],
            max: v[v.len() - 1],
        })
    }

    /// `median (min–max)` with `f` formatting each number.
    pub fn show(&self, f: impl Fn(f64) -> String) -> String {
        format!("{} ({}–{})", f(self.med), f(self.min), f(self.max))
    }
}

/// A rate for humans: `1.23 M`, `456 k`, `789`.
pub fn rate(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2} M", v / 1e6)
    } else if v >= 1e4 {
        format!("{:.0} k", v / 1e3)
    } else if v >= 1e3 {
        format!("{:.1} k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

/// Nanoseconds for humans: `812 ns`, `14.2 µs`.
pub fn ns(v: f64) -> String {
    if v >= 1e4 {
        format!("{:.1} µs", v / 1e3)
    } else if v >= 1e3 {
        format!("{:.2} µs", v / 1e3)
    } else {
        format!("{v:.0} ns")
    }
}

/// A ratio: `1.23×`.
pub fn ratio(v: f64) -> String {
    format!("{v:.2}×")
}

/// A plain number with `digits` decimals.
pub fn num(v: f64, digits: usize) -> String {
    format!("{v:.digits$}")
}
