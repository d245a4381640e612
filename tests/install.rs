//! install.sh and systemd/frontdesk.service, tested the way a clinic uses them: install into a
//! staging root (DESTDIR) twice and then over a newer build, and check that no key, config or
//! database byte changed; lint the script with shellcheck and the unit with systemd-analyze.
//! Those tools are required (apt packages `shellcheck` and `systemd`): a missing one fails the
//! test loudly instead of skipping it.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BINARY: &str = env!("CARGO_BIN_EXE_frontdesk");
const KEYS: [&str; 3] = ["PHI_MASTER_KEY", "HIPAA_AUDIT_KEY", "PHI_RSA_PRIVATE_KEY"];
const CREDENTIALS: &str = "etc/frontdesk/credentials";
const CONFIG: &str = "etc/frontdesk/frontdesk.toml";
const DATA_DIR: &str = "var/lib/frontdesk";
const UNIT: &str = "etc/systemd/system/frontdesk.service";
const MAX_EXPOSURE: f64 = 2.0;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs a command to completion; a tool that is not installed fails with the apt package.
fn run(command: &mut Command, apt_package: &str) -> Output {
    let program = command.get_program().to_string_lossy().into_owned();
    command.output().unwrap_or_else(|e| {
        panic!("cannot run {program}: {e}; install it with `apt-get install -y {apt_package}`")
    })
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn describe(output: &Output) -> String {
    format!(
        "{}\n--- stdout\n{}--- stderr\n{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    )
}

/// `install.sh --no-systemd` into `destdir`, with the environment variables it must ignore
/// cleared; returns stdout. `destdir_flag` false passes DESTDIR in the environment instead.
fn install_with(destdir: &Path, binary: &Path, destdir_flag: bool, extra: &[&str]) -> String {
    let mut command = Command::new(repo().join("install.sh"));
    command
        .arg("--binary")
        .arg(binary)
        .arg("--no-systemd")
        .args(extra);
    if destdir_flag {
        command.arg("--destdir").arg(destdir).env_remove("DESTDIR");
    } else {
        command.env("DESTDIR", destdir);
    }
    for key in KEYS {
        command.env_remove(key).env_remove(format!("{key}_FILE"));
    }
    command
        .env_remove("CREDENTIALS_DIRECTORY")
        .env_remove("FRONTDESK_CONFIG");
    let output = run(&mut command, "bash");
    assert!(
        output.status.success(),
        "install.sh failed: {}",
        describe(&output)
    );
    text(&output.stdout)
}

fn install(destdir: &Path, binary: &Path) -> String {
    install_with(destdir, binary, true, &[])
}

/// Every file whose bytes must survive a reinstall or an upgrade.
fn precious_files(destdir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    KEYS.iter()
        .map(|key| Path::new(CREDENTIALS).join(key))
        .chain([CONFIG.into(), Path::new(DATA_DIR).join("frontdesk.db")])
        .map(|relative| {
            let bytes = fs::read(destdir.join(&relative))
                .unwrap_or_else(|e| panic!("{} was not installed: {e}", relative.display()));
            (relative, bytes)
        })
        .collect()
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

fn assert_private_modes(root: &Path) {
    assert_eq!(mode(&root.join(CREDENTIALS)), 0o700, "credentials dir");
    for key in KEYS {
        assert_eq!(mode(&root.join(CREDENTIALS).join(key)), 0o600, "{key}");
    }
    assert_eq!(mode(&root.join(DATA_DIR)), 0o700, "data dir");
    assert_eq!(
        mode(&root.join(DATA_DIR).join("frontdesk.db")),
        0o600,
        "database"
    );
    assert_eq!(mode(&root.join(CONFIG)), 0o640, "config");
    assert_eq!(mode(&root.join("usr/local/bin/frontdesk")), 0o755, "binary");
    assert_eq!(mode(&root.join(UNIT)), 0o644, "unit");
}

fn staging_root() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("root");
    (dir, root)
}

#[test]
fn reinstalling_and_upgrading_keep_keys_config_and_database_byte_for_byte() {
    let (dir, root) = staging_root();

    let first = install(&root, Path::new(BINARY));
    assert!(first.contains("Running frontdesk init"), "{first}");
    assert!(
        first.contains("binary   /usr/local/bin/frontdesk (installed)"),
        "{first}"
    );
    let before = precious_files(&root);
    assert_private_modes(&root);

    let second = install(&root, Path::new(BINARY));
    assert!(second.contains("Kept the existing keys"), "{second}");
    assert!(!second.contains("Running frontdesk init"), "{second}");
    assert!(second.contains("(unchanged)"), "{second}");
    assert_eq!(
        precious_files(&root),
        before,
        "a reinstall changed a key, the config or the DB"
    );
    assert_private_modes(&root);

    // A newer build: a different binary from somewhere else. Extra bytes after an ELF image
    // do not stop it from running, and make the replacement visible.
    let newer = dir.path().join("newer/frontdesk");
    fs::create_dir_all(newer.parent().expect("parent")).expect("mkdir");
    let mut bytes = fs::read(BINARY).expect("read binary");
    bytes.extend_from_slice(b"\nnewer build\n");
    fs::write(&newer, &bytes).expect("write newer build");
    fs::set_permissions(&newer, fs::Permissions::from_mode(0o755)).expect("chmod");

    let upgrade = install(&root, &newer);
    assert!(
        upgrade.contains("binary   /usr/local/bin/frontdesk (updated)"),
        "{upgrade}"
    );
    assert!(upgrade.contains("Kept the existing keys"), "{upgrade}");
    assert_eq!(
        fs::read(root.join("usr/local/bin/frontdesk")).expect("read"),
        bytes
    );
    assert_eq!(
        precious_files(&root),
        before,
        "an upgrade changed a key, the config or the DB"
    );
    assert_private_modes(&root);
}

#[test]
fn a_missing_key_with_existing_data_stops_the_install_without_changing_anything() {
    let (_dir, root) = staging_root();
    install(&root, Path::new(BINARY));
    fs::remove_file(root.join(CREDENTIALS).join("HIPAA_AUDIT_KEY")).expect("remove key");
    let before = fs::read(root.join(DATA_DIR).join("frontdesk.db")).expect("db");

    let output = run(
        Command::new(repo().join("install.sh"))
            .arg("--binary")
            .arg(BINARY)
            .arg("--destdir")
            .arg(&root),
        "bash",
    );
    assert!(!output.status.success(), "{}", describe(&output));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("Restore HIPAA_AUDIT_KEY"), "{stderr}");
    assert!(stderr.contains("frontdesk init failed"), "{stderr}");
    assert!(
        !root.join(CREDENTIALS).join("HIPAA_AUDIT_KEY").exists(),
        "a new key was made for data sealed under the old one"
    );
    assert_eq!(
        fs::read(root.join(DATA_DIR).join("frontdesk.db")).expect("db"),
        before
    );
}

#[test]
fn keys_copied_from_the_old_server_with_a_loose_mode_are_kept_and_tightened() {
    let (_dir, old) = staging_root();
    install(&old, Path::new(BINARY));
    // Moving to a new server: the old keys copied in before install.sh, as `cp` left them.
    let (_dir2, new) = staging_root();
    fs::create_dir_all(new.join(CREDENTIALS)).expect("credentials dir");
    for key in KEYS {
        let copy = new.join(CREDENTIALS).join(key);
        fs::copy(old.join(CREDENTIALS).join(key), &copy).expect("copy key");
        fs::set_permissions(&copy, fs::Permissions::from_mode(0o644)).expect("chmod");
    }
    install(&new, Path::new(BINARY));
    for key in KEYS {
        assert_eq!(
            fs::read(new.join(CREDENTIALS).join(key)).expect("key"),
            fs::read(old.join(CREDENTIALS).join(key)).expect("key"),
            "{key} was replaced"
        );
    }
    assert_private_modes(&new);
}

#[test]
fn the_installed_config_names_target_paths_and_the_keys_open_the_database() {
    let (_dir, root) = staging_root();
    install(&root, Path::new(BINARY));

    // init wrote the staging paths; the config must hold the ones the service will see.
    let config = fs::read_to_string(root.join(CONFIG)).expect("config");
    assert!(
        config.contains("data_dir = \"/var/lib/frontdesk\""),
        "{config}"
    );
    assert!(
        config.contains("keys_dir = \"/etc/frontdesk/credentials\""),
        "{config}"
    );
    assert!(!config.contains(&root.display().to_string()), "{config}");

    // As under systemd: the keys arrive in $CREDENTIALS_DIRECTORY (LoadCredential=).
    let installed = root.join("usr/local/bin/frontdesk");
    let keys_check = |configure: &dyn Fn(&mut Command)| {
        let mut command = Command::new(&installed);
        command
            .args(["keys", "check"])
            .env("FRONTDESK_CONFIG", root.join(CONFIG))
            // The staged config points at /var/lib/frontdesk; look in the staging root.
            .env("FRONTDESK_DATA_DIR", root.join(DATA_DIR))
            .env("FRONTDESK_KEYS_DIR", root.join("nonexistent"));
        configure(&mut command);
        let output = run(&mut command, "frontdesk");
        assert!(
            output.status.success(),
            "keys check failed: {}",
            describe(&output)
        );
        text(&output.stdout)
    };
    let credentials = root.join(CREDENTIALS);
    let out = keys_check(&|c| {
        c.env("CREDENTIALS_DIRECTORY", &credentials);
    });
    assert!(out.contains("All keys are valid"), "{out}");

    // As in the printed foreground command: the key values in the environment.
    let out = keys_check(&|c| {
        for key in KEYS {
            let value = fs::read_to_string(credentials.join(key)).expect("key");
            c.env(key, value.trim_end());
        }
    });
    assert!(out.contains("All keys are valid"), "{out}");
}

#[test]
fn prefix_and_destdir_from_the_environment_move_the_binary_and_the_units_exec_start() {
    let (_dir, root) = staging_root();
    let out = install_with(
        &root,
        Path::new(BINARY),
        false,
        &["--prefix", "/opt/frontdesk"],
    );
    assert!(out.contains("/opt/frontdesk/bin/frontdesk serve"), "{out}");
    assert_eq!(mode(&root.join("opt/frontdesk/bin/frontdesk")), 0o755);
    assert!(!root.join("usr/local/bin/frontdesk").exists());
    let unit = fs::read_to_string(root.join(UNIT)).expect("unit");
    assert!(
        unit.contains("\nExecStart=/opt/frontdesk/bin/frontdesk serve\n"),
        "{unit}"
    );
}

#[test]
fn install_refuses_a_binary_that_does_not_exist() {
    let (dir, root) = staging_root();
    let missing = dir.path().join("no-such-frontdesk");
    let output = run(
        Command::new(repo().join("install.sh"))
            .arg("--binary")
            .arg(&missing)
            .arg("--destdir")
            .arg(&root),
        "bash",
    );
    assert!(!output.status.success(), "{}", describe(&output));
    assert!(
        text(&output.stderr).contains("is not an executable file"),
        "{}",
        describe(&output)
    );
    assert!(
        !root.join(CREDENTIALS).exists(),
        "nothing may be created before the checks pass"
    );
}

#[test]
fn help_lists_every_option() {
    let output = run(
        Command::new(repo().join("install.sh")).arg("--help"),
        "bash",
    );
    assert!(output.status.success(), "{}", describe(&output));
    let help = text(&output.stdout);
    for option in [
        "--binary",
        "--prefix",
        "--destdir",
        "--no-systemd",
        "DESTDIR",
    ] {
        assert!(
            help.contains(option),
            "--help does not mention {option}:\n{help}"
        );
    }
}

#[test]
fn install_script_passes_shellcheck() {
    let output = run(
        Command::new("shellcheck")
            .arg("install.sh")
            .current_dir(repo()),
        "shellcheck",
    );
    assert!(
        output.status.success(),
        "shellcheck install.sh: {}",
        describe(&output)
    );
    assert!(
        output.stdout.is_empty(),
        "shellcheck install.sh: {}",
        describe(&output)
    );
}

/// The host's vendor unit directory (sysinit.target and friends), relative to `/`.
fn vendor_unit_dir() -> &'static str {
    ["usr/lib/systemd/system", "lib/systemd/system"]
        .into_iter()
        .find(|dir| Path::new("/").join(dir).join("sysinit.target").is_file())
        .expect("no sysinit.target in /usr/lib/systemd/system or /lib/systemd/system; install the `systemd` package")
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for entry in fs::read_dir(from).expect("read unit dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        let kind = entry.file_type().expect("file type");
        if kind.is_symlink() {
            let link = fs::read_link(entry.path()).expect("read link");
            std::os::unix::fs::symlink(link, target).expect("symlink");
        } else if kind.is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).expect("copy unit");
        }
    }
}

/// `systemd-analyze verify` checks the installed unit inside the staging root, where
/// ExecStart's binary exists. `--root=` also looks up the units it depends on
/// (sysinit.target, network-online.target, ...) inside that root, so the host's vendor unit
/// directory is copied there first (a symlink to it would resolve back into the root and loop).
#[test]
fn installed_unit_passes_systemd_analyze_verify() {
    let (_dir, root) = staging_root();
    install(&root, Path::new(BINARY));
    let vendor = vendor_unit_dir();
    copy_dir(&Path::new("/").join(vendor), &root.join(vendor));

    let output = run(
        Command::new("systemd-analyze")
            .arg("verify")
            .arg(format!("--root={}", root.display()))
            .arg("frontdesk.service"),
        "systemd",
    );
    assert!(
        output.status.success(),
        "systemd-analyze verify: {}",
        describe(&output)
    );
    // Unknown keys and bad values are only warnings (exit 0), so any output is a failure.
    assert!(
        output.stdout.is_empty() && output.stderr.is_empty(),
        "systemd-analyze verify: {}",
        describe(&output)
    );

    // The check has teeth: without the binary it fails.
    fs::remove_file(root.join("usr/local/bin/frontdesk")).expect("remove binary");
    let output = run(
        Command::new("systemd-analyze")
            .arg("verify")
            .arg(format!("--root={}", root.display()))
            .arg("frontdesk.service"),
        "systemd",
    );
    assert!(!output.status.success(), "{}", describe(&output));
}

#[test]
fn unit_exposure_score_is_at_most_2_0() {
    let output = run(
        Command::new("systemd-analyze")
            .args(["security", "--offline=yes", "--no-pager"])
            .arg(repo().join("systemd/frontdesk.service")),
        "systemd",
    );
    let stdout = text(&output.stdout);
    // "→ Overall exposure level for frontdesk.service: 1.1 OK 🙂"
    let score: f64 = stdout
        .lines()
        .find_map(|line| line.split_once("Overall exposure level for frontdesk.service:"))
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in the output: {}", describe(&output)));
    assert!(
        score <= MAX_EXPOSURE,
        "exposure {score} is above {MAX_EXPOSURE}: {}",
        describe(&output)
    );
}
