//! In-process measurements for tests/bench/run.py: local search and thread listing.

use std::time::Instant;

use brevdue_core::{Engine, Result};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Median time of local searches over the cache, and of listing the newest threads.
    Local {
        #[arg(long)]
        account: String,
        #[arg(long, default_value = "INBOX")]
        folder: String,
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
}

fn median_ms(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(|a, b| a.total_cmp(b));
    samples.get(samples.len() / 2).copied().unwrap_or(f64::NAN)
}

pub fn run(engine: &Engine, command: BenchCommand) -> Result<()> {
    match command {
        BenchCommand::Local {
            account,
            folder,
            queries,
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
            let mut threads = Vec::new();
            let mut thread_count = 0;
            for _ in 0..rounds {
                let start = Instant::now();
                thread_count = engine.threads(&account, &folder, 50)?.len();
                threads.push(start.elapsed().as_secs_f64() * 1000.0);
            }
            println!(
                "{}",
                serde_json::json!({
                    "messages": messages,
                    "search_p50_ms": median_ms(search),
                    "search_hits": hits,
                    "threads_p50_ms": median_ms(threads),
                    "threads": thread_count,
                })
            );
        }
    }
    Ok(())
}
