//! In-process measurements for tests/bench/run.py: local search and thread listing.

use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use brevdue_core::imap::ImapConnection;
use brevdue_core::{Engine, Error, ErrorKind, Event, EventListener, Result};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Median time of local searches over the cache, and of listing the newest threads.
    Local {
        #[arg(long)]
        account: String,
        #[arg(long, default_value = "INBOX")]
        folder: String,
        /// Beginnings of words (search as you type), timed separately.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "invo,meet,dead,budg,quar,rev"
        )]
        partial: Vec<String>,
        /// Single letters (the first key typed), timed separately.
        #[arg(long, value_delimiter = ',', default_value = "a,e,m,s,t")]
        letters: Vec<String>,
        /// Words to search for, one search each.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "invoice,meeting,deadline,müller,quarterly report,zürich,budget,roadmap,anna,xyzzy"
        )]
        queries: Vec<String>,
        #[arg(long, default_value_t = 20)]
        rounds: u32,
    },
    /// One sync pass, timed from the engine's events: when the newest `screen` messages of
    /// INBOX were stored (listable), when all of its headers were, when the pass ended.
    FirstSync {
        #[arg(long)]
        account: String,
        #[arg(long, default_value_t = 50)]
        screen: usize,
    },
    /// How long a change made by another client takes to reach this engine's listener
    /// through IDLE. The other client is a second connection made here.
    PushLatency {
        #[arg(long)]
        account: String,
        #[arg(long)]
        password_env: String,
        #[arg(long, default_value_t = 10)]
        rounds: u32,
    },
}

struct Forward(std::sync::Mutex<mpsc::Sender<Event>>);

impl EventListener for Forward {
    fn on_event(&self, event: Event) {
        if let Ok(tx) = self.0.lock() {
            let _ = tx.send(event);
        }
    }
}

fn median_ms(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(|a, b| a.total_cmp(b));
    samples.get(samples.len() / 2).copied().unwrap_or(f64::NAN)
}

pub fn run(engine: &Engine, command: BenchCommand) -> Result<()> {
    match command {
        BenchCommand::PushLatency {
            account,
            password_env,
            rounds,
        } => push_latency(engine, &account, &password_env, rounds)?,
        BenchCommand::FirstSync { account, screen } => first_sync(engine, &account, screen)?,
        BenchCommand::Local {
            account,
            folder,
            queries,
            partial,
            letters,
            rounds,
        } => {
            let messages = engine
                .folders(Some(&account))?
                .iter()
                .map(|f| f.total)
                .sum::<u32>();
            let mut search = Vec::new();
            let mut hits = 0usize;
            for _ in 0..rounds {
                for q in &queries {
                    let start = Instant::now();
                    hits += engine.search(q, None, 50)?.len();
                    search.push(start.elapsed().as_secs_f64() * 1000.0);
                }
            }
            let timed_searches = |queries: &[String]| -> Result<Vec<f64>> {
                let mut samples = Vec::new();
                for _ in 0..rounds {
                    for q in queries {
                        let start = Instant::now();
                        engine.search(q, None, 50)?;
                        samples.push(start.elapsed().as_secs_f64() * 1000.0);
                    }
                }
                Ok(samples)
            };
            let partial_ms = timed_searches(&partial)?;
            let letters_ms = timed_searches(&letters)?;
            let mut threads = Vec::new();
            let mut thread_count = 0;
            for _ in 0..rounds {
                let start = Instant::now();
                thread_count = engine.threads(&account, &folder, 50)?.len();
                threads.push(start.elapsed().as_secs_f64() * 1000.0);
            }
            outln!(
                "{}",
                serde_json::json!({
                    "messages": messages,
                    "search_p50_ms": median_ms(search),
                    "search_hits": hits,
                    "partial_p50_ms": median_ms(partial_ms),
                    "letters_p50_ms": median_ms(letters_ms),
                    "threads_p50_ms": median_ms(threads),
                    "threads": thread_count,
                })
            );
        }
    }
    Ok(())
}

/// Forwards events with the moment they reached the listener.
struct Stamped(std::sync::Mutex<mpsc::Sender<(Instant, Event)>>);

impl EventListener for Stamped {
    fn on_event(&self, event: Event) {
        if let Ok(tx) = self.0.lock() {
            let _ = tx.send((Instant::now(), event));
        }
    }
}

fn first_sync(engine: &Engine, account: &str, screen: usize) -> Result<()> {
    let (tx, rx) = mpsc::channel();
    let _subscription = engine.subscribe(Arc::new(Stamped(std::sync::Mutex::new(tx))))?;
    let start = Instant::now();
    let report = engine.block_on(engine.sync(Some(account.to_owned())))??;
    let ended = start.elapsed();
    // The listener may still be handing over the last events.
    std::thread::sleep(Duration::from_millis(100));
    let ms = |at: Instant| at.duration_since(start).as_secs_f64() * 1000.0;
    let (mut stored, mut total) = (0usize, None);
    let (mut first_screen, mut all_headers) = (None, None);
    for (at, event) in rx.try_iter() {
        match event {
            Event::SyncProgress {
                folder, total: t, ..
            } if folder == "INBOX" => total = Some(t as usize),
            Event::MessagesChanged { folder, added, .. } if folder == "INBOX" => {
                stored += added.len();
                if stored >= screen && first_screen.is_none() {
                    first_screen = Some(ms(at));
                }
                if total.is_some_and(|t| stored >= t) && all_headers.is_none() {
                    all_headers = Some(ms(at));
                }
            }
            _ => {}
        }
    }
    outln!(
        "{}",
        serde_json::json!({
            "first_screen_ms": first_screen,
            "all_headers_ms": all_headers,
            "sync_ms": ended.as_secs_f64() * 1000.0,
            "inbox_headers": stored,
            "bodies": report.first().map(|(_, r)| r.bodies),
        })
    );
    Ok(())
}

fn push_latency(engine: &Engine, account: &str, password_env: &str, rounds: u32) -> Result<()> {
    let password = std::env::var(password_env)
        .map_err(|_| Error::invalid(format!("environment variable {password_env} is not set")))?;
    let config = engine.account(account)?;
    let newest = engine
        .messages(Some(account), Some("INBOX"), 1, 0)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::not_found("a message in INBOX"))?;
    let uid = newest
        .uid
        .ok_or_else(|| Error::invalid("the newest message is not on the server yet"))?;
    let (tx, rx) = mpsc::channel();
    let _subscription = engine.subscribe(Arc::new(Forward(std::sync::Mutex::new(tx))))?;
    engine.start_push(Some(account))?;
    let wait_for = |pred: &dyn Fn(&Event) -> bool| -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match rx.recv_timeout(left) {
                Ok(event) if pred(&event) => return Ok(()),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        Err(Error::new(ErrorKind::Timeout, "no event within 10 s"))
    };
    wait_for(&|e| {
        matches!(
            e,
            Event::PushState {
                connected: true,
                ..
            }
        )
    })?;
    // Let the catch-up sync after connecting settle.
    wait_for(&|e| matches!(e, Event::SyncFinished { .. }))?;
    let mut other = engine.block_on(ImapConnection::connect(
        &config.server,
        &password,
        &Default::default(),
    ))??;
    engine.block_on(other.select("INBOX"))??;
    let mut samples = Vec::new();
    for round in 0..rounds {
        std::thread::sleep(Duration::from_millis(300));
        while rx.try_recv().is_ok() {}
        let flag = ["\\Flagged"];
        let (add, remove): (&[&str], &[&str]) = if round % 2 == 0 {
            (&flag, &[])
        } else {
            (&[], &flag)
        };
        let start = Instant::now();
        engine.block_on(other.uid_store(uid, add, remove))??;
        wait_for(
            &|e| matches!(e, Event::MessagesChanged { changed, .. } if changed.contains(&newest.id)),
        )?;
        samples.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    outln!(
        "{}",
        serde_json::json!({
            "rounds": rounds,
            "p50_ms": median_ms(samples.clone()),
            "min_ms": samples.iter().copied().fold(f64::INFINITY, f64::min),
            "max_ms": samples.iter().copied().fold(0.0, f64::max),
        })
    );
    Ok(())
}
