//! The analysis benchmark behind `switchboard bench analysis`: a
//! generated five-minute call (60 segments, about 750 words, with card
//! numbers, phones, dates and money in it) analysed in full, over and
//! over on one thread; then every segment of it analysed live (sentiment
//! and intent), timing each one for p50/p99.

use std::fmt;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use switchboard_domain::phone::Region;
use switchboard_domain::transcript::{Segment, Speaker};

use crate::analysis::{AnalyzeOptions, Input, analyze, analyze_live};
use crate::eval::Rng;
use crate::intent::IntentModel;

/// How long and on what to run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Seconds spent on each of the two parts.
    pub seconds: f64,
    pub segments: usize,
    pub seed: u64,
    /// The running thread's CPU time, when the caller can read it (the
    /// library does no I/O): reported beside wall time, since on a busy
    /// machine the thread waits for a core.
    pub cpu_clock: Option<fn() -> Duration>,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            seconds: 3.0,
            segments: 60,
            seed: 42,
            cpu_clock: None,
        }
    }
}

/// What the benchmark measured.
#[derive(Debug, Clone)]
pub struct BenchReport {
    pub segments: usize,
    pub words: usize,
    pub calls: usize,
    pub elapsed: Duration,
    /// CPU time the full analyses took, when a CPU clock was given.
    pub cpu: Option<Duration>,
    pub live_samples: usize,
    pub live_p50: Duration,
    pub live_p99: Duration,
    pub live_max: Duration,
}

impl BenchReport {
    pub fn calls_per_second(&self) -> f64 {
        self.calls as f64 / self.elapsed.as_secs_f64()
    }
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "analysis bench (one thread)")?;
        writeln!(f, "call: {} segments, {} words, every analysis type", self.segments, self.words)?;
        writeln!(
            f,
            "full analysis: {} calls in {:.2} s = {:.0} calls/s ({:.0} µs per call)",
            self.calls,
            self.elapsed.as_secs_f64(),
            self.calls_per_second(),
            self.elapsed.as_secs_f64() * 1e6 / self.calls.max(1) as f64
        )?;
        if let Some(cpu) = self.cpu {
            writeln!(
                f,
                "  on CPU: {:.2} s = {:.0} calls/s ({:.0} µs per call; the rest of the wall time the thread waited for a core)",
                cpu.as_secs_f64(),
                self.calls as f64 / cpu.as_secs_f64(),
                cpu.as_secs_f64() * 1e6 / self.calls.max(1) as f64
            )?;
        }
        writeln!(
            f,
            "live segment (sentiment + intent): {} samples, p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
            self.live_samples,
            self.live_p50.as_secs_f64() * 1e6,
            self.live_p99.as_secs_f64() * 1e6,
            self.live_max.as_secs_f64() * 1e6
        )
    }
}

const AGENT: &[&str] = &[
    "Thank you for calling Acme Energy, this call may be recorded for quality and training purposes.",
    "Can I have your full name and the account number, please?",
    "Thanks, I can see the account here, let me pull up the last two statements.",
    "I understand, I'm sorry you were charged twice for the same month.",
    "I can put a refund of the duplicate charge through today, it takes three to five business days.",
    "Would you like me to set up a payment plan for the remaining balance?",
    "Is the best number to reach you still the one on file?",
    "I've noted that, is there anything else I can help you with today?",
    "Let me check whether a technician can come out on Thursday afternoon.",
    "Okay, I have booked that for you and you will get a confirmation e-mail shortly.",
];

const CUSTOMER: &[&str] = &[
    "Hi, my name is Dana Reyes and I'm calling about my bill, it's way higher than usual.",
    "Sure, the account number is 55-77123 and the card on file is 4111 1111 1111 1111.",
    "I've been charged twice this month and honestly this is the third time it has happened, it's ridiculous.",
    "I was on hold for forty minutes before anyone picked up, that's not acceptable.",
    "If this isn't fixed I want to speak to a manager or just cancel my account.",
    "Okay, that's great, thank you for sorting it out so quickly.",
    "I can pay the remaining $45.50 next Friday when I get paid.",
    "You can reach me at 415 555 2671 or at dana.reyes@example.com.",
    "Can you call me back tomorrow at 3pm? I have to pick up my kids now.",
    "Also the internet keeps dropping every evening, the router lights go red.",
];

/// A generated call of `segments` segments, agent and customer in turn.
pub fn sample_call(segments: usize, seed: u64) -> Vec<Segment> {
    let mut rng = Rng::new(seed);
    (0..segments)
        .map(|i| {
            let (speaker, pool) = if i % 2 == 0 {
                (Speaker::Agent, AGENT)
            } else {
                (Speaker::Customer, CUSTOMER)
            };
            let text = *rng.pick(pool);
            let start = i as i64 * 5_000;
            Segment::new(speaker, text, start, start + 4_500)
        })
        .collect()
}

/// Runs the benchmark.
pub fn run(opts: &BenchOptions) -> BenchReport {
    let call = sample_call(opts.segments, opts.seed);
    let words: usize = call.iter().map(|s| s.text.split_whitespace().count()).sum();
    let reference: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-12-01T15:00:00Z")
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_else(|_| Utc::now());
    let aopts = AnalyzeOptions::at(reference, chrono_tz::America::New_York, Region::parse("US").ok());
    let model = IntentModel::builtin();
    // Warm up the lazily built lexicons and the model.
    let _ = analyze(Input::Segments(&call), &aopts);
    let budget = Duration::from_secs_f64(opts.seconds.max(0.1));
    let cpu_start = opts.cpu_clock.map(|c| c());
    let started = Instant::now();
    let mut calls = 0;
    while started.elapsed() < budget {
        for _ in 0..10 {
            let a = analyze(Input::Segments(&call), &aopts);
            std::hint::black_box(&a);
            calls += 1;
        }
    }
    let elapsed = started.elapsed();
    let cpu = opts.cpu_clock.zip(cpu_start).map(|(c, s)| c().saturating_sub(s));
    let mut samples: Vec<Duration> = Vec::new();
    let started = Instant::now();
    while started.elapsed() < budget {
        for (i, s) in call.iter().enumerate() {
            let t = Instant::now();
            let l = analyze_live(&s.text, i, &model, &aopts.entities);
            samples.push(t.elapsed());
            std::hint::black_box(&l);
        }
    }
    samples.sort_unstable();
    let pct = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
    BenchReport {
        segments: call.len(),
        words,
        calls,
        elapsed,
        cpu,
        live_samples: samples.len(),
        live_p50: pct(0.50),
        live_p99: pct(0.99),
        live_max: *samples.last().unwrap_or(&Duration::ZERO),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_call_is_a_five_minute_call() {
        let c = sample_call(60, 42);
        let words: usize = c.iter().map(|s| s.text.split_whitespace().count()).sum();
        assert_eq!(c.len(), 60);
        assert!((600..=1000).contains(&words), "{words} words");
        let r = run(&BenchOptions {
            seconds: 0.1,
            ..BenchOptions::default()
        });
        assert!(r.calls > 0 && r.live_samples >= 60);
        assert!(r.to_string().contains("calls/s"));
    }
}
