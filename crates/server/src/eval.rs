//! `switchboard eval ...`: accuracy on data none of us wrote, printed as
//! JSON (see docs/speech.md and docs/intelligence.md for the sets).

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};

use crate::config::{Config, ServeArgs, StoreArgs};

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Word error rate of the configured speech-to-text engine: LibriVox
    /// utterances (clean and through the telephone channel), and with
    /// `--round-trip N` N sentences spoken by a platform voice and heard back.
    Stt(SttArgs),
    /// Sentiment on labelled sentences (UCI; fetch with scripts/fetch-eval-data), ours beside VADER.
    Sentiment(IntelArgs),
    /// Intent on the held-out part of the labelled call-center utterances.
    Intent(IntelArgs),
    /// PII redaction recall on generated cards, ids, phones and e-mails, and false positives on ordinary numbers.
    Redaction(IntelArgs),
}

#[derive(Debug, Args)]
pub struct IntelArgs {
    /// The evaluation data folder (sentiment needs it; see scripts/fetch-eval-data).
    #[arg(long)]
    pub data: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SttArgs {
    /// Folder of `*.wav` utterances with a `*.transcription` file (Debian pocketsphinx-testdata's layout).
    #[arg(long, default_value = switchboard_speech::eval::LIBRIVOX_DIR)]
    pub data: PathBuf,
    /// Also speak this many labelled sentences (UCI, fetched with npm) with a platform voice and transcribe them back.
    #[arg(long)]
    pub round_trip: Option<usize>,
    /// The voice for the round trip [default: the first installed].
    #[arg(long)]
    pub voice: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

pub async fn run(cmd: EvalCommand) -> anyhow::Result<()> {
    match cmd {
        EvalCommand::Stt(args) => stt(args).await,
        EvalCommand::Sentiment(args) => intelligence("sentiment", args),
        EvalCommand::Intent(args) => intelligence("intent", args),
        EvalCommand::Redaction(args) => intelligence("redaction", args),
    }
}

async fn stt(args: SttArgs) -> anyhow::Result<()> {
    if let Some(n) = args.round_trip
        && !(1..=5000).contains(&n)
    {
        bail!("--round-trip must be 1..=5000");
    }
    if !args.data.is_dir() {
        bail!(
            "--data {}: no such folder (install the Debian package pocketsphinx-testdata)",
            args.data.display()
        );
    }
    let cfg = Config::resolve(&ServeArgs {
        store: args.store,
        ..Default::default()
    })?;
    let out = tokio::task::spawn_blocking(move || {
        let speech = switchboard_speech::Speech::start(&cfg.speech);
        for problem in speech.problems() {
            eprintln!("speech engine unavailable: {problem} (run scripts/install-speech)");
        }
        let (clean, telephone) = switchboard_speech::eval::eval_librivox(&speech, &args.data)?;
        let mut out = serde_json::json!({ "clean": clean, "telephone": telephone });
        if let Some(n) = args.round_trip {
            let dir = std::env::temp_dir().join("switchboard-eval-text");
            let fixtures = switchboard_speech::eval::fetch_sentences(&dir)?;
            let sentences = switchboard_speech::eval::load_sentences(&fixtures, n)?;
            let voice = speech.voice(args.voice.as_deref()).context("voice")?.id;
            out["roundTrip"] = serde_json::to_value(switchboard_speech::eval::eval_round_trip(&speech, &voice, &sentences)?)?;
        }
        anyhow::Ok(out)
    })
    .await??;
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// Accuracy, macro-F1 and a confusion matrix of conversation intelligence.
fn intelligence(kind: &str, args: IntelArgs) -> anyhow::Result<()> {
    let report = switchboard_intelligence::eval::run(kind, args.data.as_deref()).map_err(|e| anyhow::anyhow!("{e}"))?;
    print!("{report}");
    Ok(())
}
