//! `avisa user add|passwd|list` as a process, password on stdin.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use avisa::config::DatabaseUrl;

fn avisa(dir: &std::path::Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_avisa"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.join("avisa.db").display()),
        )
        // The assertions below read the English wording.
        .env("AVISA_LOCALE", "en")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run avisa");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test]
async fn users_are_added_listed_and_changed_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let short = avisa(dir.path(), &["user", "add", "ana@example.com"], "short\n");
    assert!(!short.status.success());
    assert!(
        text(&short).contains("at least 10 characters"),
        "{}",
        text(&short)
    );

    let added = avisa(
        dir.path(),
        &["user", "add", "Ana@Example.com"],
        "correct horse battery\n",
    );
    assert!(added.status.success(), "{}", text(&added));
    assert!(text(&added).contains("user ana@example.com created"));

    let again = avisa(
        dir.path(),
        &["user", "add", "ana@example.com"],
        "another password 1\n",
    );
    assert!(!again.status.success());
    assert!(text(&again).contains("already exists"));

    let bad = avisa(
        dir.path(),
        &["user", "add", "not-an-email"],
        "correct horse battery\n",
    );
    assert!(!bad.status.success());

    let url = DatabaseUrl::Sqlite {
        path: dir.path().join("avisa.db"),
    };
    let store = avisa::store::connect(&url).await.unwrap();
    let user = store
        .user_credentials("ana@example.com")
        .await
        .unwrap()
        .unwrap();
    assert!(avisa::web::admin::password::verify(
        "correct horse battery",
        &user.password_hash
    ));
    assert!(user.password_hash.starts_with("$argon2id$"));

    let changed = avisa(
        dir.path(),
        &["user", "passwd", "ana@example.com"],
        "a brand new secret\n",
    );
    assert!(changed.status.success(), "{}", text(&changed));
    let user = store
        .user_credentials("ana@example.com")
        .await
        .unwrap()
        .unwrap();
    assert!(avisa::web::admin::password::verify(
        "a brand new secret",
        &user.password_hash
    ));

    let list = avisa(dir.path(), &["user", "list"], "");
    assert!(list.status.success());
    let out = String::from_utf8_lossy(&list.stdout);
    assert!(
        out.contains("ana@example.com") && out.contains("never"),
        "{out}"
    );
}
