use super::*;
use secrecy::ExposeSecret;
use std::io::Write;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .unwrap();
    path
}

#[test]
fn defaults_apply_when_nothing_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let flags = Overrides {
        data_dir: Some(dir.path().into()),
        ..Default::default()
    };
    let config = Config::load(&flags, &Env::default()).unwrap();
    assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
    assert_eq!(config.openai.model, "gpt-5-nano");
    assert_eq!(
        config.openai.budget_ms, 8_000,
        "a patient waits at most 8 s"
    );
    assert_eq!(config.keys_dir(), dir.path().join("keys"));
    // The sync client's limits, as the clinic chain's Supabase needs them.
    let s = &config.sync;
    assert_eq!(
        (s.connect_timeout_ms, s.read_timeout_ms, s.write_timeout_ms),
        (1_500, 2_500, 2_500)
    );
    assert_eq!(s.pool_timeout_ms, 5_000);
    assert_eq!(
        (s.max_connections, s.idle_connections, s.idle_timeout_secs),
        (100, 20, 30)
    );
    assert_eq!((s.breaker_failures, s.breaker_open_secs), (5, 45));
}

#[test]
fn file_then_environment_then_flags_each_win_over_the_previous_layer() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "f.toml",
        "listen = \"127.0.0.1:9000\"\n[openai]\nmodel = \"from-file\"\nbase_url = \"http://file.example\"\n",
    );
    let env = Env::from_pairs([
        ("OPENAI_MODEL", "from-env"),
        ("FRONTDESK_LISTEN", "127.0.0.1:9001"),
    ]);
    let flags = Overrides {
        config: Some(file.clone()),
        listen: Some("127.0.0.1:9002".parse().unwrap()),
        ..Default::default()
    };
    let config = Config::load(&flags, &env).unwrap();
    assert_eq!(
        config.openai.base_url, "http://file.example",
        "file over default"
    );
    assert_eq!(config.openai.model, "from-env", "env over file");
    assert_eq!(config.listen.to_string(), "127.0.0.1:9002", "flag over env");
    assert_eq!(config.config_file.as_deref(), Some(file.as_path()));
}

#[test]
fn unknown_keys_in_the_file_are_an_error_that_names_them() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "f.toml", "[openai]\nmax_tokens = 5\n");
    let flags = Overrides {
        config: Some(file),
        ..Default::default()
    };
    let err = Config::load(&flags, &Env::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("max_tokens"), "{err}");
}

#[test]
fn old_backend_variable_names_keep_working() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::from_pairs([
        ("FRONTDESK_DATA_DIR", dir.path().to_str().unwrap()),
        ("OPENAI_API_KEY", "sk-test"),
        ("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1"),
        ("SUPABASE_URL", "https://x.supabase.co"),
        ("SUPABASE_SERVICE_ROLE_KEY", "service"),
        ("EVOLUTION_API_URL", "http://127.0.0.1:8081"),
        ("EVOLUTION_API_KEY", "evo"),
        ("EVOLUTION_INSTANCE", "clinic-main"),
        ("EVOLUTION_WEBHOOK_SECRET", "hook-secret-0123456789"),
    ]);
    let c = Config::load(&Overrides::default(), &env).unwrap();
    assert_eq!(c.data_dir, dir.path());
    assert_eq!(c.openai.api_key.unwrap().expose_secret(), "sk-test");
    assert_eq!(c.openai.base_url, "http://127.0.0.1:11434/v1");
    assert_eq!(c.supabase.url.as_deref(), Some("https://x.supabase.co"));
    assert_eq!(
        c.supabase.service_role_key.unwrap().expose_secret(),
        "service"
    );
    assert_eq!(
        c.evolution.api_url.as_deref(),
        Some("http://127.0.0.1:8081")
    );
    assert_eq!(c.evolution.api_key.unwrap().expose_secret(), "evo");
    assert_eq!(c.evolution.instance.as_deref(), Some("clinic-main"));
    assert_eq!(
        c.evolution.webhook_secret.unwrap().expose_secret(),
        "hook-secret-0123456789"
    );
}

#[test]
fn secrets_come_from_name_file_and_from_systemd_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "openai", "sk-from-file\n");
    let creds = dir.path().join("creds");
    std::fs::create_dir(&creds).unwrap();
    write(&creds, "EVOLUTION_WEBHOOK_SECRET", "from-credential-0123");
    write(&creds, "PHI_MASTER_KEY", "x");
    let env = Env::from_pairs([
        ("FRONTDESK_DATA_DIR", dir.path().to_str().unwrap()),
        ("OPENAI_API_KEY_FILE", file.to_str().unwrap()),
        ("CREDENTIALS_DIRECTORY", creds.to_str().unwrap()),
    ]);
    let c = Config::load(&Overrides::default(), &env).unwrap();
    assert_eq!(c.openai.api_key.unwrap().expose_secret(), "sk-from-file");
    assert_eq!(
        c.evolution.webhook_secret.unwrap().expose_secret(),
        "from-credential-0123"
    );
    match c.keys.get(KeyName::PhiMaster).unwrap() {
        KeySource::Credential(p) => assert_eq!(p, &creds.join("PHI_MASTER_KEY")),
        other => panic!("{other:?}"),
    }
    match c.keys.get(KeyName::HipaaAudit).unwrap() {
        KeySource::File(p) => assert_eq!(p, &dir.path().join("keys").join("HIPAA_AUDIT_KEY")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_empty_webhook_secret_is_refused_and_a_short_one_named() {
    let dir = tempfile::tempdir().unwrap();
    let load = |env: Env, file: Option<&str>| {
        let config = file.map(|text| write(dir.path(), "frontdesk.toml", text));
        let flags = Overrides {
            data_dir: Some(dir.path().into()),
            config,
            ..Default::default()
        };
        Config::load(&flags, &env)
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    // An empty file is no secret (an empty variable counts as unset, as before).
    let empty = write(dir.path(), "secret", "\n");
    let err = load(
        Env::from_pairs([("EVOLUTION_WEBHOOK_SECRET_FILE", empty.to_str().unwrap())]),
        None,
    );
    assert!(
        err.contains("EVOLUTION_WEBHOOK_SECRET") && err.contains("is empty"),
        "{err}"
    );
    let err = load(Env::default(), Some("[evolution]\nwebhook_secret = \"\"\n"));
    assert!(
        err.contains("webhook_secret") && err.contains("empty"),
        "{err}"
    );
    let err = load(
        Env::default(),
        Some("[whatsapp_cloud]\napp_secret = \" \"\n"),
    );
    assert!(err.contains("app_secret") && err.contains("empty"), "{err}");
    // A short one is accepted (an upgrade must not take a running clinic down) and named
    // for `serve` to warn about.
    let fresh = tempfile::tempdir().unwrap();
    let flags = Overrides {
        data_dir: Some(fresh.path().into()),
        ..Default::default()
    };
    let env = Env::from_pairs([("EVOLUTION_WEBHOOK_SECRET", "short")]);
    let config = Config::load(&flags, &env).unwrap();
    assert_eq!(config.weak_webhook_secrets(), ["EVOLUTION_WEBHOOK_SECRET"]);
}

#[test]
fn secrets_are_redacted_in_debug_output() {
    let env = Env::from_pairs([
        ("OPENAI_API_KEY", "sk-very-secret"),
        ("PHI_MASTER_KEY", "master-very-secret"),
        ("SYNC_POSTGRES_URL", "postgres://u:pw-very-secret@h/db"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let flags = Overrides {
        data_dir: Some(dir.path().into()),
        ..Default::default()
    };
    let debug = format!("{:?}", Config::load(&flags, &env).unwrap());
    assert!(!debug.contains("very-secret"), "{debug}");
}

#[test]
fn a_bad_value_names_the_variable() {
    let env = Env::from_pairs([("FRONTDESK_LISTEN", "not an address")]);
    let err = Config::load(&Overrides::default(), &env)
        .unwrap_err()
        .to_string();
    assert!(err.contains("FRONTDESK_LISTEN"), "{err}");
    let env = Env::from_pairs([("OPENAI_BASE_URL", "localhost:11434")]);
    let err = Config::load(&Overrides::default(), &env)
        .unwrap_err()
        .to_string();
    assert!(err.contains("OPENAI_BASE_URL"), "{err}");
}

#[test]
fn the_starter_config_parses_and_carries_the_webhook_secret() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "frontdesk.toml",
        &starter_config(".", None, "s3cret"),
    );
    let c = Config::from_file(&file).unwrap();
    assert_eq!(
        c.evolution.webhook_secret.unwrap().expose_secret(),
        "s3cret"
    );
    assert_eq!(c.data_dir, dir.path().join("."));
}

#[test]
fn a_follow_up_rule_name_may_repeat_only_for_different_clinics() {
    let dir = tempfile::tempdir().unwrap();
    let load = |rules: &str| {
        let file = write(dir.path(), "f.toml", rules);
        let flags = Overrides {
            data_dir: Some(dir.path().into()),
            config: Some(file),
            ..Default::default()
        };
        Config::load(&flags, &Env::default())
    };
    let rule = |clinics: &str, template: &str| {
        format!(
            "[[followups.rules]]\nname = \"price_nudge\"\nwhen = \"price\"\ndelay = \"20h\"\n\
             template = \"{template}\"\nclinics = [{clinics}]\n"
        )
    };
    let per_clinic = format!(
        "{}{}",
        rule("\"north\"", "followup_nudge"),
        rule("\"south\"", "followup_nudge_south")
    );
    let config = load(&per_clinic).unwrap();
    let rules = config.followups.parsed_rules();
    assert!(rules[0].holds_for("north") && !rules[0].holds_for("south"));
    assert_eq!(rules[1].template, "followup_nudge_south");

    let clash = format!("{}{}", rule("", "followup_nudge"), rule("\"south\"", "x"));
    let err = load(&clash).unwrap_err().to_string();
    assert!(
        err.contains("followups.rules[1].name") && err.contains("same clinic"),
        "{err}"
    );
}

#[test]
fn values_that_would_break_the_server_are_refused_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    for (toml, key) in [
        (
            "[http]\nrequest_timeout_secs = 0\n",
            "http.request_timeout_secs",
        ),
        (
            "[sender]\nconnect_timeout_ms = 0\n",
            "sender.connect_timeout_ms",
        ),
        ("[sender]\nread_timeout_ms = 0\n", "read_timeout_ms"),
        (
            "[sync]\nretry_min_ms = 5000\nretry_max_ms = 1000\n",
            "sync.retry_max_ms",
        ),
        (
            "[conversation]\nhuman_quiet_minutes = 18446744073709551615\n",
            "conversation.human_quiet_minutes",
        ),
    ] {
        let flags = Overrides {
            data_dir: Some(dir.path().into()),
            config: Some(write(dir.path(), "frontdesk.toml", toml)),
            ..Default::default()
        };
        let err = Config::load(&flags, &Env::default())
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(err.contains(key), "{toml}: {err}");
    }
}

#[test]
fn the_clinic_language_is_read_in_lower_case() {
    let dir = tempfile::tempdir().unwrap();
    let flags = Overrides {
        data_dir: Some(dir.path().into()),
        ..Default::default()
    };
    let env = Env::from_pairs([("FRONTDESK_CLINIC_LANGUAGE", " ES ")]);
    let c = Config::load(&flags, &env).unwrap();
    assert_eq!(c.clinic.default_language, "es");
}

#[test]
fn a_gateway_url_without_its_api_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::from_pairs([
        ("FRONTDESK_DATA_DIR", dir.path().to_str().unwrap()),
        ("EVOLUTION_API_URL", "http://127.0.0.1:8081"),
    ]);
    // Loaded (an admin command needs no gateway), refused for serving.
    let config = Config::load(&Overrides::default(), &env).unwrap();
    let err = config.check_services().unwrap_err().to_string();
    assert!(err.contains("EVOLUTION_API_KEY"), "{err}");
}
