//! Typed values on both backends: ids, amounts in fen and text enums bind and read as themselves,
//! and a text the enum does not know is an error rather than a guess.

use jinguo_common::db_test;
use jinguo_common::ids::ProducerId;
use jinguo_common::money::Fen;
use jinguo_common::testing::TestDb;
use sqlx::Row;

jinguo_common::text_enum! {
    /// Some of the kinds the `producers` table allows.
    enum Kind {
        Workshop = "workshop",
        Household = "household",
    }
}

const NOW: i64 = 1_795_924_800_000;

async fn insert_producer(db: &TestDb, slug: &str, kind: &str) -> ProducerId {
    sqlx::query_scalar(
        "insert into producers (slug, kind, name, district_code, created_at, updated_at)
         values ($1, $2, $3, '500229', $4, $4) returning id",
    )
    .bind(slug)
    .bind(kind)
    .bind(slug)
    .bind(NOW)
    .fetch_one(db.pool())
    .await
    .unwrap()
}

async fn ids_amounts_and_enums_bind_directly(db: TestDb) {
    let producer: ProducerId = sqlx::query_scalar(
        "insert into producers (slug, kind, name, district_code, created_at, updated_at)
         values ($1, $2, $3, '500229', $4, $4) returning id",
    )
    .bind("wang-family")
    .bind(Kind::Household)
    .bind("王家")
    .bind(NOW)
    .fetch_one(db.pool())
    .await
    .unwrap();

    let row = sqlx::query("select id, kind from producers where id = $1")
        .bind(producer)
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(row.try_get::<ProducerId, _>("id").unwrap(), producer);
    assert_eq!(row.try_get::<Kind, _>("kind").unwrap(), Kind::Household);

    let category: i64 =
        sqlx::query_scalar("insert into categories (slug, name) values ($1, $2) returning id")
            .bind("honey")
            .bind("蜂蜜")
            .fetch_one(db.pool())
            .await
            .unwrap();
    let product: i64 = sqlx::query_scalar(
        "insert into products (slug, producer_id, category_id, title, unit, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $6) returning id",
    )
    .bind("zhongfeng-honey")
    .bind(producer)
    .bind(category)
    .bind("中蜂蜜")
    .bind("瓶")
    .bind(NOW)
    .fetch_one(db.pool())
    .await
    .unwrap();
    for (name, price) in [("250克", Fen(3_900)), ("500克", Fen(6_800))] {
        sqlx::query("insert into skus (product_id, name, price_fen, stock) values ($1, $2, $3, 5)")
            .bind(product)
            .bind(name)
            .bind(price)
            .execute(db.pool())
            .await
            .unwrap();
    }
    let prices: Vec<Fen> =
        sqlx::query_scalar("select price_fen from skus where product_id = $1 order by price_fen")
            .bind(product)
            .fetch_all(db.pool())
            .await
            .unwrap();
    assert_eq!(prices, [Fen(3_900), Fen(6_800)]);
    assert_eq!(prices.into_iter().sum::<Fen>(), Fen(10_700));

    let owner: Option<ProducerId> = sqlx::query_scalar(
        "select p.producer_id from skus s join products p on p.id = s.product_id where s.price_fen = $1",
    )
    .bind(Fen(6_800))
    .fetch_optional(db.pool())
    .await
    .unwrap();
    assert_eq!(owner, Some(producer));
}

async fn an_unknown_spelling_does_not_read(db: TestDb) {
    let known = insert_producer(&db, "a-workshop", "workshop").await;
    let unknown = insert_producer(&db, "a-cooperative", "cooperative").await;
    let kind_of = |id: ProducerId| {
        sqlx::query_scalar::<_, Kind>("select kind from producers where id = $1")
            .bind(id)
            .fetch_one(db.pool())
    };
    assert_eq!(kind_of(known).await.unwrap(), Kind::Workshop);
    let err = kind_of(unknown).await.unwrap_err();
    assert!(matches!(err, sqlx::Error::ColumnDecode { .. }), "{err:?}");
    assert!(err.to_string().contains("cooperative"), "{err}");
}

db_test!(
    ids_amounts_and_enums_bind_directly,
    an_unknown_spelling_does_not_read
);
