//! `loadgen`: command line → one single-threaded run → report. Exit 2 on setup errors only.

mod cli;
mod client;
mod corpus;
mod cpu;
mod gzip;
mod load;
mod measure;
mod payload;
mod procfs;
mod report;
mod rss;
mod run;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let config = match cli::Config::from_args(cli::Args::parse()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("loadgen: {err}");
            return ExitCode::from(2);
        }
    };
    // One thread: the machine's cores belong to the proxy and PostgreSQL.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("loadgen: cannot start the runtime: {err}");
            return ExitCode::from(2);
        }
    };
    let local = tokio::task::LocalSet::new();
    match local.block_on(&runtime, run::run(config)) {
        Ok(report) => {
            report.print();
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("loadgen: {err}");
            ExitCode::from(2)
        }
    }
}
