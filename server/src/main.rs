//! The `portal` binary.

use server::{config::Settings, startup, telemetry};

// Query evaluation allocates many small label sets; mimalloc serves them about twice as fast
// as glibc's allocator (measured in docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let settings = match Settings::load() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("portal: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    telemetry::init(settings.log_format, &settings.log);
    match run(settings).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "portal failed");
            eprintln!("portal: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(settings: Settings) -> anyhow::Result<()> {
    let app = startup::Application::build(&settings).await?;
    let url = format!("http://{}", app.address());
    tracing::info!(%url, "portal listening");
    println!("Portal is running at {url} (Ctrl-C to stop)");
    if let Some((password, file)) = app.first_admin() {
        println!(
            "First start: sign in as admin with the password {password} (also in {}, readable by this user only)",
            file.display()
        );
    }
    app.run_until_stopped(startup::stop_signal()).await
}
