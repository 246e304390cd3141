use clap::Parser;

#[tokio::main]
async fn main() {
    let cli = kassa::cli::Cli::parse();
    if let Err(e) = kassa::cli::run(cli).await {
        eprintln!("kassa: {e:#}");
        std::process::exit(1);
    }
}
