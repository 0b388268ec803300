use clap::Parser as _;
use salon_server::config::Config;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = Config::parse();
    let filter = std::env::var("RUST_LOG")
        .ok()
        .filter(|_| {
            std::env::var_os("SALON_LOG").is_none()
                && config.log == salon_server::config::DEFAULT_LOG
        })
        .unwrap_or_else(|| config.log.clone());
    let filter = match EnvFilter::try_new(&filter) {
        Ok(filter) => filter,
        Err(e) => {
            eprintln!("salon-server: invalid --log filter {filter:?}: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();

    // Every connection and media socket is a file descriptor: use all the system allows (the
    // soft limit is often 1024 while the hard limit is far higher).
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open files limit"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open files limit"),
    }
    let server = match salon_server::start(&config).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("salon-server: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // One line on stdout that scripts and tests can read.
    println!("salon-server listening on {}", server.url());
    tracing::info!(
        data_dir = %config.data_dir.display(),
        media_ip = %config.media_bind_ip(),
        public_ip = ?config.public_ip,
        udp_port = %server.state.media.engine.advertised(),
        "Salon is running: open {} in a browser",
        server.url()
    );
    let stopper = server.shutdown_handle();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::info!("shutting down");
            stopper.send_replace(true);
        }
    });
    match server.wait().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("salon-server: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
