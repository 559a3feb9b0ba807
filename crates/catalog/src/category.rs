//! Categories: the shelves of the shop (腊肉, 蜂蜜, 西兰卡普 …).

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::CatalogError;
use crate::error::{check_slug, check_text};
use jinguo_common::invalid::Field;

jinguo_common::id_type!(CategoryId);

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Category {
    pub id: CategoryId,
    pub slug: String,
    pub name: String,
    pub name_en: String,
    pub position: i64,
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct NewCategory {
    pub slug: String,
    pub name: String,
    #[serde(default)]
    pub name_en: String,
    #[serde(default)]
    pub position: i64,
}

impl NewCategory {
    pub fn validate(&self) -> Result<(), CatalogError> {
        check_slug(Field::Slug, &self.slug)?;
        check_text(Field::Name, &self.name, 40)?;
        Ok(())
    }
}

fn from_row(row: &AnyRow) -> Result<Category, sqlx::Error> {
    Ok(Category {
        id: CategoryId(row.try_get("id")?),
        slug: row.try_get("slug")?,
        name: row.try_get("name")?,
        name_en: row.try_get("name_en")?,
        position: row.try_get("position")?,
    })
}

pub async fn all(conn: &mut AnyConnection) -> Result<Vec<Category>, sqlx::Error> {
    let rows = sqlx::query(
        "select id, slug, name, name_en, position from categories order by position, id",
    )
    .fetch_all(conn)
    .await?;
    rows.iter().map(from_row).collect()
}

pub async fn by_id(
    conn: &mut AnyConnection,
    id: CategoryId,
) -> Result<Option<Category>, sqlx::Error> {
    let row = sqlx::query("select id, slug, name, name_en, position from categories where id = $1")
        .bind(id.0)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Every category with its number of published products.
pub async fn with_counts(conn: &mut AnyConnection) -> Result<Vec<(Category, i64)>, sqlx::Error> {
    let rows = sqlx::query(
        "select c.id, c.slug, c.name, c.name_en, c.position, count(p.id) as products
         from categories c left join products p on p.category_id = c.id and p.status = 'published'
         group by c.id, c.slug, c.name, c.name_en, c.position
         order by c.position, c.id",
    )
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| Ok((from_row(r)?, r.try_get("products")?)))
        .collect()
}

/// Inserts the category unless one with its slug exists; returns its id either way.
pub async fn insert_if_missing(
    conn: &mut AnyConnection,
    new: &NewCategory,
) -> Result<CategoryId, CatalogError> {
    new.validate()?;
    sqlx::query(
        "insert into categories (slug, name, name_en, position) values ($1, $2, $3, $4)
         on conflict (slug) do nothing",
    )
    .bind(&new.slug)
    .bind(&new.name)
    .bind(&new.name_en)
    .bind(new.position)
    .execute(&mut *conn)
    .await?;
    let id: i64 = sqlx::query_scalar("select id from categories where slug = $1")
        .bind(&new.slug)
        .fetch_one(&mut *conn)
        .await?;
    Ok(CategoryId(id))
}
