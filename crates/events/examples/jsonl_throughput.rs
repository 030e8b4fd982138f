//! Streaming JSONL parse throughput, by CPU time and by wall time.
//!
//! `cargo run --release -p bearing-events --example jsonl_throughput [EVENTS]`
//!
//! On a shared machine the wall-time figure depends on the load; the CPU-time
//! figure (from `/proc/self/stat`, Linux only) is what the parser costs.

use std::time::Instant;

/// User + system CPU seconds of this process (0 where `/proc` is unavailable).
fn cpu_secs() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let f: Vec<&str> = s
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: f64 = f.get(11).and_then(|x| x.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|x| x.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(400_000);
    let mut s = String::new();
    for i in 0..n {
        let t = format!("2024-05-{:02}T{:02}:{:02}:00Z", 1 + i % 28, i % 24, i % 60);
        s.push_str(&format!(r#"{{"id":"dep-{i}","source":"bench","time":"{t}","service":"checkout","environment":"prod","kind":"deployment","data":{{"deployment_id":"{i}","version":"1.{i}.0","commit":"{i:040x}","status":"success","finished_at":"{t}","strategy":"canary"}}}}"#));
        s.push('\n');
    }
    for _ in 0..3 {
        let (c0, w0) = (cpu_secs(), Instant::now());
        let k = bearing_events::JsonlReader::new(s.as_bytes())
            .filter(Result::is_ok)
            .count();
        let (c1, w1) = (cpu_secs(), w0.elapsed().as_secs_f64());
        let cpu = (c1 - c0).max(0.01);
        println!(
            "{k} events ({:.0} MB): {:.0} events/s by CPU time ({:.0} MB/s), {:.0} events/s by wall time",
            s.len() as f64 / 1e6,
            k as f64 / cpu,
            s.len() as f64 / cpu / 1e6,
            k as f64 / w1
        );
    }
}
