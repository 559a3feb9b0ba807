//! `jinguo`: serve the shop, migrate, seed, reindex. See `jinguo --help`.

fn main() -> std::process::ExitCode {
    jinguo_storefront::cli::main()
}
