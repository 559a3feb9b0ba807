//! Who owns which table, checked against the code: the README's table says which crate owns
//! each table (and which views it publishes for others to read through); every table the
//! migrations create has exactly one owner; a crate's SQL writes only its own tables and reads
//! another's only through a view that crate publishes; the storefront has no SQL at all.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// crate → (tables it owns, views it publishes), from the README's table.
fn owners() -> BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let header = readme
        .lines()
        .position(|l| l.starts_with("| crate | owns the tables | publishes views |"))
        .expect("the README has the table of who owns which table");
    let mut owners = BTreeMap::new();
    for line in readme.lines().skip(header + 2) {
        if !line.starts_with('|') {
            break;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let names = |cell: &str| -> BTreeSet<String> {
            cell.split(',')
                .map(|n| n.trim().trim_matches('`').to_owned())
                .filter(|n| !n.is_empty() && n != "—")
                .collect()
        };
        owners.insert(
            cells[0].trim_matches('`').to_owned(),
            (names(cells[1]), names(cells[2])),
        );
    }
    owners
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The string literals of a Rust source file (comments skipped), lowercased.
fn literals(source: &str) -> Vec<String> {
    let bytes = source.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            // A character literal holding a quote, e.g. '"'.
            b'\'' if bytes.get(i + 1) == Some(&b'"') && bytes.get(i + 2) == Some(&b'\'') => {
                i += 3;
            }
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                out.push(source[start..i.min(bytes.len())].to_lowercase());
                i += 1;
            }
            _ => i += 1,
        }
    }
    out
}

/// The tables and views an SQL text names, as (name, written?).
fn tables_in(sql: &str, known: &BTreeSet<String>) -> Vec<(String, bool)> {
    let words: Vec<&str> = sql
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    let mut found = Vec::new();
    for pair in words.windows(2) {
        let (keyword, name) = (pair[0], pair[1]);
        if !known.contains(name) {
            continue;
        }
        match keyword {
            "into" | "update" => found.push((name.to_owned(), true)),
            "from" | "join" => found.push((name.to_owned(), false)),
            _ => {}
        }
    }
    // `delete from x` writes x.
    for triple in words.windows(3) {
        if triple[0] == "delete" && triple[1] == "from" && known.contains(triple[2]) {
            found.push((triple[2].to_owned(), true));
        }
    }
    found
}

fn created(dialect: &str, what: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let dir = Path::new(ROOT).join("migrations").join(dialect);
    for entry in std::fs::read_dir(dir).unwrap() {
        let sql = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in sql.lines() {
            if let Some(rest) = line.trim().strip_prefix(&format!("create {what} ")) {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                names.insert(name);
            }
        }
    }
    names
}

#[test]
fn every_table_has_one_owner_and_only_its_owner_writes_it() {
    let owners = owners();
    let mut owner_of: BTreeMap<String, String> = BTreeMap::new();
    let mut views: BTreeMap<String, String> = BTreeMap::new();
    for (krate, (tables, published)) in &owners {
        for table in tables {
            let before = owner_of.insert(table.clone(), krate.clone());
            assert!(before.is_none(), "{table} has two owners in the README");
        }
        for view in published {
            views.insert(view.clone(), krate.clone());
        }
    }
    for dialect in ["sqlite", "postgres"] {
        let tables = created(dialect, "table");
        let listed: BTreeSet<String> = owner_of.keys().cloned().collect();
        assert_eq!(
            tables, listed,
            "{dialect}: the migrations' tables are the README's"
        );
        let made: BTreeSet<String> = created(dialect, "view");
        let listed: BTreeSet<String> = views.keys().cloned().collect();
        assert_eq!(
            made, listed,
            "{dialect}: the migrations' views are the README's"
        );
    }
    let known: BTreeSet<String> = owner_of.keys().chain(views.keys()).cloned().collect();

    let mut problems = Vec::new();
    let crates = Path::new(ROOT).join("crates");
    for entry in std::fs::read_dir(&crates).unwrap() {
        let dir = entry.unwrap().path();
        let krate = dir.file_name().unwrap().to_string_lossy().into_owned();
        let mut files = Vec::new();
        rust_files(&dir.join("src"), &mut files);
        for file in files {
            let source = std::fs::read_to_string(&file).unwrap();
            let shown = file.strip_prefix(&crates).unwrap().display().to_string();
            if krate == "storefront" || krate == "shop" {
                if source.contains("sqlx::") {
                    problems.push(format!("{shown}: no SQL outside the domain crates"));
                }
                continue;
            }
            for sql in literals(&source) {
                for (name, writes) in tables_in(&sql, &known) {
                    let table_owner = owner_of.get(&name);
                    let view_owner = views.get(&name);
                    let own = table_owner == Some(&krate) || view_owner == Some(&krate);
                    if own {
                        continue;
                    }
                    if writes {
                        problems.push(format!("{shown}: writes {name}, which is not {krate}'s"));
                    } else if view_owner.is_none() {
                        problems.push(format!(
                            "{shown}: reads {name}, which is {}'s, not through a view it publishes",
                            table_owner.map_or("nobody", String::as_str)
                        ));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_scanner_sees_reads_writes_and_views() {
    let known: BTreeSet<String> = ["skus", "orders", "account_emails"]
        .map(str::to_owned)
        .into();
    let sql = "update skus set stock = stock - $1 where id = $2";
    assert_eq!(tables_in(sql, &known), vec![("skus".to_owned(), true)]);
    let sql = "select n.id from notifications n join account_emails a on a.user_id = n.user_id";
    assert_eq!(
        tables_in(sql, &known),
        vec![("account_emails".to_owned(), false)]
    );
    let sql = "delete from orders where id = $1";
    assert!(tables_in(sql, &known).contains(&("orders".to_owned(), true)));
    assert_eq!(
        literals("let a = \"Select 1 FROM skus\"; // \"from orders\"\nlet c = '\"';"),
        vec!["select 1 from skus".to_owned()]
    );
}
