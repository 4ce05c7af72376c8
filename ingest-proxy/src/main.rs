//! The `ingest-proxy` binary: command line → configuration → logging → the chosen command.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use ingest_proxy::cli::{Cli, Command};
use ingest_proxy::commands;
use ingest_proxy::config::{self, Config, LogFormat};
use tracing_subscriber::EnvFilter;

/// Large blocks (request bodies, the database connection's buffers) get memory of their own
/// from the kernel, given back when they are freed. glibc's malloc raises this threshold after
/// each large block freed (up to 32 MiB), after which bodies land in its per-thread arenas,
/// which keep the memory: the proxy stayed at 150-230 MB after hostile input and large uploads
/// (bench/proxy-memory). A fixed threshold keeps it at the default, 128 KiB, and the proxy
/// idles near 10 MB again; small allocations, those of small events, are unchanged.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_malloc() {
    const MMAP_THRESHOLD: libc::c_int = 128 * 1024;
    // SAFETY: mallopt only sets a parameter of glibc's allocator; called before any thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_malloc() {}

fn main() -> ExitCode {
    tune_malloc();
    if let Err(message) = config::load_dotenv() {
        eprintln!("ingest-proxy: {message}");
        return ExitCode::from(2);
    }
    let cli = Cli::parse();
    let config = match Config::from_settings(&cli.settings) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("ingest-proxy: {err}");
            return ExitCode::from(2);
        }
    };
    init_tracing(&config);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("ingest-proxy: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let command = cli.command.unwrap_or(Command::Serve);
    match runtime.block_on(commands::run(command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::debug!(error = %err, "command failed");
            eprintln!("ingest-proxy: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to standard error, so that command output on standard output stays clean.
fn init_tracing(config: &Config) {
    // Validated by Config::from_settings.
    let filter = EnvFilter::try_new(&config.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    // tokio_postgres logs (through the `log` crate) every statement's parameters at debug,
    // that is request bodies and keys: its records are dropped unless the filter names it.
    let mut bridge = tracing_log::LogTracer::builder();
    if !config.log_filter.contains("tokio_postgres") {
        bridge = bridge.ignore_crate("tokio_postgres");
    }
    if let Err(err) = bridge.init() {
        eprintln!("ingest-proxy: cannot forward `log` records: {err}");
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}
