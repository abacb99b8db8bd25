//! The few operating-system facts the harness reads: thread pinning, per-thread CPU time,
//! resident memory, the open-files limit and a description of the machine.
//!
//! Everything goes through `rustix` or `/proc`, so the harness needs no `unsafe` code.

use std::fs;

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
use rustix::thread::{CpuSet, sched_setaffinity};
use rustix::time::{ClockId, clock_gettime};

/// CPU time used by one thread so far.
///
/// `ns` is the thread's CPU clock (`CLOCK_THREAD_CPUTIME_ID`: user + system, nanosecond
/// resolution; the same total that `getrusage(RUSAGE_THREAD)` splits into user and system).
/// `user_ticks` and `sys_ticks` are that split from `/proc/thread-self/stat`, in clock ticks
/// (10 ms), for information only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTime {
    /// User + system CPU time in nanoseconds.
    pub ns: u64,
    /// User time in clock ticks.
    pub user_ticks: u64,
    /// System time in clock ticks.
    pub sys_ticks: u64,
}

impl CpuTime {
    /// The calling thread's CPU time now.
    pub fn now() -> CpuTime {
        let ts = clock_gettime(ClockId::ThreadCPUTime);
        let ns = u64::try_from(ts.tv_sec).unwrap_or(0) * 1_000_000_000
            + u64::try_from(ts.tv_nsec).unwrap_or(0);
        let (user_ticks, sys_ticks) = stat_ticks("/proc/thread-self/stat").unwrap_or((0, 0));
        CpuTime {
            ns,
            user_ticks,
            sys_ticks,
        }
    }

    /// The CPU time used between `earlier` and `self`.
    pub fn since(self, earlier: CpuTime) -> CpuTime {
        CpuTime {
            ns: self.ns.saturating_sub(earlier.ns),
            user_ticks: self.user_ticks.saturating_sub(earlier.user_ticks),
            sys_ticks: self.sys_ticks.saturating_sub(earlier.sys_ticks),
        }
    }

    /// The sum of two threads' CPU times.
    pub fn plus(self, other: CpuTime) -> CpuTime {
        CpuTime {
            ns: self.ns + other.ns,
            user_ticks: self.user_ticks + other.user_ticks,
            sys_ticks: self.sys_ticks + other.sys_ticks,
        }
    }

    /// The user share of the time, from the tick split (0.0 when no tick was counted).
    pub fn user_share(&self) -> f64 {
        let ticks = self.user_ticks + self.sys_ticks;
        if ticks == 0 {
            0.0
        } else {
            self.user_ticks as f64 / ticks as f64
        }
    }
}

/// `utime` and `stime` (fields 14 and 15) of a `/proc/.../stat` file.
fn stat_ticks(path: &str) -> Option<(u64, u64)> {
    let stat = fs::read_to_string(path).ok()?;
    // the command name (field 2) may hold spaces; the fields after it are plain
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let utime = fields.nth(11)?.parse().ok()?;
    let stime = fields.next()?.parse().ok()?;
    Some((utime, stime))
}

/// The number of CPUs this process may run on.
pub fn nproc() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Pins the calling thread to `cpu` (modulo the number of CPUs). Pinning is best effort: a
/// refusal is ignored and the thread runs where the scheduler puts it.
pub fn pin(cpu: usize) {
    let mut set = CpuSet::new();
    set.set(cpu % nproc());
    let _ = sched_setaffinity(None, &set);
}

/// The process's resident set size (`VmRSS` of `/proc/self/status`), in KiB.
pub fn rss_kib() -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Raises the soft limit on open files to at least `want` (raising the hard limit too when
/// allowed). Returns the soft limit in force afterwards.
pub fn raise_nofile(want: u64) -> u64 {
    let limit = getrlimit(Resource::Nofile);
    let current = limit.current.unwrap_or(u64::MAX);
    if current >= want {
        return current;
    }
    let maximum = limit.maximum.unwrap_or(u64::MAX);
    let raised = Rlimit {
        current: Some(want),
        maximum: Some(maximum.max(want)),
    };
    if setrlimit(Resource::Nofile, raised).is_err() {
        let _ = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(maximum),
                maximum: Some(maximum),
            },
        );
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// The soft limit on open files.
pub fn nofile() -> u64 {
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// `/proc/loadavg`'s first three fields ("1.02 0.87 0.55").
pub fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The 1-minute load average.
pub fn load1() -> f64 {
    loadavg()
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// The machine, as BENCHMARKS.md describes it.
#[derive(Clone, Debug)]
pub struct Machine {
    /// CPUs available to the process.
    pub nproc: usize,
    /// The first `model name` of `/proc/cpuinfo`.
    pub cpu_model: String,
    /// The kernel release.
    pub kernel: String,
    /// Total memory in MiB.
    pub mem_mib: u64,
}

impl Machine {
    /// Reads the machine's description.
    pub fn read() -> Machine {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|line| line.strip_prefix("model name"))
            .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_owned())
            .unwrap_or_else(|| "unknown".into());
        let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|_| "unknown".into());
        let mem_mib = fs::read_to_string("/proc/meminfo")
            .unwrap_or_default()
            .lines()
            .find_map(|line| line.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kib| kib / 1024);
        Machine {
            nproc: nproc(),
            cpu_model,
            kernel,
            mem_mib,
        }
    }
}
