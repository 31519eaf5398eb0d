//! `nao`: one binary for every role of the protocol.

mod cli;

use clap::Parser;

fn main() -> eyre::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("NAO_LOG").unwrap_or_else(|_| "warn,nao=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = cli::Cli::parse();
    let code = tokio::runtime::Runtime::new()?.block_on(cli.run())?;
    std::process::exit(code);
}
