//! `nao`: one binary for every role of the protocol.

mod cli;

use clap::Parser;

/// What is logged unless `NAO_LOG` says otherwise: warnings, and what each of nao's crates reports.
const DEFAULT_LOG: &str = "warn,nao=info,nao_numerics=info,nao_chain=info,nao_roles=info";

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("NAO_LOG").unwrap_or_else(|_| DEFAULT_LOG.into()))
        .with_writer(std::io::stderr)
        // colours only for a person at a terminal, not in a log file
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = cli::Cli::parse();
    let run = tokio::runtime::Runtime::new().map_err(eyre::Report::from).and_then(|rt| rt.block_on(cli.run()));
    match run {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            std::process::exit(1);
        }
    }
}

/// An error and its causes on one line a person can act on: each cause once (a cause its parent's message
/// already quotes is left out), no source locations or backtraces.
fn one_line(e: &eyre::Report) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let s = cause.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ")
}
