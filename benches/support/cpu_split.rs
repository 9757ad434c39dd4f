//! Where the machine's CPU went during a phase, by part: the service's own process, the
//! functions it runs (its descendants: bubblewrap and the runtimes), Postgres (every
//! `postgres` process) and the benchmark's own client, from /proc's clock ticks of each
//! live process. A ratio of rates says how much slower the product is than its ceiling;
//! this says which part pays for it.

use std::collections::HashMap;

/// The parts, in the order they are printed.
pub const PARTS: [&str; 5] = ["service", "functions", "postgres", "client", "other"];

/// CPU ticks of every live process at one moment, with what each belongs to.
pub struct CpuSnapshot {
    ticks: HashMap<u32, (usize, u64)>,
}

impl CpuSnapshot {
    /// Reads every process's ticks now; `service` is the service's pid.
    pub fn take(service: u32) -> Self {
        let me = std::process::id();
        let mut stats: HashMap<u32, (String, u32, u64)> = HashMap::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            if let Some(stat) = read_stat(pid) {
                stats.insert(pid, stat);
            }
        }
        let part_of = |pid: u32| -> usize {
            if pid == service {
                return 0;
            }
            if pid == me {
                return 3;
            }
            let mut at = pid;
            // Ancestors up to init: a descendant of the service is one of its functions.
            for _ in 0..64 {
                match stats.get(&at) {
                    Some((_, parent, _)) if *parent == service => return 1,
                    Some((_, parent, _)) if *parent > 1 => at = *parent,
                    _ => break,
                }
            }
            if stats.get(&pid).is_some_and(|(comm, _, _)| comm.starts_with("postgres")) {
                2
            } else {
                4
            }
        };
        let ticks = stats
            .iter()
            .map(|(pid, (_, _, ticks))| (*pid, (part_of(*pid), *ticks)))
            .collect();
        Self { ticks }
    }

    /// CPU milliseconds each part used since `earlier`, per `per` (runs or invokes), in
    /// `PARTS` order. A process that ended in between is not counted.
    pub fn since(&self, earlier: &CpuSnapshot, per: usize) -> [f64; 5] {
        // SAFETY: sysconf has no preconditions.
        let tick_ms = 1000.0 / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        let mut parts = [0.0; 5];
        for (pid, (part, ticks)) in &self.ticks {
            let before = earlier.ticks.get(pid).map_or(0, |(_, t)| *t);
            parts[*part] += ticks.saturating_sub(before) as f64 * tick_ms;
        }
        parts.map(|ms| ms / per.max(1) as f64)
    }
}

/// `(comm, ppid, utime + stime)` of a process.
fn read_stat(pid: u32) -> Option<(String, u32, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (head, rest) = stat.rsplit_once(')')?;
    let comm = head.split_once('(')?.1.to_string();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state, ppid, ... utime and stime are the 12th and 13th.
    let ppid = fields.get(1)?.parse().ok()?;
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some((comm, ppid, ticks))
}

/// The split as a table headed by `title`: one row per `(label, parts)`.
pub fn print_table(title: &str, rows: &[(&str, [f64; 5])]) {
    println!();
    println!("{title}");
    println!();
    println!("| phase | {} | total |", PARTS.join(" | "));
    println!("|---|---|---|---|---|---|---|");
    for (label, parts) in rows {
        println!("{}", row(label, *parts));
    }
}

/// A table row of the split: `label | service | functions | postgres | client | other | total`.
pub fn row(label: &str, parts: [f64; 5]) -> String {
    let total: f64 = parts.iter().sum();
    let cells: Vec<String> = parts.iter().map(|ms| format!("{ms:.2}")).collect();
    format!("| {label} | {} | {total:.2} |", cells.join(" | "))
}

/// CPU milliseconds the whole machine has spent busy since boot, from /proc/stat: what
/// a phase costs with processes that end within it (pgbench's server backends), which
/// the per-process snapshots miss.
pub fn machine_busy_ms() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let tick_ms = 1000.0 / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|t| t.parse().ok())
        .collect();
    // user, nice, system, (idle, iowait), irq, softirq, steal
    [0, 1, 2, 5, 6, 7].iter().filter_map(|i| ticks.get(*i)).sum::<u64>() as f64 * tick_ms
}

/// CPU milliseconds this process's waited-for children have used (a pgbench run, once
/// it has exited).
pub fn children_cpu_ms() -> f64 {
    // SAFETY: getrusage writes into the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let ms = |t: libc::timeval| t.tv_sec as f64 * 1000.0 + t.tv_usec as f64 / 1000.0;
    ms(usage.ru_utime) + ms(usage.ru_stime)
}
