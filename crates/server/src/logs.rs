//! Logging set-up shared by `serve`, the admin commands and the benchmarks.

use std::io::IsTerminal as _;

/// Logs to stderr as `text`, `json`, or `auto` (JSON when stderr is not a
/// terminal — a file, a pipe, a log collector — else text), filtered by
/// `SWITCHBOARD_LOG` (default `info`). Colour codes only ever go to a terminal.
pub fn init(format: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("SWITCHBOARD_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let terminal = std::io::stderr().is_terminal();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(terminal);
    if resolve(format, terminal) == "json" {
        let _ = builder.json().try_init();
    } else {
        let _ = builder.try_init();
    }
}

/// The format `auto` stands for, given whether the logs go to a terminal.
pub fn resolve(format: &str, terminal: bool) -> &str {
    match format {
        "auto" if terminal => "text",
        "auto" => "json",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn auto_is_json_unless_a_terminal_reads_the_logs() {
        assert_eq!(super::resolve("auto", false), "json");
        assert_eq!(super::resolve("auto", true), "text");
        assert_eq!(super::resolve("text", false), "text");
        assert_eq!(super::resolve("json", true), "json");
    }
}
