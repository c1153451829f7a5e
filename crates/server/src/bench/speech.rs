//! `switchboard bench speech`: the configured speech engines in this
//! process — TTS first audio and real-time factor per voice, the cached
//! prompt, STT real-time factor and live streams that keep up — with peak
//! memory. The engines come from the same settings `serve` reads.

use anyhow::bail;
use clap::Args;

use crate::config::{Config, ServeArgs, StoreArgs};

#[derive(Debug, Args)]
pub struct SpeechArgs {
    /// Syntheses of the 20-word prompt per voice.
    #[arg(long, default_value_t = 10)]
    pub runs: usize,
    /// Live transcription streams fed at once.
    #[arg(long, default_value_t = 2)]
    pub streams: usize,
    #[command(flatten)]
    pub store: StoreArgs,
}

pub async fn run(args: SpeechArgs) -> anyhow::Result<()> {
    if args.runs == 0 || args.runs > 1000 {
        bail!("--runs must be 1..=1000");
    }
    if args.streams == 0 || args.streams > 64 {
        bail!("--streams must be 1..=64");
    }
    let cfg = Config::resolve(&ServeArgs {
        store: args.store,
        ..Default::default()
    })?;
    let report = tokio::task::spawn_blocking(move || {
        let speech = switchboard_speech::Speech::start(&cfg.speech);
        for problem in speech.problems() {
            eprintln!("speech engine unavailable: {problem}");
        }
        let cache = tempfile::tempdir()?;
        anyhow::Ok(switchboard_speech::bench::run(&speech, args.runs, args.streams, cache.path())?)
    })
    .await??;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
