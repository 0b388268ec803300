//! Latency histograms and what `/proc` says about a process (CPU, run-queue wait, memory).

/// Microsecond histogram: 1 µs buckets below 10 ms, 100 µs buckets up to 1 s, 10 ms buckets up
/// to 120 s, then one overflow bucket (the largest value is kept separately). Constant memory,
/// no allocation per sample.
#[derive(Debug, Clone)]
pub struct Histogram {
    buckets: Vec<u64>,
    count: u64,
    max_us: u64,
}

/// `(end of tier in µs, bucket width in µs)`, in order.
const TIERS: [(u64, u64); 3] = [(10_000, 1), (1_000_000, 100), (120_000_000, 10_000)];

/// The bucket of a value, and the first bucket of each tier.
fn bucket_of(us: u64) -> usize {
    let mut start = 0u64;
    let mut first = 0u64;
    for (end, width) in TIERS {
        if us < end {
            return (first + (us - start) / width) as usize;
        }
        first += (end - start) / width;
        start = end;
    }
    first as usize
}

/// The value a bucket stands for: its lower edge in the 1 µs tier, its upper edge elsewhere.
fn value_of(bucket: usize) -> Option<u64> {
    let mut b = bucket as u64;
    let mut start = 0u64;
    for (end, width) in TIERS {
        let n = (end - start) / width;
        if b < n {
            return Some(if width == 1 {
                start + b
            } else {
                start + (b + 1) * width
            });
        }
        b -= n;
        start = end;
    }
    None
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            buckets: vec![0; bucket_of(u64::MAX) + 1],
            count: 0,
            max_us: 0,
        }
    }
}

impl Histogram {
    pub fn record_us(&mut self, us: u64) {
        if let Some(b) = self.buckets.get_mut(bucket_of(us)) {
            *b += 1;
        }
        self.count += 1;
        self.max_us = self.max_us.max(us);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn merge(&mut self, other: &Self) {
        for (a, b) in self.buckets.iter_mut().zip(&other.buckets) {
            *a += b;
        }
        self.count += other.count;
        self.max_us = self.max_us.max(other.max_us);
    }

    /// The value (µs) below which `q` of the samples fall: exact below 10 ms, else the upper
    /// edge of its bucket (never above the largest sample).
    pub fn quantile_us(&self, q: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(value_of(i).unwrap_or(self.max_us).min(self.max_us));
            }
        }
        Some(self.max_us)
    }
}

/// Quantile of a small list of durations in ms (join times): nearest rank.
pub fn quantile_ms(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    values.get(rank - 1).copied()
}

/// What `/proc` says about one process at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcSample {
    /// utime + stime of all threads, living and dead, in seconds.
    pub cpu_s: f64,
    /// Sum over the living threads of the time spent runnable but waiting for a CPU, seconds.
    pub runq_wait_s: f64,
    /// Resident memory, KiB.
    pub rss_kib: u64,
}

/// Clock ticks per second of `/proc/<pid>/stat` (USER_HZ: 100 on every Linux build we run).
const USER_HZ: f64 = 100.0;

pub fn sample(pid: u32) -> Option<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces: fields start after the last ')'.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, utime 14, stime 15 (1-based) → indices 11, 12.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    let mut runq_ns: u64 = 0;
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            let path = task.path().join("schedstat");
            if let Ok(s) = std::fs::read_to_string(path) {
                runq_ns += s
                    .split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Some(ProcSample {
        cpu_s: (utime + stime) / USER_HZ,
        runq_wait_s: runq_ns as f64 / 1e9,
        rss_kib,
    })
}

/// Machine-wide CPU time from the `cpu` line of `/proc/stat`, in seconds: (busy, steal).
/// Busy is everything but idle and iowait (steal included).
pub fn machine_cpu() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...
    let total: f64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4)?;
    Some(((total - idle) / USER_HZ, v.get(7)? / USER_HZ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles() {
        let mut h = Histogram::default();
        for us in 1..=100 {
            h.record_us(us);
        }
        assert_eq!(h.quantile_us(0.5), Some(50));
        assert_eq!(h.quantile_us(0.99), Some(99));
        h.record_us(20_000);
        assert_eq!(h.quantile_us(1.0), Some(20_000));
        let mut slow = Histogram::default();
        for s in 1..=100u64 {
            slow.record_us(s * 300_000);
        }
        // 15 s and 29.7 s, as the upper edges of their 10 ms buckets.
        assert_eq!(slow.quantile_us(0.5), Some(15_010_000));
        assert_eq!(slow.quantile_us(0.99), Some(29_710_000));
        slow.record_us(500_000_000);
        assert_eq!(slow.quantile_us(1.0), Some(500_000_000));
        assert_eq!(Histogram::default().quantile_us(0.5), None);
        let mut v = vec![3.0, 1.0, 2.0];
        assert_eq!(quantile_ms(&mut v, 0.5), Some(2.0));
    }

    #[test]
    fn reads_own_proc() {
        let s = sample(std::process::id()).expect("own /proc");
        assert!(s.rss_kib > 0);
        assert!(machine_cpu().is_some());
    }
}
