//! Tables (and every other line a person reads) fit the terminal: run through a real
//! pseudo-terminal at 80 and 120 columns, no line of the demo or of the commands after it is
//! wider than the terminal, and the key content is still there. Through a pipe with no
//! `COLUMNS`, lines are whole and digests full, for scripts that grep them.

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, Stdio};

use crate::support::TestLedger;

/// Runs `command` with standard output and error on the slave of a new pseudo-terminal
/// `columns` wide, and returns the exit code and everything it wrote, `\r\n` made `\n`.
fn on_terminal(mut command: Command, columns: u16) -> (i32, String) {
    let (mut master, mut slave) = (-1, -1);
    let size = libc::winsize {
        ws_row: 50,
        ws_col: columns,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two new descriptors, which are owned from here on.
    let opened = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(opened, 0, "openpty: {}", std::io::Error::last_os_error());
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    use std::os::fd::AsRawFd;
    // SAFETY: TIOCSWINSZ reads one `winsize`.
    let set = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &size) };
    assert_eq!(set, 0, "TIOCSWINSZ: {}", std::io::Error::last_os_error());
    command
        .env_remove("COLUMNS")
        .stdin(Stdio::null())
        .stdout(slave.try_clone().expect("dup"))
        .stderr(slave);
    let mut child = command.spawn().expect("spawn vouch");
    // The parent's copies of the slave go with the command, so the master reads EOF (EIO on
    // Linux) once the child has exited.
    drop(command);
    let mut master = std::fs::File::from(master);
    let mut bytes = Vec::new();
    let mut buffer = [0u8; 65536];
    loop {
        match master.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&buffer[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // EIO: every slave descriptor is closed.
            Err(_) => break,
        }
    }
    let status = child.wait().expect("wait");
    let text = String::from_utf8_lossy(&bytes).replace("\r\n", "\n");
    (status.code().unwrap_or(-1), text)
}

/// `text` without ANSI escape sequences (CSI and OSC), as a terminal would not show them.
fn visible(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('[') => {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            Some(']') => {
                while let Some(c) = chars.next() {
                    if c == '\x07' || (c == '\x1b' && chars.next_if_eq(&'\\').is_some()) {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Runs `args` against `ledger` on a terminal `columns` wide, asserts success and that no
/// line is wider than the terminal, and returns what it printed.
#[track_caller]
fn fits(ledger: &TestLedger, args: &[&str], columns: u16) -> String {
    let mut command = ledger.command();
    command.args(args);
    let (code, text) = on_terminal(command, columns);
    assert_eq!(code, 0, "vouch {args:?} failed:\n{text}");
    let text = visible(&text);
    let widest = text.lines().max_by_key(|l| l.chars().count()).unwrap_or("");
    assert!(
        widest.chars().count() <= usize::from(columns),
        "vouch {args:?} on a {columns}-column terminal printed a line of {} characters:\n{widest}\n\nall of it:\n{text}",
        widest.chars().count()
    );
    text
}

#[track_caller]
fn has(text: &str, needles: &[&str], what: &str) {
    for needle in needles {
        assert!(text.contains(needle), "{what} lacks {needle:?}:\n{text}");
    }
}

fn demo_at(columns: u16) {
    let ledger = TestLedger::uninitialised();
    let demo = fits(&ledger, &["demo", "loan-risk"], columns);
    has(
        &demo,
        &[
            "loan-risk-a",
            "loan-risk-b",
            "loan-risk-c",
            "loan-risk-d",
            "loan-risk-prod",
            "pass",
            "FAIL",
            "promoted",
            "rejected",
            "CRITICAL",
            "segment_regressed",
            "verifies",
        ],
        "the demo",
    );
    // The decision table's digests are shortened, and the gate reasons' digests too.
    assert!(demo.contains('…'), "no digest was shortened:\n{demo}");

    let decisions = fits(&ledger, &["decisions"], columns);
    has(
        &decisions,
        &["loan-risk-prod", "loan-risk-b", "promoted", "rejected"],
        "decisions",
    );
    let diagnose = fits(&ledger, &["diagnose", "--model", "loan-risk"], columns);
    has(
        &diagnose,
        &["CRITICAL", "WARNING", "label_lag", "verdict"],
        "diagnose",
    );
    let compare = fits(
        &ledger,
        &["compare", "loan-risk-prod", "loan-risk-b", "loan-risk-c"],
        columns,
    );
    has(&compare, &["loan-risk-b", "auc", "differs"], "compare");
    let runs = fits(&ledger, &["runs", "list"], columns);
    has(
        &runs,
        &["loan-risk-prod", "loan-risk-a", "loan-risk-d", "5 runs"],
        "runs list",
    );
    let show = fits(&ledger, &["runs", "show", "loan-risk-b"], columns);
    has(&show, &["model.bin", "blake3:", "validation"], "runs show");
    let registry = fits(&ledger, &["registry"], columns);
    has(
        &registry,
        &["loan-risk", "loan-risk-b", "production", "superseded"],
        "registry",
    );
    let reviews = fits(&ledger, &["reviews"], columns);
    has(&reviews, &["loan-risk-prod"], "reviews");
    let keys = fits(&ledger, &["keys", "list"], columns);
    has(&keys, &["ed25519:", "release"], "keys list");
    let model = ledger.path().join("demo-files/loan-risk-b.model");
    let audit = fits(&ledger, &["audit", model.to_str().expect("utf-8")], columns);
    has(&audit, &["decision", "ok", "pass"], "audit");
}

#[test]
fn the_demo_and_the_commands_after_it_fit_an_80_column_terminal() {
    demo_at(80);
}

#[test]
fn the_demo_and_the_commands_after_it_fit_a_120_column_terminal() {
    demo_at(120);
}

#[test]
fn through_a_pipe_without_columns_lines_are_whole_and_digests_full() {
    let ledger = TestLedger::uninitialised();
    let piped = |args: &[&str]| {
        let output = ledger
            .command()
            .args(args)
            .env_remove("COLUMNS")
            .stdin(Stdio::null())
            .output()
            .expect("run vouch");
        assert!(output.status.success(), "vouch {args:?} failed");
        String::from_utf8(output.stdout).expect("utf-8")
    };
    let demo = piped(&["demo", "loan-risk"]);
    let show = piped(&["--json", "runs", "show", "loan-risk-b"]);
    let show: serde_json::Value = serde_json::from_str(&show).expect("JSON");
    let digest = show["artifacts"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["name"] == "model.bin"))
        .and_then(|a| a["digest"].as_str())
        .unwrap_or_else(|| panic!("no model.bin digest in {show}"))
        .to_owned();
    assert_eq!(digest.len(), "blake3:".len() + 64, "{digest}");
    // The gate table's model-file row and the audit line name the full digest, in one line.
    let row = demo
        .lines()
        .find(|l| l.contains("model-file") && l.contains(&digest))
        .unwrap_or_else(|| panic!("no model-file row with {digest}:\n{demo}"));
    assert!(row.contains("pass"), "{row}");
    assert!(
        demo.lines().any(|l| l.chars().count() > 200),
        "a pipe's lines were cut to a width:\n{demo}"
    );
    let listed = piped(&["runs", "show", "loan-risk-b"]);
    assert!(
        listed.contains(&digest),
        "runs show lacks {digest}:\n{listed}"
    );

    // With COLUMNS set, a pipe gets that width.
    let output = ledger
        .command()
        .args(["runs", "show", "loan-risk-b"])
        .env("COLUMNS", "60")
        .stdin(Stdio::null())
        .output()
        .expect("run vouch");
    let narrow = String::from_utf8(output.stdout).expect("utf-8");
    assert!(output.status.success(), "{narrow}");
    assert!(
        narrow.lines().all(|l| l.chars().count() <= 60),
        "COLUMNS=60 ignored:\n{narrow}"
    );
    assert!(
        !narrow.contains(&digest),
        "COLUMNS=60 kept {digest}:\n{narrow}"
    );
    assert!(
        narrow.contains(&format!("{}…", &digest[..7 + 12])),
        "{narrow}"
    );
}
