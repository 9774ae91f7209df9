//! Edges of the CLI (issue 11): bounded resources on every write path and every file it
//! reads, exit codes exactly as README's table says, control characters kept off the
//! terminal, the documented time range, and `--event-id` on every command that writes
//! an event.

use serde_json::Value;

use crate::support::{Run, TestLedger};

/// A ledger with run `r1` started.
fn ledger_with_run() -> TestLedger {
    let ledger = TestLedger::new();
    ledger.start_run("r1");
    ledger
}

/// `vouch ARGS…` where ARGS are owned strings.
fn vouch(ledger: &TestLedger, args: &[String]) -> Run {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ledger.vouch(&args)
}

/// The log's last position.
#[track_caller]
fn log_position(ledger: &TestLedger) -> u64 {
    let status = ledger.vouch(&["--json", "status"]);
    status.ok();
    status.json()["log_position"].as_u64().expect("a position")
}

// ---------------------------------------------------------------------------------------
// 1 MiB per event, on every write path
// ---------------------------------------------------------------------------------------

/// `log param --run r1` with `count` params of 4,000 bytes each (a param value is at most
/// 4,096 characters).
fn params_args(count: usize) -> Vec<String> {
    let mut args: Vec<String> = ["log", "param", "--run", "r1"].map(String::from).into();
    args.extend((0..count).map(|i| format!("p{i:03}={}", "v".repeat(4000))));
    args
}

#[test]
fn log_param_and_metric_refuse_events_over_one_mib_and_store_nothing() {
    let ledger = ledger_with_run();
    let before = log_position(&ledger);

    // 270 values of 4,000 bytes: each one is fine, the event is over 1 MiB.
    let run = vouch(&ledger, &params_args(270));
    run.fails(65, "over the 1048576-byte limit");
    // 80,000 metrics of one byte each: small as arguments, over 1 MiB encoded.
    let mut metrics: Vec<String> = ["log", "metric", "--run", "r1"].map(String::from).into();
    metrics.extend((0..80_000).map(|i| format!("m{i:05}=1")));
    vouch(&ledger, &metrics).fails(65, "over the 1048576-byte limit");
    let json = {
        let mut args = vec!["--json".to_owned()];
        args.extend(params_args(270));
        vouch(&ledger, &args)
    };
    assert_eq!(json.code, 65);
    assert_eq!(json.json()["exit_code"], 65, "{}", json.stdout);
    assert_eq!(log_position(&ledger), before, "nothing was stored");

    // Just under the limit is stored.
    vouch(&ledger, &params_args(250)).ok();
    assert_eq!(log_position(&ledger), before + 1);
}

#[test]
fn ingest_reports_an_event_over_one_mib_encoded_as_a_bad_line_and_stores_the_rest() {
    let ledger = ledger_with_run();
    // 80,000 metrics: about 880 KB of JSON, under the line limit, but 1.2 MB encoded
    // (each value is 8 bytes stored).
    let metrics: Vec<String> = (0..80_000).map(|i| format!(r#""m{i:05}":1"#)).collect();
    let big = format!(
        r#"{{"id":"big","kind":"metrics_logged","schema":1,"time":"2026-11-28T04:20:51Z","producer":"e2e","run":"r1","data":{{"metrics":{{{}}}}}}}"#,
        metrics.join(",")
    );
    assert!(big.len() < 1 << 20);
    let small = r#"{"id":"small","kind":"params_logged","schema":1,"time":"2026-11-28T04:20:51Z","producer":"e2e","run":"r1","data":{"params":{"a":"b"}}}"#;
    let path = ledger.file("big.jsonl", format!("{small}\n{big}\n").as_bytes());
    let run = ledger.vouch(&["--json", "ingest", path.to_str().unwrap()]);
    assert_eq!(run.code, 65, "{}", run.stderr);
    let summary: Value = serde_json::from_str(run.stdout.lines().next().unwrap_or(""))
        .or_else(|_| serde_json::from_str(&run.stdout))
        .unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
    let bad = summary["bad_lines"].as_array().expect("bad lines");
    assert_eq!(bad.len(), 1, "{summary}");
    assert_eq!(bad[0]["line"], 2);
    assert!(
        bad[0]["error"].as_str().unwrap().contains("1048576-byte"),
        "{summary}"
    );
    assert_eq!(summary["appended"], 1, "{summary}");
    assert_eq!(log_position(&ledger), 2);
}

// ---------------------------------------------------------------------------------------
// --event-id on every command that writes an event
// ---------------------------------------------------------------------------------------

/// Runs a write command with `--event-id ID` three times: first it records, then the same
/// command again is a duplicate (exit 0, nothing written), then the command with a changed
/// value is refused (exit 65, naming the id) and writes nothing.
#[track_caller]
fn retried(ledger: &TestLedger, id: &str, command: impl Fn(&str) -> Vec<String>) {
    // After the two words of the command, before any values (`log metric` takes values
    // that start with a hyphen, so flags after them would be values too).
    let with_id = |value: &str| {
        let mut args = command(value);
        args.splice(2..2, ["--event-id".to_owned(), id.to_owned()]);
        args
    };
    let first = vouch(ledger, &with_id("one"));
    first.ok();
    let position = log_position(ledger);
    // The retry is another process, so its time differs; it is still the same event.
    let again = vouch(ledger, &with_id("one"));
    again.ok();
    assert_eq!(log_position(ledger), position, "a retry wrote: {again:?}");
    let mut json = vec!["--json".to_owned()];
    json.extend(with_id("one"));
    let again = vouch(ledger, &json);
    assert_eq!(again.json()["duplicate"], true, "{}", again.stdout);

    let changed = vouch(ledger, &with_id("two"));
    changed.fails(65, &format!("event id `{id}` is already in the log"));
    assert_eq!(log_position(ledger), position, "a changed retry wrote");
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| (*a).to_owned()).collect()
}

#[test]
fn every_evidence_write_takes_event_id_and_a_retry_writes_nothing() {
    let ledger = TestLedger::new();
    retried(&ledger, "start-1", |v| {
        strings(&[
            "run",
            "start",
            "--experiment",
            v,
            "--run-id",
            "r1",
            "--git",
            "none",
        ])
    });
    retried(&ledger, "param-1", |v| {
        strings(&["log", "param", "--run", "r1", &format!("lr={v}")])
    });
    retried(&ledger, "metric-1", |v| {
        let value = if v == "one" { "0.5" } else { "0.6" };
        strings(&[
            "log",
            "metric",
            "--run",
            "r1",
            "--step",
            "3",
            &format!("auc={value}"),
        ])
    });
    let file = ledger.file("model.bin", b"weights");
    retried(&ledger, "artifact-1", |v| {
        strings(&[
            "log",
            "artifact",
            "--run",
            "r1",
            "--name",
            v,
            file.to_str().unwrap(),
        ])
    });
    let data = ledger.file("valid.csv", b"a,b\n1,2\n3,4\n");
    retried(&ledger, "dataset-1", |v| {
        let rows = if v == "one" { "2" } else { "3" };
        strings(&[
            "log",
            "dataset",
            "--run",
            "r1",
            "--role",
            "validation",
            "--rows",
            rows,
            "--snapshot-at",
            "2026-11-01T00:00:00Z",
            data.to_str().unwrap(),
        ])
    });
    retried(&ledger, "finish-1", |v| {
        let status = if v == "one" { "ok" } else { "failed" };
        strings(&["run", "finish", "--run", "r1", "--status", status])
    });
}

#[test]
fn run_start_with_an_event_id_and_no_run_id_starts_the_same_run_on_a_retry() {
    let ledger = TestLedger::new();
    let args = [
        "run",
        "start",
        "--experiment",
        "e",
        "--git",
        "none",
        "--event-id",
        "job-7",
    ];
    let first = ledger.vouch(&args);
    let run = first.ok().trim().to_owned();
    let again = ledger.vouch(&args);
    assert_eq!(again.ok().trim(), run);
    assert_eq!(log_position(&ledger), 1);
}

#[test]
fn log_live_takes_event_id_and_a_retry_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let demo = tmp.path().join("demo");
    let run = std::process::Command::new(crate::support::vouch_bin())
        .arg("--ledger")
        .arg(&demo)
        .args(["demo", "loan-risk"])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let ledger = TestLedger { tmp, nats: None };
    std::fs::rename(&demo, ledger.path()).unwrap();
    retried(&ledger, "live-1", |v| {
        let value = if v == "one" { "0.81" } else { "0.71" };
        strings(&[
            "log",
            "live",
            "--model",
            "loan-risk",
            "--artifact",
            &format!("blake3:{}", "ab".repeat(32)),
            "--window-start",
            "2026-11-01T00:00:00Z",
            "--window-end",
            "2026-11-02T00:00:00Z",
            "--labels-through",
            "2026-11-03T00:00:00Z",
            &format!("auc={value}"),
        ])
    });
}

// ---------------------------------------------------------------------------------------
// Files Vouch is handed: regular files only, size-capped before reading
// ---------------------------------------------------------------------------------------

/// Runs `vouch ARGS…` and fails the test if it has not ended within 20 seconds (a FIFO
/// that blocks would otherwise hang the suite).
fn vouch_promptly(ledger: &TestLedger, args: &[&str]) -> Run {
    let mut child = ledger
        .command()
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn vouch");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while child.try_wait().expect("wait").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("vouch {args:?} did not return within 20 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("output");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn mkfifo(path: &std::path::Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

/// A sparse file of 5 GB: reading it whole would take minutes and gigabytes.
fn huge(path: &std::path::Path) {
    std::fs::File::create(path)
        .unwrap()
        .set_len(5 << 30)
        .unwrap();
}

/// The smallest document that parses as a bundle, so verify-bundle reaches `--trust`.
const EMPTY_BUNDLE: &str =
    r#"{"format":"vouch-audit-bundle-v2","artifact":"x","decision":0,"records":[],"keys":[]}"#;

/// Each file argument Vouch reads, as `vouch` arguments around the path.
fn file_commands(ledger: &TestLedger, path: &str) -> Vec<(&'static str, Vec<String>)> {
    let bundle = ledger.file("empty-bundle.json", EMPTY_BUNDLE.as_bytes());
    vec![
        (
            "key file",
            strings(&[
                "promote", "--run", "r1", "--model", "m", "--policy", "p.toml", "--key", path,
            ]),
        ),
        (
            "key file",
            strings(&[
                "review",
                "approve",
                "--decision",
                "0",
                "--reason",
                "x",
                "--key",
                path,
            ]),
        ),
        ("policy", strings(&["policy", "check", path])),
        (
            "policy",
            strings(&["gate", "--run", "r1", "--model", "m", "--policy", path]),
        ),
        ("audit bundle", strings(&["verify-bundle", path])),
        (
            "trust list",
            strings(&["verify-bundle", bundle.to_str().unwrap(), "--trust", path]),
        ),
    ]
}

/// Runs `init` of a NATS ledger with `--nats-creds PATH`: the file is read before any
/// connection is tried, so no server is needed.
fn init_with_creds(path: &std::path::Path) -> Run {
    let ledger = TestLedger::nats_uninitialised("nats://127.0.0.1:1");
    vouch_promptly(&ledger, &["--nats-creds", path.to_str().unwrap(), "init"])
}

#[test]
fn a_fifo_or_device_given_as_a_file_is_refused_promptly() {
    let ledger = ledger_with_run();
    let fifo = ledger.tmp.path().join("fifo");
    mkfifo(&fifo);
    ledger.file("p.toml", b"");
    for path in [fifo.to_str().unwrap(), "/dev/zero"] {
        for (what, args) in file_commands(&ledger, path) {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let run = vouch_promptly(&ledger, &args);
            assert_eq!(run.code, 65, "{what} {path}: {run:?}");
            assert!(
                run.stderr.contains("not a regular file"),
                "{what} {path}: {}",
                run.stderr
            );
        }
        let run = init_with_creds(std::path::Path::new(path));
        assert_eq!(run.code, 65, "NATS credentials {path}: {run:?}");
        assert!(run.stderr.contains("not a regular file"), "{}", run.stderr);
    }
}

#[test]
fn an_oversized_file_is_refused_by_its_size_without_reading_it() {
    let ledger = ledger_with_run();
    let big = ledger.tmp.path().join("big");
    huge(&big);
    ledger.file("p.toml", b"");
    for (what, args) in file_commands(&ledger, big.to_str().unwrap()) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let start = std::time::Instant::now();
        let run = vouch_promptly(&ledger, &args);
        assert_eq!(run.code, 65, "{what}: {run:?}");
        assert!(
            run.stderr.contains("it is 5368709120 bytes, over the")
                && run.stderr.contains(&format!("-byte limit for a {what}")),
            "{what}: {}",
            run.stderr
        );
        assert!(
            start.elapsed() < std::time::Duration::from_secs(5),
            "{what} took {:?}",
            start.elapsed()
        );
    }
    let run = init_with_creds(&big);
    assert_eq!(run.code, 65, "NATS credentials: {run:?}");
    assert!(
        run.stderr.contains(
            "it is 5368709120 bytes, over the 65536-byte limit for a NATS credentials file"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn a_fifo_or_huge_trust_json_in_the_ledger_is_a_damaged_store_not_a_hang() {
    for make in [mkfifo as fn(&std::path::Path), huge] {
        let ledger = ledger_with_run();
        let trust = ledger.path().join("trust.json");
        let _ = std::fs::remove_file(&trust);
        make(&trust);
        for args in [&["status"][..], &["verify"], &["rebuild"]] {
            let run = vouch_promptly(&ledger, args);
            assert_eq!(run.code, 70, "{args:?}: {run:?}");
            assert!(
                run.stderr.contains("trust.json"),
                "{args:?}: {}",
                run.stderr
            );
        }
    }
}

/// The marker too: a FIFO or a huge `ledger.json` is a damaged marker (70), named, at once.
#[test]
fn a_fifo_or_huge_ledger_json_is_a_damaged_marker_not_a_hang() {
    for make in [mkfifo as fn(&std::path::Path), huge] {
        let ledger = ledger_with_run();
        let marker = ledger.path().join("ledger.json");
        std::fs::remove_file(&marker).unwrap();
        make(&marker);
        for args in [&["status"][..], &["runs", "list"], &["rebuild"]] {
            let run = vouch_promptly(&ledger, args);
            assert_eq!(run.code, 70, "{args:?}: {run:?}");
            assert!(
                run.stderr.contains("ledger.json"),
                "{args:?}: {}",
                run.stderr
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Exit codes as README's table says
// ---------------------------------------------------------------------------------------

/// `vouch` with a file-size limit (`RLIMIT_FSIZE`) of `bytes`: a write past it fails with
/// EFBIG, as a write on a full disk fails, without needing a disk to fill.
fn limited(ledger: &TestLedger, bytes: u64) -> std::process::Command {
    use std::os::unix::process::CommandExt;
    let mut command = ledger.command();
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            // A write past the limit raises SIGXFSZ, which would kill the process before
            // it could report anything: ignored, the write fails with EFBIG instead.
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command
}

fn output(command: &mut std::process::Command) -> Run {
    let output = command.output().expect("spawn vouch");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// 160 params of 4,000 bytes: one event of about 640 KB.
fn big_params() -> Vec<String> {
    let mut args = strings(&["log", "param", "--run", "r1"]);
    args.extend((0..160).map(|i| format!("p{i:03}={}", "v".repeat(4000))));
    args
}

#[test]
fn a_write_that_fails_like_a_full_disk_is_an_io_error_74() {
    // The log's write fails: nothing stored.
    let ledger = ledger_with_run();
    let before = log_position(&ledger);
    let run = output(limited(&ledger, 600_000).args(big_params()));
    run.fails(74, "File too large");
    let json = output(limited(&ledger, 600_000).arg("--json").args(big_params()));
    assert_eq!(json.code, 74, "{json:?}");
    assert_eq!(json.json()["exit_code"], 74);
    assert_eq!(log_position(&ledger), before, "nothing stored");
    // The views' write fails (the store's files are larger than the limit).
    let ledger = ledger_with_run();
    let run = output(limited(&ledger, 200).args(["log", "param", "--run", "r1", "a=b"]));
    run.fails(74, "File too large");
}

#[test]
fn ingest_on_a_full_disk_fails_with_74_while_its_input_stays_open() {
    use std::io::Write;
    let ledger = ledger_with_run();
    let mut child = limited(&ledger, 600_000)
        .args(["ingest", "--batch", "1", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn vouch");
    let params: Vec<String> = (0..160)
        .map(|i| format!(r#""p{i:03}":"{}""#, "v".repeat(4000)))
        .collect();
    let line = format!(
        r#"{{"id":"big","kind":"params_logged","schema":1,"time":"2026-11-28T04:20:51Z","producer":"e2e","run":"r1","data":{{"params":{{{}}}}}}}"#,
        params.join(",")
    );
    // Standard input stays open, as a pipeline's would: the append fails, and the
    // command must end anyway, not wait for more input.
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(format!("{line}\n").as_bytes()).unwrap();
    stdin.flush().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("ingest on a full disk did not end within 20 s with its input open");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        status.code(),
        Some(74),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The ledger is free again at once.
    assert_eq!(log_position(&ledger), 1);
}

#[test]
fn damaged_files_vouch_wrote_are_a_damaged_store_70_for_every_command() {
    for (file, content) in [
        ("ledger.json", &b"garbage"[..]),
        ("ledger.json", b""),
        ("trust.json", b"{ not json"),
        ("trust.json", b"[]"),
    ] {
        let ledger = ledger_with_run();
        std::fs::write(ledger.path().join(file), content).unwrap();
        for args in [
            &["status"][..],
            &["verify"],
            &["rebuild"],
            &["runs", "list"],
        ] {
            let run = ledger.vouch(args);
            run.fails(70, file);
            let mut json = vec!["--json"];
            json.extend(args);
            assert_eq!(
                ledger.vouch(&json).json()["exit_code"],
                70,
                "{file} {args:?}"
            );
        }
    }
}

#[test]
fn verify_and_rebuild_give_the_same_code_for_a_damaged_log_record() {
    let ledger = ledger_with_run();
    for step in 0..20 {
        ledger
            .vouch(&[
                "log",
                "metric",
                "--run",
                "r1",
                "--step",
                &step.to_string(),
                "auc=0.5",
            ])
            .ok();
    }
    // Flip a byte in the middle of the first segment: a record there no longer matches
    // its checksum, and whole records follow it, so it is damage, not a torn tail.
    let segments = ledger.path().join("log").join("segments");
    let segment = std::fs::read_dir(&segments)
        .unwrap()
        .map(|e| e.unwrap().path())
        .min()
        .expect("a segment");
    let mut bytes = std::fs::read(&segment).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&segment, bytes).unwrap();

    let verify = ledger.vouch(&["verify"]);
    let rebuild = ledger.vouch(&["rebuild"]);
    assert_eq!(
        (verify.code, rebuild.code),
        (70, 70),
        "verify: {verify:?}\nrebuild: {rebuild:?}"
    );
    assert!(verify.stderr.contains("damaged"), "{}", verify.stderr);
    let json = ledger.vouch(&["--json", "verify"]);
    assert_eq!(json.code, 70);
    assert_eq!(json.json()["ok"], false);
}

#[test]
fn usage_errors_print_json_under_json() {
    let ledger = TestLedger::new();
    for args in [
        &["--json", "runs", "--bogus"][..],
        &["--json", "log", "param"],
        &["runs", "show", "--json"],
        &["--json", "frobnicate"],
    ] {
        let run = ledger.vouch(args);
        assert_eq!(run.code, 64, "{args:?}: {run:?}");
        let doc = run.json();
        assert_eq!(doc["exit_code"], 64, "{args:?}");
        assert!(!doc["error"].as_str().unwrap().is_empty(), "{doc}");
        assert!(
            !run.stderr.is_empty(),
            "the message still goes to standard error"
        );
    }
    // Without --json, standard output stays empty.
    let run = ledger.vouch(&["runs", "--bogus"]);
    assert_eq!((run.code, run.stdout.as_str()), (64, ""));
    // Help and version are not errors.
    assert_eq!(ledger.vouch(&["--json", "--version"]).code, 0);
}

#[test]
fn an_event_id_recorded_with_other_content_is_bad_input_65() {
    let ledger = ledger_with_run();
    let line = |value: &str| {
        format!(
            r#"{{"id":"same","kind":"params_logged","schema":1,"time":"2026-11-28T04:20:51Z","producer":"e2e","run":"r1","data":{{"params":{{"a":"{value}"}}}}}}"#
        )
    };
    ledger
        .vouch_with_input(&["ingest", "-"], line("1").as_bytes())
        .ok();
    // The same line again is a duplicate.
    ledger
        .vouch_with_input(&["ingest", "-"], line("1").as_bytes())
        .ok();
    // Other content under the id: a bad line naming the id, the rest stored.
    let other = format!(
        "{}\n{}\n",
        line("2"),
        r#"{"id":"fresh","kind":"params_logged","schema":1,"time":"2026-11-28T04:20:51Z","producer":"e2e","run":"r1","data":{"params":{"b":"1"}}}"#
    );
    let run = ledger.vouch_with_input(&["ingest", "-"], other.as_bytes());
    run.fails(65, "line 1: event id `same` is already in the log");
    assert_eq!(
        log_position(&ledger),
        3,
        "run_started, `same` once, `fresh`"
    );
    // From the command line too.
    ledger
        .vouch(&["log", "param", "--run", "r1", "--event-id", "same", "a=3"])
        .fails(65, "event id `same`");
}

// ---------------------------------------------------------------------------------------
// Terminal output: control characters escaped, JSON exact
// ---------------------------------------------------------------------------------------

const OSC_TITLE: &str = "\x1b]0;pwned\x07";
const SGR_RED: &str = "\x1b[31m";

/// No byte a terminal would act on: C0 controls other than the newline, DEL, and the C1
/// controls (U+0080..U+009F).
#[track_caller]
fn assert_no_controls(what: &str, text: &str) {
    let bad: Vec<char> = text
        .chars()
        .filter(|&c| c != '\n' && c.is_control())
        .collect();
    assert!(
        bad.is_empty(),
        "{what} printed control characters {bad:?}:\n{text}"
    );
}

#[test]
fn logged_values_reach_the_terminal_escaped_and_json_exact() {
    let ledger = ledger_with_run();
    ledger.start_run("r2");
    let value = format!("{OSC_TITLE}x{SGR_RED}y\u{9b}2J");
    for run in ["r1", "r2"] {
        ledger
            .vouch(&["log", "param", "--run", run, &format!("evil={value}")])
            .ok();
    }
    for args in [&["runs", "show", "r1"][..], &["compare", "r1", "r2"]] {
        let run = ledger.vouch(args);
        assert_no_controls(&format!("{args:?}"), run.ok());
        assert!(
            run.stdout.contains(r"\x1b]0;pwned\x07x\x1b[31my\u{9b}2J"),
            "{args:?} should show the value escaped:\n{}",
            run.stdout
        );
    }
    // JSON keeps the exact value.
    let doc = ledger.vouch(&["--json", "runs", "show", "r1"]).json();
    assert_eq!(doc["params"]["evil"]["value"], value.as_str());

    // An error echoing the input is escaped too.
    let run = ledger.vouch(&["log", "metric", "--run", "r1", &format!("auc={SGR_RED}1")]);
    assert_eq!(run.code, 65);
    assert_no_controls("a refused metric", &run.stderr);
    assert!(run.stderr.contains(r"\x1b[31m1"), "{}", run.stderr);
}

#[test]
fn ingest_errors_echo_rejected_bytes_escaped() {
    let ledger = ledger_with_run();
    let lines = [
        // An unknown kind, named in the error.
        r#"{"id":"a","kind":"\u001b]0;pwned\u0007","schema":1,"time":"2026-11-28T04:20:51Z","producer":"e2e","run":"r1","data":{}}"#.to_owned(),
        // A run id that breaks its rule, echoed in the error.
        r#"{"id":"b","kind":"params_logged","schema":1,"time":"2026-11-28T04:20:51Z","producer":"e2e","run":"\u001b[31m","data":{"params":{"a":"b"}}}"#.to_owned(),
        // Raw control bytes: not even JSON.
        format!("{OSC_TITLE}{SGR_RED}\x7f\u{9b}"),
    ];
    let run = ledger.vouch_with_input(&["ingest", "-"], lines.join("\n").as_bytes());
    assert_eq!(run.code, 65, "{run:?}");
    assert_no_controls("ingest's report", &run.stderr);
    assert_no_controls("ingest's summary", &run.stdout);
    assert!(run.stderr.matches("line ").count() >= 3, "{}", run.stderr);
}

#[test]
fn a_missing_log_is_not_found_66_and_another_log_a_damaged_store_70() {
    let ledger = ledger_with_run();
    std::fs::remove_dir_all(ledger.path().join("log")).unwrap();
    for args in [&["status"][..], &["verify"], &["runs", "list"]] {
        ledger.vouch(args).fails(66, "missing");
    }
    // Another ledger's log under these views.
    let ledger = ledger_with_run();
    let other = TestLedger::new();
    other.start_run("r9");
    std::fs::remove_dir_all(ledger.path().join("log")).unwrap();
    std::fs::rename(other.path().join("log"), ledger.path().join("log")).unwrap();
    for args in [&["status"][..], &["verify"], &["runs", "list"]] {
        ledger.vouch(args).fails(70, "the log found is");
    }
}

// ---------------------------------------------------------------------------------------
// Ingest memory
// ---------------------------------------------------------------------------------------

/// Runs `command` to the end and returns its peak resident memory in bytes, read from the
/// kernel's accounting of that one child (`wait4`), not of the whole test process.
fn peak_memory(mut command: std::process::Command) -> (i32, u64) {
    let child = command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn vouch");
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value to be filled in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: our own child, waited for once; `child` is not waited for again.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4");
    std::mem::forget(child);
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    // Linux reports ru_maxrss in kilobytes.
    (code, u64::try_from(usage.ru_maxrss).unwrap() * 1024)
}

#[test]
fn ingest_memory_is_bounded_by_bytes_not_by_event_count() {
    let ledger = ledger_with_run();
    // 512 events of about 1 MB each: one batch by count (8,192), half a gigabyte.
    let value = "v".repeat(4000);
    let params: Vec<String> = (0..250)
        .map(|i| format!(r#""p{i:03}":"{value}""#))
        .collect();
    let params = params.join(",");
    let path = ledger.tmp.path().join("big.jsonl");
    {
        use std::io::Write;
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        for i in 0..512 {
            writeln!(
                file,
                r#"{{"id":"big-{i}","kind":"params_logged","schema":1,"time":"2026-11-28T04:20:51Z","producer":"e2e","run":"r1","data":{{"params":{{{params}}}}}}}"#
            )
            .unwrap();
        }
    }
    let mut command = ledger.command();
    command.args(["ingest", path.to_str().unwrap()]);
    let (code, peak) = peak_memory(command);
    eprintln!("ingest of 512 MB peaked at {} MB", peak >> 20);
    assert_eq!(code, 0);
    assert_eq!(log_position(&ledger), 513);
    // Bounded batches and projection slices hold tens of megabytes of events at a time:
    // about 130 MB at the peak on an idle machine, a few hundred under a loaded test run.
    // Holding the whole input decoded, encoded and projected took over three times its
    // size (1.7 GB here).
    assert!(
        peak < 1 << 30,
        "ingest of 512 MB peaked at {} MB",
        peak >> 20
    );
}
