//! The `switchboard` binary.

use clap::Parser;
use switchboard_server::cli::{self, Cli, Command};

// The request path allocates many small, short-lived values; mimalloc
// serves them markedly cheaper than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => cli::serve(args).await,
            Command::Keys(cmd) => cli::keys(cmd).await,
            Command::Orgs(cmd) => cli::orgs(cmd).await,
            Command::Migrate(args) => cli::migrate(args).await,
            Command::Openapi => cli::print_openapi(),
            Command::Bench(cmd) => switchboard_server::bench::run(cmd).await,
            Command::Eval(cmd) => switchboard_server::eval::run(cmd).await,
            Command::Completions { shell } => {
                cli::completions(shell, &mut std::io::stdout());
                Ok(())
            }
        }
    })
}
