//! Webhook fan-out benchmark for Timebridge (driven by `bench/fanout.sh`).
//!
//! ```text
//! fanout drain-setup   --api URL --receiver ADDR --state FILE [--endpoints 32] [--events 1000]
//!                      [--concurrency 16]
//! fanout drain-receive --state FILE [--timeout 300] [--label TEXT]
//! fanout latency       --api URL [--listen 127.0.0.1:0] [--endpoints 4] [--rate 1000]
//!                      [--duration 10] [--connections 32] [--grace 10] [--label TEXT]
//!                      [--dump FILE.csv]
//! ```
//!
//! The API token (`write:webhooks,write:tags`, admin) is read from `FANOUT_TOKEN`.
//!
//! * **drain** measures how fast a backlog of N endpoints × M events is delivered. `drain-setup`
//!   runs against a server started with `WEBHOOK_WORKERS=0`: it registers N endpoints at
//!   `http://ADDR/hook/i`, all subscribed to `tag.created`, creates M tags, and writes the
//!   secrets and tag ids to FILE. The server is then stopped, `drain-receive` started on ADDR,
//!   and the server started again with its workers on; `drain-receive` reports the time from
//!   the first to the last of the N×M deliveries.
//! * **latency** runs the receiver on its own port, registers N endpoints against a server with
//!   workers on, creates tags at R a second for D seconds (open loop, at most `connections`
//!   requests in flight) and reports, per delivery, the time from the 201 of the tag's
//!   `POST` (the change has committed by then) to the delivery's arrival.
//!
//! Every delivery's signature is verified; each command prints one `RESULT key=value …` line
//! on stdout followed by a line for people.

mod api;
mod receiver;

use std::{
    collections::HashMap,
    process::ExitCode,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use serde_json::{Value, json};
use tokio::{sync::Semaphore, task::JoinSet, time::MissedTickBehavior};

use api::Api;
use receiver::Receiver;

type Fallible<T> = Result<T, String>;

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let command = args.next().unwrap_or_default();
    let opts = match Opts::parse(args) {
        Ok(opts) => opts,
        Err(e) => return fail(&e),
    };
    let result = match command.as_str() {
        "drain-setup" => drain_setup(&opts).await,
        "drain-receive" => drain_receive(&opts).await,
        "latency" => latency(&opts).await,
        _ => Err(format!(
            "usage: fanout drain-setup|drain-receive|latency [--key value …] (got {command:?})"
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("fanout: {message}");
    ExitCode::FAILURE
}

/// `--key value` pairs.
struct Opts(HashMap<String, String>);

impl Opts {
    fn parse(mut args: impl Iterator<Item = String>) -> Fallible<Self> {
        let mut map = HashMap::new();
        while let Some(key) = args.next() {
            let name = key
                .strip_prefix("--")
                .ok_or_else(|| format!("expected --key, got {key:?}"))?;
            let value = args.next().ok_or_else(|| format!("{key} needs a value"))?;
            map.insert(name.to_owned(), value);
        }
        Ok(Self(map))
    }

    fn text(&self, key: &str) -> Fallible<String> {
        self.0
            .get(key)
            .cloned()
            .ok_or_else(|| format!("--{key} is required"))
    }

    fn text_or(&self, key: &str, default: &str) -> String {
        self.0.get(key).cloned().unwrap_or_else(|| default.into())
    }

    fn number<T: std::str::FromStr>(&self, key: &str, default: T) -> Fallible<T> {
        match self.0.get(key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("--{key}: not a number: {v}")),
        }
    }
}

fn token() -> Fallible<String> {
    std::env::var("FANOUT_TOKEN").map_err(|_| "FANOUT_TOKEN is not set".to_owned())
}

/// A prefix that keeps tag names unique across runs on one database.
fn run_id() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0)
}

fn result_line(fields: &[(&str, String)]) -> String {
    let mut line = String::from("RESULT");
    for (k, v) in fields {
        line.push_str(&format!(" {k}={v}"));
    }
    line
}

// --- drain --------------------------------------------------------------------------------

async fn drain_setup(opts: &Opts) -> Fallible<()> {
    let api_url = opts.text("api")?;
    let receiver = opts.text("receiver")?;
    let state = opts.text("state")?;
    let endpoints: usize = opts.number("endpoints", 32)?;
    let events: usize = opts.number("events", 1000)?;
    let concurrency: usize = opts.number("concurrency", 16)?;
    let api = Api::new(&api_url, &token()?, concurrency);

    let secrets = api.register_all(&receiver, endpoints).await?;
    let started = Instant::now();
    let resources = api
        .create_tags(&format!("drain-{}", run_id()), events, concurrency)
        .await?;
    let took = started.elapsed().as_secs_f64();
    eprintln!(
        "drain-setup: {endpoints} endpoints; {events} events in {took:.2} s ({:.0} events/s, \
         {:.0} deliveries queued/s)",
        events as f64 / took,
        (events * endpoints) as f64 / took
    );
    let doc = json!({ "receiver": receiver, "secrets": secrets, "resources": resources });
    std::fs::write(&state, doc.to_string()).map_err(|e| format!("cannot write {state}: {e}"))
}

async fn drain_receive(opts: &Opts) -> Fallible<()> {
    let state = opts.text("state")?;
    let timeout: u64 = opts.number("timeout", 300)?;
    let label = opts.text_or("label", "-");
    let text = std::fs::read_to_string(&state).map_err(|e| format!("cannot read {state}: {e}"))?;
    let doc: Value = serde_json::from_str(&text).map_err(|e| format!("{state}: {e}"))?;
    let strings = |key: &str| -> Vec<String> {
        doc[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (secrets, resources) = (strings("secrets"), strings("resources"));
    let addr = doc["receiver"].as_str().unwrap_or_default().to_owned();
    let receiver = Receiver::new(&secrets)?;
    receiver::serve(receiver.clone(), receiver::bind(&addr).await?);
    let expected = secrets.len() * resources.len();
    eprintln!("drain-receive: listening on {addr}, expecting {expected} deliveries");

    let all = receiver
        .wait_for(expected, Duration::from_secs(timeout))
        .await;
    if !all {
        eprintln!("drain-receive: timed out after {timeout} s");
    }
    // Late duplicates are counted if they come within a moment.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let tally = receiver.tally.lock().unwrap();
    let mut delivered = 0usize;
    let (mut first, mut last): (Option<Instant>, Option<Instant>) = (None, None);
    for index in 0..secrets.len() {
        for id in &resources {
            if let Some(&at) = tally.arrivals.get(&(index, id.clone())) {
                delivered += 1;
                first = Some(first.map_or(at, |f| f.min(at)));
                last = Some(last.map_or(at, |l| l.max(at)));
            }
        }
    }
    let unexpected = tally.arrivals.len() - delivered;
    let seconds = match (first, last) {
        (Some(f), Some(l)) => (l - f).as_secs_f64(),
        _ => 0.0,
    };
    let per_second = if seconds > 0.0 {
        delivered as f64 / seconds
    } else {
        0.0
    };
    let workers = std::env::var("WEBHOOK_WORKERS").unwrap_or_else(|_| "32".into());
    println!(
        "{}",
        result_line(&[
            ("mode", "drain".into()),
            ("label", label.clone()),
            ("endpoints", secrets.len().to_string()),
            ("events", resources.len().to_string()),
            ("workers", workers.clone()),
            ("expected", expected.to_string()),
            ("delivered", delivered.to_string()),
            ("missing", (expected - delivered).to_string()),
            ("seconds", format!("{seconds:.3}")),
            ("per_second", format!("{per_second:.0}")),
            ("bad_signatures", tally.bad_signatures.to_string()),
            ("duplicates", tally.duplicates.to_string()),
            (
                "unexpected",
                (unexpected as u64 + tally.malformed).to_string()
            ),
        ])
    );
    println!(
        "drain {label}: {delivered}/{expected} signed deliveries ({} endpoints × {} events, \
         {workers} workers) in {seconds:.2} s = {per_second:.0}/s; bad signatures {}, \
         duplicates {}",
        secrets.len(),
        resources.len(),
        tally.bad_signatures,
        tally.duplicates,
    );
    Ok(())
}

// --- latency ------------------------------------------------------------------------------

async fn latency(opts: &Opts) -> Fallible<()> {
    let api_url = opts.text("api")?;
    let listen = opts.text_or("listen", "127.0.0.1:0");
    let endpoints: usize = opts.number("endpoints", 4)?;
    let rate: f64 = opts.number("rate", 1000.0)?;
    let duration: f64 = opts.number("duration", 10.0)?;
    let connections: usize = opts.number("connections", 32)?;
    let grace: f64 = opts.number("grace", 10.0)?;
    let label = opts.text_or("label", "-");
    let dump = opts.0.get("dump").cloned();
    if rate <= 0.0 || duration <= 0.0 {
        return Err("--rate and --duration must be positive".into());
    }
    let mut api = Api::new(&api_url, &token()?, connections);
    // Events from signed GitHub deliveries (applied many per transaction), or from tags
    // created one request, one transaction each.
    let source = opts.text_or("source", "github");
    if source == "github" {
        api.use_github((run_id() % 1_000_000_000) as u64 * 100_000)
            .await?;
    }

    let listener = receiver::bind(&listen).await?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let secrets = api.register_all(&addr.to_string(), endpoints).await?;
    let receiver = Receiver::new(&secrets)?;
    receiver::serve(receiver.clone(), listener);
    // One request before the clock starts, so the first timed ones find a warm connection.
    api.create_event(&format!("warmup-{}", run_id())).await?;
    receiver
        .wait_for(endpoints, Duration::from_secs(10))
        .await
        .then_some(())
        .ok_or("the warm-up event was not delivered to every endpoint within 10 s")?;
    receiver.tally.lock().unwrap().arrivals.clear();

    let load = drive(&api, rate, duration, connections).await;
    let committed = load.commits.len();
    let expected = committed * endpoints;
    let all = receiver
        .wait_for(expected, Duration::from_secs_f64(grace))
        .await;
    if !all {
        eprintln!("latency: not everything arrived within the {grace} s grace period");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    let tally = receiver.tally.lock().unwrap();
    let mut micros = Vec::with_capacity(expected);
    let mut early = 0u64;
    let mut csv = String::from("endpoint,commit_ms,latency_ms\n");
    for index in 0..endpoints {
        for (id, &commit) in &load.commits {
            if let Some(&at) = tally.arrivals.get(&(index, id.clone())) {
                // A delivery can beat the API's response to the client: count it as 0 ms.
                if at < commit {
                    early += 1;
                }
                let latency = at.saturating_duration_since(commit).as_micros() as u64;
                micros.push(latency);
                if dump.is_some() {
                    let since = (commit - load.start).as_secs_f64() * 1000.0;
                    csv.push_str(&format!(
                        "{index},{since:.3},{:.3}\n",
                        latency as f64 / 1000.0
                    ));
                }
            }
        }
    }
    if let Some(path) = &dump {
        std::fs::write(path, csv).map_err(|e| format!("cannot write {path}: {e}"))?;
    }
    micros.sort_unstable();
    let delivered = micros.len();
    let unexpected = tally.arrivals.len() - delivered;
    let ms = |q: f64| -> f64 {
        if micros.is_empty() {
            return f64::NAN;
        }
        let rank = ((q * delivered as f64).ceil() as usize).clamp(1, delivered);
        micros[rank - 1] as f64 / 1000.0
    };
    let (p50, p99, max) = (ms(0.50), ms(0.99), ms(1.0));
    println!(
        "{}",
        result_line(&[
            ("mode", "latency".into()),
            ("label", label.clone()),
            ("source", source.clone()),
            ("endpoints", endpoints.to_string()),
            ("rate", format!("{rate:.0}")),
            ("achieved", format!("{:.0}", load.achieved)),
            ("events", committed.to_string()),
            ("failed_requests", load.failed.to_string()),
            ("abandoned_requests", load.abandoned.to_string()),
            ("max_send_lag_ms", format!("{:.1}", load.max_lag_ms)),
            ("expected", expected.to_string()),
            ("delivered", delivered.to_string()),
            ("missing", (expected - delivered).to_string()),
            ("p50_ms", format!("{p50:.1}")),
            ("p99_ms", format!("{p99:.1}")),
            ("max_ms", format!("{max:.1}")),
            ("early", early.to_string()),
            ("bad_signatures", tally.bad_signatures.to_string()),
            ("duplicates", tally.duplicates.to_string()),
            (
                "unexpected",
                (unexpected as u64 + tally.malformed).to_string()
            ),
        ])
    );
    println!(
        "latency {label}: {committed} events at {:.0}/s (asked {rate:.0}/s, {} failed, {} \
         abandoned) × \
         {endpoints} endpoints; commit→delivery p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} \
         ms; {} of {expected} missing after {grace} s; bad signatures {}",
        load.achieved,
        load.failed,
        load.abandoned,
        expected - delivered,
        tally.bad_signatures,
    );
    Ok(())
}

/// What the load generator did.
struct Load {
    start: Instant,
    /// Tag id → when its `POST`'s 201 arrived.
    commits: HashMap<String, Instant>,
    failed: u64,
    /// Requests still unanswered when the generator gave up waiting.
    abandoned: u64,
    /// Created tags ÷ time from the start to the last 201.
    achieved: f64,
    /// Longest wait of a request for a free connection after its scheduled time.
    max_lag_ms: f64,
}

/// Creates `rate × duration` tags on an open-loop schedule (request i is due at
/// start + i/rate, whether or not earlier ones have answered), with at most `connections`
/// requests in flight.
async fn drive(api: &Api, rate: f64, duration: f64, connections: usize) -> Load {
    let total = (rate * duration).round() as usize;
    let prefix = format!("lat-{}", run_id());
    let commits = Arc::new(Mutex::new(HashMap::with_capacity(total)));
    let failed = Arc::new(AtomicU64::new(0));
    let max_lag_us = Arc::new(AtomicU64::new(0));
    let slots = Arc::new(Semaphore::new(connections.max(1)));
    let mut tasks = JoinSet::new();
    let start = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_millis(1));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut sent = 0usize;
    while sent < total {
        ticker.tick().await;
        let due = ((start.elapsed().as_secs_f64() * rate) as usize + 1).min(total);
        while sent < due {
            let scheduled = start + Duration::from_secs_f64(sent as f64 / rate);
            let (api, name) = (api.clone(), format!("{prefix}-{sent}"));
            let (commits, failed, lag, slots) = (
                commits.clone(),
                failed.clone(),
                max_lag_us.clone(),
                slots.clone(),
            );
            tasks.spawn(async move {
                let _permit = slots.acquire_owned().await.expect("never closed");
                let waited = Instant::now().saturating_duration_since(scheduled);
                lag.fetch_max(waited.as_micros() as u64, Ordering::Relaxed);
                match api.create_event(&name).await {
                    Ok(id) => {
                        let at = Instant::now();
                        commits.lock().unwrap().insert(id, at);
                    }
                    Err(e) => {
                        if failed.fetch_add(1, Ordering::Relaxed) < 3 {
                            eprintln!("latency: {e}");
                        }
                    }
                }
            });
            sent += 1;
        }
        while tasks.try_join_next().is_some() {}
    }
    // Bounded: what has not answered `duration` (at least 10 s) after the schedule ended is
    // abandoned and reported, not waited for.
    let patience = Duration::from_secs_f64(duration.max(10.0));
    let finished = tokio::time::timeout(patience, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if finished.is_err() {
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
    let commits = std::mem::take(&mut *commits.lock().unwrap());
    let last = commits.values().max().copied().unwrap_or(start);
    let secs = (last - start).as_secs_f64().max(1e-3);
    let failed = failed.load(Ordering::Relaxed);
    Load {
        abandoned: (total - commits.len()) as u64 - failed,
        start,
        achieved: commits.len() as f64 / secs,
        commits,
        failed,
        max_lag_ms: max_lag_us.load(Ordering::Relaxed) as f64 / 1000.0,
    }
}
