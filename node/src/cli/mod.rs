//! The command line: one file per subcommand.

mod attack;
mod bench;
mod calibrate;
mod chain_cmds;
mod daemons;
mod models;
mod run;
mod simulate;

use clap::{Parser, Subcommand};

/// nao: tolerance-aware optimistic verification of neural-network inference.
#[derive(Debug, Parser)]
#[command(name = "nao", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Simulate(simulate::SimulateArgs),
    Attack(attack::AttackArgs),
    Bench(bench::BenchArgs),
    Run(run::RunArgs),
    Calibrate(calibrate::CalibrateArgs),
    Deploy(chain_cmds::DeployArgs),
    Register(chain_cmds::RegisterArgs),
    Stake(chain_cmds::StakeArgs),
    Status(chain_cmds::StatusArgs),
    Verify(chain_cmds::VerifyArgs),
    Prover(daemons::ProverArgs),
    Watch(daemons::WatchArgs),
    Validate(daemons::ValidateArgs),
}

impl Cli {
    /// Runs the command; returns the process exit code.
    pub async fn run(self) -> eyre::Result<i32> {
        match self.command {
            Command::Simulate(a) => a.run().await,
            Command::Attack(a) => a.run().await,
            Command::Bench(a) => a.run().await,
            Command::Run(a) => a.run(),
            Command::Calibrate(a) => a.run(),
            Command::Deploy(a) => a.run().await,
            Command::Register(a) => a.run().await,
            Command::Stake(a) => a.run().await,
            Command::Status(a) => a.run().await,
            Command::Verify(a) => a.run().await,
            Command::Prover(a) => a.run().await,
            Command::Watch(a) => a.run().await,
            Command::Validate(a) => a.run().await,
        }
    }
}
