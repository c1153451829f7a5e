//! Development CLI until the server wires `switchboard eval` and
//! `switchboard bench analysis`:
//!
//!     cargo run --release -p switchboard-intelligence --example intel -- eval sentiment --data data/eval
//!     cargo run --release -p switchboard-intelligence --example intel -- eval intent
//!     cargo run --release -p switchboard-intelligence --example intel -- eval redaction
//!     cargo run --release -p switchboard-intelligence --example intel -- bench
//!     cargo run --release -p switchboard-intelligence --example intel -- classify "text" ...
use std::path::PathBuf;

// The `switchboard` binary runs on mimalloc; measure with the same allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let data = args
        .iter()
        .position(|a| a == "--data")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from);
    match args.first().map(String::as_str) {
        Some("eval") => match switchboard_intelligence::eval::run(args.get(1).map_or("", String::as_str), data.as_deref()) {
            Ok(report) => print!("{report}"),
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(2);
            }
        },
        Some("bench") => {
            let secs = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(3.0);
            let report = switchboard_intelligence::bench::run(&switchboard_intelligence::bench::BenchOptions {
                seconds: secs,
                cpu_clock: Some(thread_cpu),
                ..Default::default()
            });
            print!("{report}");
            if let Ok(status) = std::fs::read_to_string("/proc/self/status")
                && let Some(line) = status.lines().find(|l| l.starts_with("VmHWM"))
            {
                println!("peak RSS: {}", line.trim_start_matches("VmHWM:").trim());
            }
        }
        Some("profile") => profile(),
        // Full analyses of the bench call, N times (for instruction counts under valgrind).
        Some("repeat") => {
            let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10);
            let call = switchboard_intelligence::bench::sample_call(60, 42);
            let opts = switchboard_intelligence::AnalyzeOptions::default();
            std::hint::black_box(switchboard_intelligence::analyze(switchboard_intelligence::Input::Segments(&call), &opts).ok());
            measured(n, &call, &opts);
        }
        Some("analyze") => {
            use switchboard_domain::transcript::{Segment, Speaker::*};
            let call: Vec<Segment> = [
                (Agent, "Hi, this is Sam from Acme Energy. This call may be recorded for quality."),
                (Customer, "My name is Dana Reyes. I've been charged twice and this is ridiculous."),
                (Agent, "I'm sorry about that. Can I have the card you paid with?"),
                (Customer, "It's 4111 1111 1111 1111. Let me speak to a manager right now."),
                (Agent, "I can refund the duplicate charge today instead."),
                (Customer, "Okay, thanks. I'll pay the remaining $45.50 next Friday."),
            ]
            .iter()
            .enumerate()
            .map(|(i, (s, t))| Segment::new(*s, *t, i as i64 * 4000, i as i64 * 4000 + 3500))
            .collect();
            let reference = chrono::DateTime::parse_from_rfc3339("2026-12-01T15:00:00Z")
                .expect("time")
                .with_timezone(&chrono::Utc);
            let opts = switchboard_intelligence::AnalyzeOptions::at(
                reference,
                chrono_tz::America::New_York,
                switchboard_domain::phone::Region::parse("US").ok(),
            );
            let a = switchboard_intelligence::analyze(switchboard_intelligence::Input::Segments(&call), &opts).expect("valid");
            println!("{}", serde_json::to_string_pretty(&a).expect("json"));
        }
        Some("classify") => {
            let m = switchboard_intelligence::IntentModel::builtin();
            for t in &args[1..] {
                let live = switchboard_intelligence::analyze_live(t, 0, &m, &switchboard_intelligence::EntityOptions::default());
                println!(
                    "{t:?}\n  intent {:?}\n  sentiment {:?} {}",
                    live.intent, live.sentiment.label, live.sentiment.score
                );
            }
        }
        _ => eprintln!("usage: intel eval sentiment|intent|redaction [--data PATH] | bench [SECONDS] | classify TEXT..."),
    }
}

/// The measured part of `repeat` (valgrind --toggle-collect=intel::measured).
#[inline(never)]
fn measured(n: usize, call: &[switchboard_domain::transcript::Segment], opts: &switchboard_intelligence::AnalyzeOptions) {
    for _ in 0..n {
        std::hint::black_box(switchboard_intelligence::analyze(switchboard_intelligence::Input::Segments(call), opts).ok());
    }
}

/// This thread's time on a CPU (Linux: the first field of schedstat, in ns).
fn thread_cpu() -> std::time::Duration {
    let ns = std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse::<u64>().ok()))
        .unwrap_or(0);
    std::time::Duration::from_nanos(ns)
}

/// Times each analysis type alone on the bench call (development aid).
#[allow(dead_code)]
pub fn profile() {
    use switchboard_intelligence::{AnalysisType, AnalyzeOptions, Input, analyze};
    let call = switchboard_intelligence::bench::sample_call(60, 42);
    for t in AnalysisType::ALL {
        let opts = AnalyzeOptions {
            types: vec![t],
            ..AnalyzeOptions::default()
        };
        let _ = analyze(Input::Segments(&call), &opts);
        let s = std::time::Instant::now();
        for _ in 0..200 {
            std::hint::black_box(analyze(Input::Segments(&call), &opts).ok());
        }
        println!("{:<11} {:>8.0} µs", t.as_str(), s.elapsed().as_secs_f64() * 1e6 / 200.0);
    }
}
