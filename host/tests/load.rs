//! Ten browser windows, each with its own host, logging on a hundred times each against one
//! token: every answer is right, card access is serialised, nothing deadlocks, memory stays flat.

mod common;

use std::time::Duration;

use common::*;
use kagi_proto::LoginToken;
use kagi_rig::Host;

const HOSTS: usize = 10;
const ROUNDS: usize = 100;

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[test]
fn ten_hosts_a_hundred_logons_each() {
    let (_rig, _token, mut first) = customer_token();
    let ca = std::sync::Arc::new(TestCa::new("Kagi Test CA"));
    let cert = enroll(&mut first, &ca, "P-256", 1).1;
    drop(first);
    let workers: Vec<_> = (0..HOSTS)
        .map(|i| {
            let cert = cert.clone();
            let ca = ca.clone();
            std::thread::spawn(move || {
                let mut host = Host::spawn().unwrap();
                let mut rss = Vec::new();
                for round in 0..ROUNDS {
                    let n = nonce();
                    let login: LoginToken = authenticate(&mut host, &ca, &n, PIN)
                        .into_result()
                        .unwrap_or_else(|e| panic!("host {i} round {round}: {e:?}"));
                    assert_eq!(login.certificate_der().unwrap(), cert);
                    verify_login(&login, ORIGIN, &n).unwrap_or_else(|e| panic!("host {i} round {round}: {e}"));
                    if round == 9 || round == ROUNDS - 1 {
                        rss.push(rss_kib(host.pid()));
                    }
                }
                assert!(host.close(Duration::from_secs(10)).is_some_and(|s| s.success()));
                rss
            })
        })
        .collect();
    for (i, w) in workers.into_iter().enumerate() {
        let rss = w.join().unwrap_or_else(|_| panic!("host {i} failed"));
        let (early, late) = (rss[0], rss[1]);
        assert!(late <= early + 2048, "host {i}: RSS grew from {early} KiB to {late} KiB over {ROUNDS} log-ons");
    }
}
