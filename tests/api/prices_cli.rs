//! `frontdesk prices import|list`, and a running server picking up a price change at once.

use crate::helpers::*;
use std::time::Duration;

fn initialised_cli() -> (tempfile::TempDir, Cli) {
    let dir = tempfile::tempdir().unwrap();
    write_keys(&dir.path().join("keys"));
    let cli = Cli::new(dir.path());
    assert!(cli.run(&["init"]).status.success());
    (dir, cli)
}

#[test]
fn a_bad_row_is_reported_with_its_line_number_and_nothing_is_imported() {
    let (dir, cli) = initialised_cli();
    let good = dir.path().join("good.csv");
    std::fs::write(
        &good,
        "code,name,price,currency,aliases\nFILL,Пломба,4500,RUB,пломба|filling\n",
    )
    .unwrap();
    assert!(
        cli.run(&["prices", "import", good.to_str().unwrap()])
            .status
            .success()
    );

    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "code,name,price,currency,aliases\nFILL,Пломба,9999,RUB,\nXRAY,Снимок,abc,RUB,\nCROWN,,100,RUB,\n",
    )
    .unwrap();
    let out = cli.run(&["prices", "import", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = out.stderr_text();
    assert!(
        err.contains("line 3: price") && err.contains("line 4: name is empty"),
        "{err}"
    );
    assert!(err.contains("nothing imported"), "{err}");
    let list = cli.run(&["prices", "list"]).stdout_text();
    assert!(
        list.contains("4 500 ₽") && !list.contains("9 999"),
        "{list}"
    );
}

#[test]
fn import_then_list_shows_the_price_list() {
    let (dir, cli) = initialised_cli();
    let file = dir.path().join("prices.csv");
    std::fs::write(&file, DEMO_PRICES).unwrap();
    let out = cli.run(&["prices", "import", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", out.stderr_text());
    assert!(out.stdout_text().contains("added"), "{}", out.stdout_text());
    let list = cli.run(&["prices", "list"]).stdout_text();
    assert!(
        list.contains("Пломба световая") && list.contains("4 500 ₽"),
        "{list}"
    );
}

#[tokio::test]
async fn a_price_change_reaches_a_running_server_at_once() {
    let app = spawn_app().await;
    assert!(
        app.ask("79990001122", "сколько стоит пломба световая")
            .await
            .contains("4 500 ₽")
    );
    let csv = String::from_utf8(DEMO_PRICES.to_vec())
        .unwrap()
        .replace(",Пломба световая,4500,", ",Пломба световая,4700,");
    let file = app.dir.path().join("new.csv");
    std::fs::write(&file, csv).unwrap();
    // Another process, as an administrator would run it while the server is up.
    let out = Cli::new(app.dir.path()).run(&["prices", "import", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", out.stderr_text());
    let mut reply = String::new();
    for _ in 0..30 {
        reply = app
            .ask("79990001122", "сколько стоит пломба световая")
            .await;
        if reply.contains("4 700 ₽") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reply.contains("4 700 ₽"), "{reply}");
    // The imported English and Spanish names (name_en, name_es) are what those patients read.
    let english = app
        .ask("79990003344", "how much is a light-cured filling?")
        .await;
    assert!(
        english.contains("Filling, light-cured: 4,700 ₽"),
        "{english}"
    );
    let spanish = app.ask("79990005566", "¿cuánto cuesta una limpieza?").await;
    assert!(spanish.contains("Limpieza dental profesional"), "{spanish}");
    app.shutdown().await;
}
