//! The `avisa` binary as a process, as an operator or cron runs it.

use std::path::Path;

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `avisa ARGS` in `dir` with a clean environment: only PATH,
/// `DATABASE_URL` (the SQLite file `dir/avisa.db` unless `vars` says
/// otherwise) and `vars`.
pub fn avisa(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Run {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_avisa"));
    command
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.join("avisa.db").display()),
        );
    for (name, value) in vars {
        command.env(name, value);
    }
    let output = command.output().expect("run avisa");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}
