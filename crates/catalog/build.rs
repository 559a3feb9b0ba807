// Runs the PostgreSQL half of `db_test!` tests only when a server is named, and the Meilisearch
// half of the search conformance tests only when a Meilisearch server is named.
fn main() {
    for (var, cfg) in [
        ("JINGUO_TEST_POSTGRES_URL", "pg_tests"),
        ("JINGUO_TEST_MEILI_URL", "meili_tests"),
    ] {
        println!("cargo:rerun-if-env-changed={var}");
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        if std::env::var_os(var).is_some_and(|v| !v.is_empty()) {
            println!("cargo:rustc-cfg={cfg}");
        }
    }
}
