//! `vouch`: the binary edge. Parses arguments, reads the clock and the environment,
//! opens the ledger, prints tables or JSON, and maps every failure to an exit code
//! (see `exit.rs`). The libraries below it do no printing and read no clock.

mod asof;
mod attest;
mod checkpoint;
mod cli;
mod context;
mod demo;
mod diagnose;
mod evidence;
mod exit;
mod http;
mod ingest;
mod output;
mod prove;
mod query;
mod release;
mod remote;
mod replay;
mod serve;
mod witness;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::context::Context;
use crate::exit::{CliResult, Failure};

fn main() -> ExitCode {
    restore_sigpipe();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // `--help` and `--version` are not errors.
            if !e.use_stderr() {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            // The command line did not parse, so `--json` is looked for in it directly:
            // a script asking for JSON gets it for a usage error too.
            if asks_for_json(std::env::args_os()) {
                let message = e.render().to_string();
                let message = message.trim_end();
                let message = message.strip_prefix("error: ").unwrap_or(message);
                print_json_error(message, Failure::Usage);
            }
            output::err_line(e.render().to_string().trim_end());
            return ExitCode::from(Failure::Usage.code());
        }
    };
    init_tracing();
    let json = cli.global.json;
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if json && !output::printed_json() {
                print_json_error(&format!("{:#}", e.error), e.failure);
            }
            output::err_line(&format!("error: {:#}", e.error));
            ExitCode::from(e.failure.code())
        }
    }
}

/// The JSON document a failing command prints on standard output under `--json`.
fn print_json_error(message: &str, failure: Failure) {
    let body = serde_json::json!({ "error": message, "exit_code": failure.code() });
    let _ = writeln!(std::io::stdout(), "{body}");
}

/// Whether a command line that did not parse asked for JSON: `--json` before any `--`.
fn asks_for_json(args: impl IntoIterator<Item = std::ffi::OsString>) -> bool {
    args.into_iter()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--json")
}

/// `vouch runs list | head` should end quietly, as other Unix tools do, rather than
/// panic on a closed pipe: restore the default SIGPIPE action that Rust's runtime ignores.
fn restore_sigpipe() {
    // SAFETY: called first thing in main, before any thread starts; SIG_DFL is a valid
    // disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Logs go to standard error; `VOUCH_LOG` sets the level (error, warn, info, debug, trace).
fn init_tracing() {
    let level = std::env::var("VOUCH_LOG")
        .ok()
        .and_then(|l| l.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::WARN);
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}

fn run(cli: Cli) -> CliResult<u8> {
    let ctx = Context::new(cli.global)?;
    if let Some(url) = ctx.global.server.clone() {
        return remote::run(&ctx, &url, cli.command);
    }
    match cli.command {
        Command::Init(args) => evidence::init(&ctx, &args),
        Command::Serve(args) => serve::serve(&ctx, &args),
        Command::Run(command) => evidence::run(&ctx, command),
        Command::Log(command) => evidence::log(&ctx, command),
        Command::Ingest(args) => ingest::ingest(&ctx, &args),
        Command::Runs(command) => query::runs(&ctx, command),
        Command::Compare(args) => query::compare(&ctx, &args),
        Command::Status(args) => query::status(&ctx, &args),
        Command::Rebuild => query::rebuild(&ctx),
        Command::Quarantine(args) => query::quarantine(&ctx, &args),
        Command::Demo(command) => demo::run(&ctx, command),
        Command::Keys(cli::KeysCommands::Key(command)) => release::keys(&ctx, command),
        Command::Keys(cli::KeysCommands::Vkey(args)) => witness::vkey(&ctx, &args),
        Command::Keys(cli::KeysCommands::Pem(args)) => attest::pem(&ctx, &args),
        Command::Witness(args) => witness::witness(&ctx, &args),
        Command::Policy(command) => release::policy(&ctx, command),
        Command::Review(command) => release::review(&ctx, command),
        Command::Reviews(args) => release::reviews(&ctx, &args),
        Command::Deploy(args) => release::deploy(&ctx, &args),
        Command::Registry(args) => release::registry(&ctx, &args),
        Command::Decisions(args) => release::decisions(&ctx, &args),
        Command::Diagnose(args) => diagnose::diagnose(&ctx, &args),
        Command::Checkpoint(args) => checkpoint::checkpoint(&ctx, &args),
        Command::Prove(command) => prove::prove(&ctx, command),
        // Commands whose exit code carries a verdict.
        Command::Gate(args) => return release::gate(&ctx, &args),
        Command::Promote(args) => return release::promote(&ctx, &args),
        Command::Audit(args) => return release::audit(&ctx, &args),
        Command::Verify(args) => return release::verify(&ctx, &args),
        Command::Export(args) => release::export(&ctx, &args),
        Command::Replay(args) => return replay::replay(&ctx, &args),
        Command::Migrate(args) => return serve::migrate(&ctx, &args),
        Command::VerifyBundle(args) => return release::verify_bundle_command(&ctx, &args),
        Command::Attest(args) => return attest::attest(&ctx, &args),
        Command::VerifyCheckpoint(args) => return witness::verify_checkpoint(&ctx, &args),
    }?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn command_line_is_well_formed() {
        crate::cli::Cli::command().debug_assert();
    }

    #[test]
    fn json_is_found_in_a_command_line_that_did_not_parse() {
        let args = |list: &[&str]| {
            list.iter()
                .map(std::ffi::OsString::from)
                .collect::<Vec<_>>()
        };
        assert!(super::asks_for_json(args(&[
            "vouch", "--json", "runs", "--bogus"
        ])));
        assert!(super::asks_for_json(args(&[
            "vouch", "runs", "show", "--json"
        ])));
        assert!(!super::asks_for_json(args(&["vouch", "runs", "show"])));
        // After `--` it is a value, and the program name is never a flag.
        assert!(!super::asks_for_json(args(&[
            "vouch", "log", "param", "--", "--json"
        ])));
        assert!(!super::asks_for_json(args(&["--json"])));
    }
}
