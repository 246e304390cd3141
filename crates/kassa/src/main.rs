use clap::Parser;

// Request handling allocates many small, short-lived objects (JSON trees);
// mimalloc serves them faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let cli = kassa::cli::Cli::parse();
    if let Err(e) = kassa::cli::run(cli).await {
        eprintln!("kassa: {e:#}");
        std::process::exit(1);
    }
}
