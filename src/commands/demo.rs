//! `frontdesk demo`: one command, no configuration. Starts a throwaway Frontdesk with a demo
//! clinic and a local gateway, then lets you chat as a patient in the terminal, showing each
//! reply and how long it took (webhook sent → reply at the gateway).

use super::Failure;
use super::sandbox::{INSTANCE, Sandbox};
use crate::local_gateway::evolution_text_webhook;
use std::io::BufRead;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

const PATIENT_PHONE: &str = "79990001122";

pub async fn run() -> Result<(), Failure> {
    // Listening for Ctrl-C before anything else: one pressed during start-up still removes
    // the demo's data dir instead of killing the process with it left behind.
    let shutdown = crate::shutdown::Shutdown::from_signals()?;
    let sandbox = Sandbox::start().await?;
    let interactive = std::io::stdin().is_terminal();
    print_banner(&sandbox);

    let client = reqwest::Client::new();
    let mut replies = sandbox.gateway.subscribe();
    // Replies to other chats (a webhook posted with the curl command) are shown as they
    // arrive, and never taken for the answer to what was typed here.
    let mut others = sandbox.gateway.subscribe();
    tokio::spawn(async move {
        while let Ok(reply) = others.recv().await {
            if reply.number != PATIENT_PHONE {
                println!(
                    "\nbot → {}> {}\n",
                    reply.number,
                    reply.text.replace('\u{a0}', " ")
                );
            }
        }
    });
    let mut lines = stdin_lines();
    let mut n = 0u64;
    loop {
        if interactive {
            print!("you> ");
            use std::io::Write;
            let _ = std::io::stdout().flush();
        }
        let line = tokio::select! {
            line = lines.recv() => line.transpose()?,
            _ = shutdown.graceful.cancelled() => None,
        };
        let Some(line) = line else { break };
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        if !interactive {
            println!("you> {text}");
        }
        n += 1;
        let body = evolution_text_webhook(
            INSTANCE,
            &format!("DEMO{n:08}{}", std::process::id()),
            PATIENT_PHONE,
            "Demo Patient",
            text,
            chrono::Utc::now().timestamp(),
        );
        let sent = Instant::now();
        let response = client
            .post(sandbox.webhook_url())
            .header("Authorization", sandbox.bearer())
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await?;
        if !response.status().is_success() {
            println!("(webhook answered {})", response.status());
            continue;
        }
        let ours = async {
            loop {
                match replies.recv().await {
                    Ok(reply) if reply.number == PATIENT_PHONE => return Some(reply),
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
            }
        };
        let waited = tokio::select! {
            waited = tokio::time::timeout(Duration::from_secs(15), ours) => waited,
            // Ctrl-C while a reply is awaited ends the demo too.
            _ = shutdown.graceful.cancelled() => break,
        };
        match waited {
            Ok(Some(reply)) => {
                let ms = reply.at.saturating_duration_since(sent).as_secs_f64() * 1000.0;
                println!("bot ({ms:.1} ms)> {}\n", reply.text.replace('\u{a0}', " "));
            }
            _ => println!("(no reply)\n"),
        }
    }
    println!("Stopping; the demo's data is deleted.");
    sandbox.stop().await
}

/// Lines typed in the terminal, read on a thread of their own: a read of stdin cannot be
/// cancelled, and on tokio's blocking pool (`tokio::io::stdin`) it kept Ctrl-C from ending
/// the demo until Enter was pressed. This thread is simply left behind at exit.
fn stdin_lines() -> tokio::sync::mpsc::Receiver<std::io::Result<String>> {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let reader = std::thread::Builder::new()
        .name("demo-stdin".into())
        .spawn(move || {
            for line in std::io::stdin().lock().lines() {
                if tx.blocking_send(line).is_err() {
                    break;
                }
            }
        });
    if let Err(e) = reader {
        tracing::error!(error = %e, "cannot read the terminal");
    }
    rx
}

fn print_banner(s: &Sandbox) {
    let example = String::from_utf8(evolution_text_webhook(
        INSTANCE,
        "CURL0001",
        "79990003344",
        "Curl",
        "how much is a filling?",
        1761040800,
    ))
    .unwrap_or_default();
    println!(
        "Frontdesk demo: a dental clinic's WhatsApp front desk, running on this machine.\n\
         \n  server    {url}   (data in {dir}, deleted on exit)\
         \n  gateway   {gw}   (a built-in stand-in for Evolution API)\n\
         \nWrite as a patient would on WhatsApp, in Russian, English or Spanish. Try:\
         \n  Сколько стоит пломба?  |  how much is teeth whitening?  |  ¿cuánto cuesta una limpieza?\
         \n  когда вы работаете?  |  where are you?  |  хочу записаться на чистку  |  сильно болит зуб\
         \nCtrl-D (or Ctrl-C) quits.\n\
         \nTo post a webhook yourself, as Evolution would (static-secret authentication):\
         \n  curl -s {url}/webhooks/evolution -H 'Content-Type: application/json' \\\
         \n    -H 'X-Webhook-Secret: {secret}' \\\
         \n    -d '{example}'\n",
        url = s.url,
        dir = s.dir.path().display(),
        gw = s.gateway.url(),
        secret = s.webhook_secret,
    );
}
