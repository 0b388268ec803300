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
    // rtc's DTLS warns on every connection it opens as the client that it has no server name:
    // a name is never checked here (the certificate is pinned by the SDP fingerprint), and the
    // warning buried everything else in the log. Kept unless the filter names rtc_dtls itself.
    let filter = if filter.contains("rtc_dtls") || filter.trim() == "off" {
        filter
    } else {
        format!("{filter},rtc_dtls::config=error")
    };
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

    if let Some(command) = &config.command {
        return transfer(command, &config).await;
    }

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
    let cluster = server.state.cluster.clone();
    tokio::spawn(async move {
        let interrupted = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        tokio::select! {
            () = interrupted => tracing::info!("interrupted: shutting down"),
            () = terminated() => match &cluster {
                // Cluster mode: drain first (no new rooms; rooms go on until the deadline, then
                // their clients move to other nodes).
                Some(cluster) => {
                    tracing::info!("SIGTERM: draining");
                    cluster.drain().await;
                    tracing::info!("drained: shutting down");
                }
                None => tracing::info!("SIGTERM: shutting down"),
            },
        }
        stopper.send_replace(true);
    });
    match server.wait().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("salon-server: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Resolves on SIGTERM (never elsewhere than Unix).
async fn terminated() {
    #[cfg(unix)]
    {
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            term.recv().await;
            return;
        }
    }
    std::future::pending::<()>().await;
}

/// `salon-server export` / `import`: rooms as JSON lines between stdout/stdin and the store
/// (Redis with --redis, else SQLite in --data-dir).
async fn transfer(
    command: &salon_server::config::Command,
    config: &Config,
) -> std::process::ExitCode {
    use salon_server::config::Command;
    use salon_server::store::Store;
    let store = match &config.redis {
        Some(url) => Store::connect_redis(url).await,
        None => Store::open(&config.data_dir),
    };
    let store = match store {
        Ok(store) => store,
        Err(e) => {
            eprintln!("salon-server: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = match command {
        Command::Export => salon_server::transfer::export(&store, std::io::stdout().lock())
            .await
            .map(|n| format!("exported {n} rooms"))
            .map_err(|e| e.to_string()),
        Command::Import => salon_server::transfer::import(&store, std::io::stdin().lock())
            .await
            .map(|n| format!("imported {n} rooms"))
            .map_err(|e| e.to_string()),
    };
    match result {
        Ok(done) => {
            eprintln!("salon-server: {done}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("salon-server: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
