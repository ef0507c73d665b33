//! `kagi-bench`: figures anyone can reproduce, as ratios against baselines measured in the same
//! run (the machines are shared and noisy). Run through `scripts/bench.sh`, which builds release
//! binaries and points this at them. Prints a table and writes JSON under `build/bench/`.
#![forbid(unsafe_code)]

mod measure;
mod stats;

use std::path::PathBuf;

use serde::Serialize;
use stats::Row;

#[derive(Serialize)]
struct Report {
    machine: String,
    date_unix: u64,
    rows: Vec<Row>,
    values: Vec<measure::Value>,
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string()))
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    format!("{cpu}, {cores} cores")
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let out_dir = kagi_rig::workspace_root().join("build").join("bench");
    if let Err(e) = std::fs::create_dir_all(&out_dir) {
        eprintln!("kagi-bench: {}: {e}", out_dir.display());
        std::process::exit(1);
    }
    let (rows, values) = match measure::all(quick) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kagi-bench: {e}");
            std::process::exit(1);
        }
    };
    let report = Report {
        machine: machine(),
        date_unix: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        rows,
        values,
    };
    print_table(&report);
    let json = serde_json::to_string_pretty(&report).unwrap_or_default();
    let latest: PathBuf = out_dir.join("latest.json");
    if let Ok(prev) = std::fs::read_to_string(&latest) {
        let _ = std::fs::write(out_dir.join("previous.json"), prev);
    }
    let stamped = out_dir.join(format!("bench-{}.json", report.date_unix));
    for p in [&latest, &stamped] {
        if let Err(e) = std::fs::write(p, &json) {
            eprintln!("kagi-bench: {}: {e}", p.display());
        }
    }
    println!("\nJSON: {}", latest.display());
}

fn print_table(r: &Report) {
    println!("machine: {}\n", r.machine);
    println!("{:<52} {:>5} {:>10} {:>10}  {:<34} {:>10} {:>7}", "measure", "n", "median ms", "p90 ms", "baseline", "base ms", "ratio");
    for row in &r.rows {
        println!(
            "{:<52} {:>5} {:>10.2} {:>10.2}  {:<34} {:>10} {:>7}",
            row.name,
            row.samples,
            row.median_ms,
            row.p90_ms,
            row.baseline.clone().unwrap_or_default(),
            row.baseline_median_ms.map(|b| format!("{b:.2}")).unwrap_or_default(),
            row.ratio.map(|x| format!("{x:.2}")).unwrap_or_default(),
        );
    }
    println!();
    for v in &r.values {
        println!("{:<52} {:>12} {}", v.name, v.value, v.unit);
    }
}
