//! `vouch serve` and `vouch migrate`: the commands that move between one machine and a
//! NATS stream.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use vouch_ledger::FollowOptions;

use crate::cli::{MigrateArgs, ServeArgs};
use crate::context::{nats_options, Context};
use crate::exit::{bad_input, CliError, CliResult, Failure};
use crate::output::{self, note, say, Progress};

/// Set by SIGINT or SIGTERM; the follower checks it between steps.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn request_stop(_signal: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    STOP.store(true, Ordering::SeqCst);
}

fn install_stop_handlers() {
    let handler = request_stop as extern "C" fn(libc::c_int);
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            libc::signal(signal, handler as libc::sighandler_t);
        }
    }
}

pub fn serve(ctx: &Context, args: &ServeArgs) -> CliResult<()> {
    if args.poll_ms == 0 || args.poll_ms > 60_000 {
        return Err(bad_input("--poll-ms must be 1 to 60000"));
    }
    install_stop_handlers();
    if let Some(addr) = args.http {
        return serve_http(ctx, args, addr);
    }
    let pacing = FollowOptions {
        poll: Duration::from_millis(args.poll_ms),
        ..FollowOptions::default()
    };
    tracing::info!(ledger = %ctx.global.ledger.display(), "vouch serve starting");
    let report = vouch_ledger::follow(&ctx.global.ledger, ctx.options(), &pacing, &STOP)?;
    if ctx.global.json {
        output::json(&report);
    } else {
        note!(
            "stopped at position {}: {} applied, {} quarantined, {} duplicates skipped, {} retries",
            report.position,
            report.applied,
            report.quarantined,
            report.duplicates,
            report.retries
        );
    }
    Ok(())
}

/// `vouch serve --http`: Vouch's JSON API on `addr` until SIGINT or SIGTERM.
fn serve_http(ctx: &Context, args: &ServeArgs, addr: std::net::SocketAddr) -> CliResult<()> {
    use vouch_server::ServeError;
    let failure = |e: ServeError| {
        let failure = match &e {
            ServeError::OpenToTheNetwork(_) => Failure::Usage,
            ServeError::Tokens { .. } => Failure::BadInput,
            _ => Failure::Io,
        };
        CliError::new(failure, e.into())
    };
    let tokens = args
        .tokens
        .as_deref()
        .map(vouch_server::Tokens::load)
        .transpose()
        .map_err(failure)?;
    vouch_server::check_listen(addr, tokens.as_ref()).map_err(failure)?;
    // Fail now, not on the first request, when the directory is not a ledger.
    let follows_a_stream = matches!(ctx.open()?.backend(), vouch_ledger::Backend::Nats(_));
    // A NATS ledger's views keep following the stream between requests, as `vouch serve`
    // does without --http (each request also catches up first).
    let follower = follows_a_stream.then(|| {
        let dir = ctx.global.ledger.clone();
        let options = ctx.options().clone();
        let pacing = FollowOptions {
            poll: Duration::from_millis(args.poll_ms),
            ..FollowOptions::default()
        };
        std::thread::spawn(move || vouch_ledger::follow(&dir, &options, &pacing, &STOP))
    });
    let options = vouch_server::HttpOptions {
        addr,
        ledger: ctx.global.ledger.clone(),
        open: ctx.options().clone(),
        tokens,
        max_body_bytes: args.max_body_mib as usize * (1 << 20),
        max_upload_bytes: args.max_upload_mib.saturating_mul(1 << 20),
        clock: crate::context::now,
        release_key: args
            .release_key
            .as_deref()
            .map(crate::release::load_key)
            .transpose()?,
        producer: ctx.producer.clone(),
        policies: args
            .policies
            .iter()
            .map(|path| {
                let text = crate::release::read_policy(path)?;
                let policy = vouch_policy::Policy::parse(&text).map_err(|e| {
                    CliError::new(
                        Failure::BadInput,
                        anyhow::anyhow!("policy {}: {e}", path.display()),
                    )
                })?;
                Ok((policy.model().clone(), text))
            })
            .collect::<CliResult<_>>()?,
    };
    let json = ctx.global.json;
    let served = vouch_server::serve(
        options,
        |bound| {
            if json {
                output::json(&serde_json::json!({ "listening": format!("http://{bound}") }));
            } else {
                say!("listening on http://{bound}");
            }
            use std::io::Write;
            let _ = std::io::stdout().flush();
        },
        vouch_server::until(&STOP),
    )
    .map_err(failure);
    STOP.store(true, Ordering::SeqCst);
    if let Some(follower) = follower {
        match follower.join().expect("the follower does not panic") {
            Ok(report) => note!("stopped following at position {}", report.position),
            Err(e) => note!("following the stream stopped: {e}"),
        }
    }
    served?;
    note!("stopped");
    Ok(())
}

pub fn migrate(ctx: &Context, args: &MigrateArgs) -> CliResult<u8> {
    let mut nats = nats_options(&ctx.global.nats, args.to.clone())?;
    nats.replicas = usize::from(args.replicas);
    nats.stream = args.stream.clone();
    nats.prefix = args.prefix.clone();
    let mut options = ctx.options().clone();
    // `--nats` names the stream this ledger follows; the source here must be embedded.
    options.nats_url = None;
    let ledger = vouch_ledger::Ledger::open(&ctx.global.ledger, &options)?;
    let trust = ledger.trust().clone();
    let progress = Progress::new("migrating");
    let mut phase = String::new();
    let report = ledger
        .migrate_to(&nats, &trust, &mut |what, at, end| {
            if what != phase {
                phase = what.to_owned();
                progress.set_message(what);
            }
            progress.update(at, end);
        })
        .map_err(|e| {
            use vouch_ledger::MigrateError as M;
            let failure = match &e {
                M::NotEmbedded | M::Foreign { .. } => Failure::BadInput,
                M::Mismatch { .. } => Failure::Verify,
                M::Nats(n) => crate::exit::nats_failure(n),
                _ => Failure::Unavailable,
            };
            CliError::new(failure, e.into())
        })?;
    progress.finish();
    let ok = report.verify.failure.is_none();
    if ctx.global.json {
        output::json(&serde_json::json!({ "ok": ok, "report": report }));
    } else {
        say!(
            "copied {} records into stream `{}` ({} were already there from an earlier run); \
             {} records read back and equal",
            report.copied,
            report.stream,
            report.already_there,
            report.records
        );
        say!(
            "chain on the stream: {} decisions, {} reviews, {} signatures checked",
            report.verify.decisions,
            report.verify.reviews,
            report.verify.signatures
        );
        if ok {
            let prefix = if args.prefix == "vouch" {
                String::new()
            } else {
                format!(" --prefix {}", args.prefix)
            };
            say!(
                "next: `vouch init --nats {} --stream {}{prefix} --ledger NEWDIR` on each \
                 machine, and `vouch keys trust` the same keys there (trust is per directory)",
                args.to,
                report.stream
            );
        }
    }
    match &report.verify.failure {
        None => Ok(0),
        Some(f) => {
            note!(
                "error: the chain on the stream does not verify at position {}: {}",
                f.position,
                f.reason
            );
            Ok(Failure::Verify.code())
        }
    }
}
