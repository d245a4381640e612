//! The two commands a new user runs first: `frontdesk demo` answers in the terminal, and
//! `frontdesk bench` produces its JSON report with nothing lost or answered twice.

use crate::helpers::{BIN, OutputText};
use std::io::Write;
use std::process::{Command, Stdio};

/// `frontdesk demo` with no configuration, its stdin and stdout piped.
fn demo(stderr: Stdio) -> std::process::Child {
    Command::new(BIN)
        .arg("demo")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap()
}

#[test]
fn the_demo_answers_a_price_question_typed_in_the_terminal() {
    let mut child = demo(Stdio::piped());
    child
        .stdin
        .take()
        .unwrap()
        .write_all("Сколько стоит пломба световая?\nhow much is teeth whitening?\n".as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", out.stderr_text());
    let text = out.stdout_text();
    assert!(
        text.contains("X-Webhook-Secret"),
        "prints a curl example:\n{text}"
    );
    assert!(text.contains("bot (") && text.contains(" ms)> "), "{text}");
    assert!(
        text.contains("4 500 ₽") || text.contains("4\u{a0}500 ₽"),
        "{text}"
    );
    assert!(text.contains("18,000"), "{text}");
}

#[test]
fn ctrl_c_ends_the_demo_and_deletes_its_data_while_it_waits_for_input() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    use std::io::{BufRead, BufReader};
    let mut child = demo(Stdio::null());
    // Nothing typed, stdin left open: the demo waits for a line, as at a terminal.
    let _stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    let mut data_dir = None;
    while data_dir.is_none() {
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "{banner}");
        data_dir = line
            .split("(data in ")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .map(std::path::PathBuf::from);
        banner.push_str(&line);
    }
    let data_dir = data_dir.unwrap();
    assert!(data_dir.exists(), "{}", data_dir.display());
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    // The wait ends only if the demo exits by itself; before, it sat until Enter.
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || done_tx.send(child.wait()));
    let status = done_rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("the demo did not exit after Ctrl-C")
        .unwrap();
    assert!(status.success(), "{status:?}");
    assert!(!data_dir.exists(), "{} was left", data_dir.display());
}

#[test]
fn a_short_bench_run_reports_figures_and_loses_nothing() {
    let out = Command::new(BIN)
        .args([
            "bench",
            "--rate",
            "50",
            "--seconds",
            "1",
            "--concurrency",
            "4",
            "--messages",
            "200",
        ])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", out.stderr_text());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["correctness"]["lost"], 0, "{report}");
    assert_eq!(report["correctness"]["answered_twice"], 0, "{report}");
    assert_eq!(report["correctness"]["replies"], 200, "{report}");
    assert_eq!(report["fixed_rate"]["answered"], 50, "{report}");
    assert_eq!(
        report["fast_path"]["max_remote_calls_before_send"], 0,
        "{report}"
    );
    assert!(
        report["throughput"]["ratio"].as_f64().unwrap() > 0.0,
        "{report}"
    );
    for figure in [
        "latency_ms",
        "received_to_queued_ms",
        "bare_endpoint_latency_ms",
    ] {
        assert!(
            report["fixed_rate"][figure]["p99"].as_f64().unwrap() > 0.0,
            "{figure}: {report}"
        );
    }
    // On tmpfs an fdatasync takes well under the microsecond the figures are rounded to.
    let disk = &report["fixed_rate"]["disk_fsync_ms"];
    let (p99, max) = (disk["p99"].as_f64().unwrap(), disk["max"].as_f64().unwrap());
    assert!((0.0..=max).contains(&p99), "{report}");
}
