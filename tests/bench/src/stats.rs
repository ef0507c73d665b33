//! Order statistics over samples, and the comparison against a baseline measured in the same run.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One measured quantity with its baseline (if any).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    pub name: String,
    pub samples: usize,
    pub median_ms: f64,
    pub p90_ms: f64,
    pub baseline: Option<String>,
    pub baseline_median_ms: Option<f64>,
    /// median / baseline median
    pub ratio: Option<f64>,
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub fn summarise(name: &str, samples: &[Duration], baseline: Option<(&str, &[Duration])>) -> Row {
    let mut v: Vec<f64> = samples.iter().copied().map(ms).collect();
    v.sort_by(f64::total_cmp);
    let median = quantile(&v, 0.5);
    let (bname, bmed) = match baseline {
        Some((n, b)) => {
            let mut w: Vec<f64> = b.iter().copied().map(ms).collect();
            w.sort_by(f64::total_cmp);
            (Some(n.to_string()), Some(quantile(&w, 0.5)))
        }
        None => (None, None),
    };
    Row {
        name: name.to_string(),
        samples: v.len(),
        median_ms: median,
        p90_ms: quantile(&v, 0.9),
        baseline: bname,
        baseline_median_ms: bmed,
        ratio: bmed.map(|b| median / b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_p90_ratio() {
        let s: Vec<Duration> = (1..=10).map(Duration::from_millis).collect();
        let b: Vec<Duration> = vec![Duration::from_millis(2); 3];
        let r = summarise("x", &s, Some(("b", &b)));
        assert_eq!(r.samples, 10);
        assert_eq!(r.median_ms, 6.0); // index round(4.5) = 5 → 6 ms (upper median)
        assert_eq!(r.p90_ms, 9.0);
        assert_eq!(r.ratio, Some(3.0));
    }
}
