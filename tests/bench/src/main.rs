//! `kagi-bench`: figures anyone can reproduce, as ratios against baselines measured in the same
//! run (the machines are shared and noisy), on the virtual token with the latency model of a
//! USB token, with every operation's card round trips counted (issue 13). Run through
//! `scripts/bench.sh`, which builds release binaries and points this at them. Prints a table and
//! writes JSON under `build/bench/`.
//!
//! `kagi-bench bank [SECONDS]` measures only the bank side (`bank.rs`: verified log-ons per
//! second per core on SQLite and PostgreSQL) and prints it; the full run includes it.
//!
//! `kagi-bench evidence [JSON] [MARKDOWN]` rewrites the benchmark section of `docs/evidence.md`
//! from a run's JSON (`evidence.rs`), so the document quotes exactly what a run measured.
#![forbid(unsafe_code)]

mod bank;
mod evidence;
mod measure;
mod stats;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use stats::Row;

/// One run, as written to `build/bench/latest.json`.
#[derive(Serialize, Deserialize)]
pub struct Report {
    pub machine: String,
    pub date_unix: u64,
    pub quick: bool,
    pub token: String,
    pub rows: Vec<Row>,
    pub apdus: Vec<measure::Apdus>,
    pub goals: Vec<measure::Goal>,
    pub values: Vec<measure::Value>,
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
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = kagi_rig::workspace_root();
    if args.first().map(String::as_str) == Some("evidence") {
        let json = args.get(1).map(PathBuf::from).unwrap_or_else(|| root.join("build/bench/latest.json"));
        let md = args.get(2).map(PathBuf::from).unwrap_or_else(|| root.join("docs/evidence.md"));
        if let Err(e) = evidence::rewrite(&json, &md) {
            eprintln!("kagi-bench evidence: {e}");
            std::process::exit(1);
        }
        println!("{} rewritten from {}", md.display(), json.display());
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    if args.first().map(String::as_str) == Some("bank") {
        let seconds = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5);
        match bank::logons_per_core(seconds) {
            Ok(values) => values.iter().for_each(|v| println!("{:<60} {:>12} {}", v.name, v.value, v.unit)),
            Err(e) => {
                eprintln!("kagi-bench bank: {e}");
                std::process::exit(1);
            }
        }
        return;
    }
    let out_dir = root.join("build").join("bench");
    if let Err(e) = std::fs::create_dir_all(&out_dir) {
        eprintln!("kagi-bench: {}: {e}", out_dir.display());
        std::process::exit(1);
    }
    let r = match measure::all(quick).and_then(|mut r| {
        // After the token figures (and outside the rig's lock: no card involved).
        r.values.extend(bank::logons_per_core(if quick { 3 } else { 10 })?);
        Ok(r)
    }) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kagi-bench: {e}");
            std::process::exit(1);
        }
    };
    let report = Report {
        machine: machine(),
        date_unix: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        quick,
        token: r.token,
        rows: r.rows,
        apdus: r.apdus,
        goals: r.goals,
        values: r.values,
    };
    print!("{}", evidence::text_table(&report));
    let json = match serde_json::to_string_pretty(&report) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("kagi-bench: {e}");
            std::process::exit(1);
        }
    };
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
