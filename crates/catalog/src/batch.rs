//! Batches and provenance codes: one batch of one product (a smoking in the winter, a honey
//! harvest, a month's weaving), with when and where it was made, and the short public code on its
//! packages that opens `/trace/{code}`.

use jinguo_common::clock::Millis;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::CatalogError;
use crate::error::{check_date, check_len, check_text};
use crate::image::ImageId;
use crate::producer::{self, Producer};
use crate::product::{self, Product, ProductId};
use jinguo_common::invalid::{Field, Problem};

jinguo_common::id_type!(BatchId);

/// Crockford's base-32 alphabet: no I, L, O or U, so a code read off a package is hard to mistype.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
pub const CODE_LEN: usize = 8;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Batch {
    pub id: BatchId,
    /// The public provenance code, e.g. `7K3M9QXA`.
    pub code: String,
    pub product_id: ProductId,
    /// The producer's own batch number.
    pub batch_no: String,
    /// Production or harvest date, `YYYY-MM-DD`.
    pub produced_on: String,
    /// The workshop, field or hive site where the batch was made.
    pub site: String,
    pub quantity: Option<i64>,
    pub note: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NewBatch {
    pub batch_no: String,
    pub produced_on: String,
    #[serde(default)]
    pub site: String,
    pub quantity: Option<i64>,
    #[serde(default)]
    pub note: String,
}

impl NewBatch {
    pub fn validate(&self, today: time::Date) -> Result<(), CatalogError> {
        check_text(Field::BatchNo, &self.batch_no, 40)?;
        let date = check_date(Field::ProducedOn, &self.produced_on)?;
        if date > today {
            return Err(CatalogError::invalid(
                Field::ProducedOn,
                Problem::InTheFuture,
            ));
        }
        check_len(Field::Site, &self.site, 80)?;
        check_len(Field::Note, &self.note, 200)?;
        if self.quantity.is_some_and(|q| q < 0) {
            return Err(CatalogError::invalid(
                Field::Quantity,
                Problem::Range {
                    min: 0,
                    max: i64::MAX,
                },
            ));
        }
        Ok(())
    }
}

/// What a provenance code leads to: the batch, its product and the producer who made it.
#[derive(Debug, Clone, Serialize)]
pub struct Trace {
    pub batch: Batch,
    pub product: Product,
    pub producer: Producer,
    pub image_id: Option<ImageId>,
}

/// A fresh random code.
pub fn random_code() -> String {
    let bytes: [u8; CODE_LEN] = rand::random();
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(b % 32)] as char)
        .collect()
}

/// A code derived from the product and batch number: the demo seed gives the same batch the
/// same code on every machine.
pub fn derived_code(product_slug: &str, batch_no: &str) -> String {
    let digest = Sha256::digest(format!("{product_slug}\n{batch_no}").as_bytes());
    digest[..CODE_LEN]
        .iter()
        .map(|b| ALPHABET[usize::from(b % 32)] as char)
        .collect()
}

/// Reads a code as a person typed it: case and spaces ignored, O read as 0, I and L as 1.
/// `None` when it cannot be a code.
pub fn normalize_code(input: &str) -> Option<String> {
    let code: String = input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        })
        .collect();
    let valid = code.len() == CODE_LEN && code.bytes().all(|b| ALPHABET.contains(&b));
    valid.then_some(code)
}

const COLUMNS: &str = "id, code, product_id, batch_no, produced_on, site, quantity, note";

fn from_row(row: &AnyRow) -> Result<Batch, sqlx::Error> {
    Ok(Batch {
        id: BatchId(row.try_get("id")?),
        code: row.try_get("code")?,
        product_id: ProductId(row.try_get("product_id")?),
        batch_no: row.try_get("batch_no")?,
        produced_on: row.try_get("produced_on")?,
        site: row.try_get("site")?,
        quantity: row.try_get("quantity")?,
        note: row.try_get("note")?,
    })
}

pub async fn of_product(
    conn: &mut AnyConnection,
    product: ProductId,
) -> Result<Vec<Batch>, sqlx::Error> {
    let sql = format!(
        "select {COLUMNS} from batches where product_id = $1 order by produced_on desc, id desc"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(product.0)
        .fetch_all(conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// Inserts the batch under `code` unless the product already has a batch with this number.
pub async fn insert_if_missing(
    conn: &mut AnyConnection,
    product: ProductId,
    new: &NewBatch,
    code: &str,
    today: time::Date,
    now: Millis,
) -> Result<BatchId, CatalogError> {
    new.validate(today)?;
    sqlx::query(
        "insert into batches (code, product_id, batch_no, produced_on, site, quantity, note, created_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8)
         on conflict (product_id, batch_no) do nothing",
    )
    .bind(code)
    .bind(product.0)
    .bind(&new.batch_no)
    .bind(&new.produced_on)
    .bind(&new.site)
    .bind(new.quantity)
    .bind(&new.note)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let id: i64 =
        sqlx::query_scalar("select id from batches where product_id = $1 and batch_no = $2")
            .bind(product.0)
            .bind(&new.batch_no)
            .fetch_one(&mut *conn)
            .await?;
    Ok(BatchId(id))
}

/// The batch, product and producer behind a provenance code.
pub async fn trace(conn: &mut AnyConnection, code: &str) -> Result<Option<Trace>, sqlx::Error> {
    let Some(code) = normalize_code(code) else {
        return Ok(None);
    };
    let sql = format!("select {COLUMNS} from batches where code = $1");
    let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&code)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let batch = from_row(&row)?;
    let Some(product) = product::by_id(conn, batch.product_id).await? else {
        return Ok(None);
    };
    let Some(producer) = producer::by_id(conn, product.producer_id).await? else {
        return Ok(None);
    };
    let image_id = product::images_of(conn, product.id)
        .await?
        .into_iter()
        .next();
    Ok(Some(Trace {
        batch,
        product,
        producer,
        image_id,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_eight_unambiguous_characters() {
        for _ in 0..100 {
            let code = random_code();
            assert_eq!(normalize_code(&code), Some(code.clone()));
        }
        let derived = derived_code("chengkou-larou-500g", "LT-LR-2601");
        assert_eq!(derived, derived_code("chengkou-larou-500g", "LT-LR-2601"));
        assert_ne!(derived, derived_code("chengkou-larou-500g", "LT-LR-2512"));
    }

    #[test]
    fn reads_codes_the_way_people_type_them() {
        assert_eq!(normalize_code("7k3m-9qxa").as_deref(), Some("7K3M9QXA"));
        assert_eq!(normalize_code("O1IL 2345").as_deref(), Some("01112345"));
        assert_eq!(normalize_code("7K3M9QX"), None);
        assert_eq!(normalize_code("7K3M9QXU"), None);
        assert_eq!(normalize_code("../../etc"), None);
    }
}
