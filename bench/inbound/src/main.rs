//! Sends signed GitHub `issues.opened` deliveries to a Timebridge server as fast as it takes
//! them, from a fixed number of concurrent connections, and prints deliveries per second and
//! latency. Every request is signed (`X-Hub-Signature-256`) as GitHub signs it; one in ten
//! repeats an earlier delivery id, so the de-duplication path is measured too.
//!
//!   inbound-load <base url> <webhook secret> <repo> <requests> <concurrency> <first issue number>
//!
//! Prints one line: `requests=… seconds=… per_second=… p50_ms=… p99_ms=… applied=… duplicate=… errors=…`.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

struct Delivery {
    id: String,
    body: String,
    signature: String,
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

/// A real-shaped `issues.opened` payload (trimmed of the many URL fields GitHub adds).
fn payload(repo: &str, number: u64) -> Value {
    json!({
        "action": "opened",
        "issue": {
            "id": 1_000_000 + number, "node_id": format!("I_kwDOA{number}"), "number": number,
            "title": format!("Crash when saving a report #{number}"),
            "body": "Steps to reproduce:\n1. Open a report\n2. Press save\n\nExpected: saved. Actual: crash.",
            "state": "open", "locked": false,
            "html_url": format!("https://github.com/{repo}/issues/{number}"),
            "labels": [{"id": 208045946, "name": "bug", "color": "d73a4a", "default": true}],
            "assignee": null, "assignees": [], "comments": 0,
            "user": {"login": "octocat", "id": 1, "type": "User"},
            "created_at": "2026-11-23T09:00:00Z", "updated_at": "2026-11-23T09:00:00Z",
            "author_association": "OWNER",
        },
        "repository": {"id": 1296269, "name": "hello-world", "full_name": repo, "private": false},
        "sender": {"login": "octocat", "id": 1, "type": "User"},
    })
}

fn deliveries(secret: &str, repo: &str, count: usize, first: u64) -> Vec<Delivery> {
    let mut out: Vec<Delivery> = Vec::with_capacity(count);
    for i in 0..count {
        // Every tenth request repeats the delivery five before it.
        if i % 10 == 9 && i >= 5 {
            let earlier = &out[i - 5];
            out.push(Delivery {
                id: earlier.id.clone(),
                body: earlier.body.clone(),
                signature: earlier.signature.clone(),
            });
            continue;
        }
        let number = first + i as u64;
        let body = payload(repo, number).to_string();
        out.push(Delivery {
            id: format!("bench-{number}"),
            signature: sign(secret, body.as_bytes()),
            body,
        });
    }
    out
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, base, secret, repo, count, concurrency, first] = args.as_slice() else {
        eprintln!(
            "usage: inbound-load <base url> <secret> <repo> <requests> <concurrency> <first issue number>"
        );
        std::process::exit(2);
    };
    let count: usize = count.parse().expect("requests is a number");
    let concurrency: usize = concurrency.parse().expect("concurrency is a number");
    let first: u64 = first.parse().expect("first issue number is a number");
    let url = format!("{base}/api/integrations/github/webhook");
    let work = Arc::new(deliveries(secret, repo, count, first));
    let next = Arc::new(AtomicUsize::new(0));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (work, next, client, url) = (work.clone(), next.clone(), client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut applied, mut duplicate, mut errors) = (Vec::new(), 0, 0, 0);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(d) = work.get(i) else { break };
                let sent = Instant::now();
                let response = client
                    .post(&url)
                    .header("X-GitHub-Event", "issues")
                    .header("X-GitHub-Delivery", &d.id)
                    .header("X-Hub-Signature-256", &d.signature)
                    .header("Content-Type", "application/json")
                    .header("User-Agent", "GitHub-Hookshot/bench")
                    .body(d.body.clone())
                    .send()
                    .await;
                match response {
                    Ok(r) if r.status().is_success() => {
                        let body: Value = r.json().await.unwrap_or_default();
                        latencies.push(sent.elapsed());
                        if body["duplicate"] == true {
                            duplicate += 1;
                        } else {
                            applied += 1;
                        }
                    }
                    Ok(r) => {
                        errors += 1;
                        if errors <= 3 {
                            eprintln!(
                                "error: {} {}",
                                r.status(),
                                r.text().await.unwrap_or_default()
                            );
                        }
                    }
                    Err(e) => {
                        errors += 1;
                        if errors <= 3 {
                            eprintln!("error: {e}");
                        }
                    }
                }
            }
            (latencies, applied, duplicate, errors)
        }));
    }
    let (mut latencies, mut applied, mut duplicate, mut errors) = (Vec::new(), 0, 0, 0);
    for task in tasks {
        let (l, a, d, e) = task.await.expect("task");
        latencies.extend(l);
        applied += a;
        duplicate += d;
        errors += e;
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "requests={count} seconds={seconds:.2} per_second={:.0} p50_ms={:.2} p99_ms={:.2} applied={applied} duplicate={duplicate} errors={errors}",
        count as f64 / seconds,
        pct(0.50),
        pct(0.99),
    );
}
