//! The database layer on both backends: migrations apply, `$n` placeholders, `RETURNING`,
//! upserts and yes/no flags read the same.

use jinguo_common::db::flag;
use jinguo_common::db_test;
use jinguo_common::testing::TestDb;
use sqlx::Row;

async fn one_query_set_runs_on_both(db: TestDb) {
    let id: i64 = sqlx::query_scalar(
        "insert into categories (slug, name, name_en, position) values ($1, $2, $3, $4) returning id",
    )
    .bind("larou")
    .bind("腊肉")
    .bind("Smoked pork")
    .bind(1_i64)
    .fetch_one(db.pool())
    .await
    .unwrap();

    // An upsert keyed on the slug updates in place.
    let again: i64 = sqlx::query_scalar(
        "insert into categories (slug, name) values ($1, $2)
         on conflict (slug) do update set name = excluded.name returning id",
    )
    .bind("larou")
    .bind("腊肉制品")
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert_eq!(again, id);

    let row =
        sqlx::query("select name, position, position > 0 as ranked from categories where id = $1")
            .bind(id)
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_eq!(row.get::<String, _>("name"), "腊肉制品");
    assert_eq!(row.get::<i64, _>("position"), 1);
    assert!(flag(&row, "ranked").unwrap());
}

async fn migrations_are_idempotent(db: TestDb) {
    db.migrate().await.unwrap();
    let tables: i64 = sqlx::query_scalar("select count(*) from categories")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(tables, 0);
}

db_test!(one_query_set_runs_on_both, migrations_are_idempotent);
