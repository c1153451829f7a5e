//! Logging set-up shared by `serve`, the admin commands and the benchmarks.

/// Logs to stderr as text or JSON (`format`), filtered by `SWITCHBOARD_LOG` (default `info`).
pub fn init(format: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("SWITCHBOARD_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if format == "json" {
        let _ = builder.json().try_init();
    } else {
        let _ = builder.try_init();
    }
}
