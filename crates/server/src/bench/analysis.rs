//! `switchboard bench analysis`: the conversation-intelligence benchmark of
//! `switchboard-intelligence` run in this process (no server: the analysis
//! is a library call). A generated five-minute call (60 segments, about 750
//! words) is analysed in full over and over on one thread, then each of its
//! segments live (sentiment and intent), timed one by one; peak RSS last.

use clap::Args;

#[derive(Debug, Args)]
pub struct AnalysisArgs {
    /// Seconds spent on each part (full calls, live segments).
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
    /// Segments in the generated call.
    #[arg(long, default_value_t = 60)]
    pub segments: usize,
}

/// The CPU time this thread has run (Linux; zero elsewhere).
fn thread_cpu() -> std::time::Duration {
    let ns = std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse::<u64>().ok()))
        .unwrap_or(0);
    std::time::Duration::from_nanos(ns)
}

pub async fn run(args: AnalysisArgs) -> anyhow::Result<()> {
    if args.seconds <= 0.0 || args.segments == 0 {
        anyhow::bail!("--seconds and --segments must be above 0");
    }
    let report = tokio::task::spawn_blocking(move || {
        switchboard_intelligence::bench::run(&switchboard_intelligence::bench::BenchOptions {
            seconds: args.seconds,
            segments: args.segments,
            cpu_clock: Some(thread_cpu),
            ..Default::default()
        })
    })
    .await?;
    print!("{report}");
    if let Ok(status) = std::fs::read_to_string("/proc/self/status")
        && let Some(line) = status.lines().find(|l| l.starts_with("VmHWM"))
    {
        println!("peak RSS: {}", line.trim_start_matches("VmHWM:").trim());
    }
    Ok(())
}
