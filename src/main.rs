//! The `avisa` binary: parse the command line and hand over to the library.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = avisa::cli::parse();
    match avisa::cli::run(cli).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", avisa::cli::error_report(&error));
            std::process::ExitCode::FAILURE
        }
    }
}
