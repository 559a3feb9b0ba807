// Runs the PostgreSQL half of `db_test!` tests only when a server is named (see testing.rs).
fn main() {
    println!("cargo:rerun-if-env-changed=JINGUO_TEST_POSTGRES_URL");
    println!("cargo::rustc-check-cfg=cfg(pg_tests)");
    if std::env::var_os("JINGUO_TEST_POSTGRES_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo:rustc-cfg=pg_tests");
    }
}
