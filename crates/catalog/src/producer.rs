//! Producers: the workshops (巾帼扶贫车间), demonstration bases (巾帼脱贫示范基地), cooperatives
//! and households (巴渝巧姐) whose goods the shop sells, with their place, story, verification
//! and certificate.

use jinguo_common::clock::Millis;
use jinguo_common::db::flag;
use jinguo_common::region::regions;
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::CatalogError;
use crate::error::{check_date, check_len, check_slug, check_text};
use crate::image::ImageId;
use jinguo_common::invalid::{Field, Problem};

pub use jinguo_common::ids::ProducerId;

jinguo_common::text_enum! {
    pub enum ProducerKind {
        /// 巾帼扶贫车间
        Workshop = "workshop",
        /// 巾帼脱贫示范基地
        Base = "base",
        /// 合作社
        Cooperative = "cooperative",
        /// 农户, 巴渝巧姐
        Household = "household",
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Producer {
    pub id: ProducerId,
    pub slug: String,
    pub kind: ProducerKind,
    pub name: String,
    pub name_en: String,
    /// Six-digit GB/T 2260 district or county code.
    pub district_code: String,
    pub township: String,
    pub village: String,
    pub story: String,
    pub story_en: String,
    pub verified: bool,
    pub certification_no: Option<String>,
    /// `YYYY-MM-DD`
    pub certified_until: Option<String>,
    pub women_employed: i64,
    pub founded_year: Option<i64>,
    pub image_id: Option<ImageId>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// Where a producer's certificate stands on a given day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Certification {
    Valid { number: String, until: String },
    Expired { number: String, until: String },
    None,
}

impl Producer {
    pub fn certification(&self, today: time::Date) -> Certification {
        match (&self.certification_no, &self.certified_until) {
            (Some(number), Some(until)) => {
                let still_valid =
                    check_date(Field::CertifiedUntil, until).is_ok_and(|d| d >= today);
                let (number, until) = (number.clone(), until.clone());
                if still_valid {
                    Certification::Valid { number, until }
                } else {
                    Certification::Expired { number, until }
                }
            }
            _ => Certification::None,
        }
    }

    /// Verified by federation staff and holding a certificate valid today.
    pub fn is_certified(&self, today: time::Date) -> bool {
        self.verified && matches!(self.certification(today), Certification::Valid { .. })
    }

    /// `重庆市城口县岚天乡三河村`
    pub fn place(&self) -> String {
        let district = regions().full_name(&self.district_code).unwrap_or_default();
        format!("{district}{}{}", self.township, self.village)
    }
}

/// A producer as written by staff or the demo seed.
#[derive(Debug, Clone, Deserialize)]
pub struct NewProducer {
    pub slug: String,
    pub kind: ProducerKind,
    pub name: String,
    #[serde(default)]
    pub name_en: String,
    pub district_code: String,
    #[serde(default)]
    pub township: String,
    #[serde(default)]
    pub village: String,
    #[serde(default)]
    pub story: String,
    #[serde(default)]
    pub story_en: String,
    #[serde(default)]
    pub verified: bool,
    pub certification_no: Option<String>,
    pub certified_until: Option<String>,
    #[serde(default)]
    pub women_employed: i64,
    pub founded_year: Option<i64>,
}

impl NewProducer {
    pub fn validate(&self) -> Result<(), CatalogError> {
        check_slug(Field::Slug, &self.slug)?;
        check_text(Field::Name, &self.name, 80)?;
        check_len(Field::NameEn, &self.name_en, 120)?;
        if regions().district(&self.district_code).is_none() {
            return Err(CatalogError::invalid(
                Field::DistrictCode,
                Problem::NotADistrict {
                    value: self.district_code.clone(),
                },
            ));
        }
        if !self.township.is_empty()
            && self.district_code.starts_with("50")
            && regions()
                .find_township(&self.district_code, &self.township)
                .is_none()
        {
            return Err(CatalogError::invalid(
                Field::Township,
                Problem::NotATownship {
                    value: self.township.clone(),
                },
            ));
        }
        check_len(Field::Village, &self.village, 40)?;
        check_len(Field::Story, &self.story, 4000)?;
        check_len(Field::StoryEn, &self.story_en, 4000)?;
        if let Some(until) = &self.certified_until {
            check_date(Field::CertifiedUntil, until)?;
        }
        if self.certified_until.is_some() != self.certification_no.is_some() {
            let (field, other) = if self.certification_no.is_some() {
                (Field::CertificationNo, Field::CertifiedUntil)
            } else {
                (Field::CertifiedUntil, Field::CertificationNo)
            };
            return Err(CatalogError::invalid(field, Problem::NeedsAlso { other }));
        }
        if !(0..=100_000).contains(&self.women_employed) {
            return Err(CatalogError::invalid(
                Field::WomenEmployed,
                Problem::Range {
                    min: 0,
                    max: 100_000,
                },
            ));
        }
        Ok(())
    }
}

pub(crate) const COLUMNS: &str = "id, slug, kind, name, name_en, district_code, township, village, \
    story, story_en, verified, certification_no, certified_until, women_employed, founded_year, \
    image_id, created_at, updated_at";

pub(crate) fn from_row(row: &AnyRow) -> Result<Producer, sqlx::Error> {
    Ok(Producer {
        id: ProducerId(row.try_get("id")?),
        slug: row.try_get("slug")?,
        kind: row.try_get("kind")?,
        name: row.try_get("name")?,
        name_en: row.try_get("name_en")?,
        district_code: row.try_get("district_code")?,
        township: row.try_get("township")?,
        village: row.try_get("village")?,
        story: row.try_get("story")?,
        story_en: row.try_get("story_en")?,
        verified: flag(row, "verified")?,
        certification_no: row.try_get("certification_no")?,
        certified_until: row.try_get("certified_until")?,
        women_employed: row.try_get("women_employed")?,
        founded_year: row.try_get("founded_year")?,
        image_id: row.try_get::<Option<i64>, _>("image_id")?.map(ImageId),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub async fn by_slug(
    conn: &mut AnyConnection,
    slug: &str,
) -> Result<Option<Producer>, sqlx::Error> {
    let sql = format!("select {COLUMNS} from producers where slug = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(slug)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn by_id(
    conn: &mut AnyConnection,
    id: ProducerId,
) -> Result<Option<Producer>, sqlx::Error> {
    let sql = format!("select {COLUMNS} from producers where id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.0)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn all(conn: &mut AnyConnection) -> Result<Vec<Producer>, sqlx::Error> {
    let sql = format!("select {COLUMNS} from producers order by id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// Inserts the producer unless one with its slug exists. Returns its id and whether it was new.
pub async fn insert_if_missing(
    conn: &mut AnyConnection,
    new: &NewProducer,
    image_id: Option<ImageId>,
    now: Millis,
) -> Result<(ProducerId, bool), CatalogError> {
    new.validate()?;
    let inserted: Option<i64> = sqlx::query_scalar(
        "insert into producers (slug, kind, name, name_en, district_code, township, village, story,
             story_en, verified, certification_no, certified_until, women_employed, founded_year,
             image_id, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16)
         on conflict (slug) do nothing
         returning id",
    )
    .bind(&new.slug)
    .bind(new.kind.as_str())
    .bind(&new.name)
    .bind(&new.name_en)
    .bind(&new.district_code)
    .bind(&new.township)
    .bind(&new.village)
    .bind(&new.story)
    .bind(&new.story_en)
    .bind(new.verified)
    .bind(&new.certification_no)
    .bind(&new.certified_until)
    .bind(new.women_employed)
    .bind(new.founded_year)
    .bind(image_id.map(|i| i.0))
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = inserted {
        return Ok((ProducerId(id), true));
    }
    let id: i64 = sqlx::query_scalar("select id from producers where slug = $1")
        .bind(&new.slug)
        .fetch_one(&mut *conn)
        .await?;
    Ok((ProducerId(id), false))
}

/// Records staff's verification decision and the certificate it rests on.
pub async fn set_verification(
    conn: &mut AnyConnection,
    id: ProducerId,
    verified: bool,
    certificate: Option<(&str, &str)>,
    now: Millis,
) -> Result<(), CatalogError> {
    if let Some((_, until)) = certificate {
        check_date(Field::CertifiedUntil, until)?;
    }
    let done = sqlx::query(
        "update producers set verified = $1, certification_no = $2, certified_until = $3,
             updated_at = $4
         where id = $5",
    )
    .bind(verified)
    .bind(certificate.map(|c| c.0))
    .bind(certificate.map(|c| c.1))
    .bind(now)
    .bind(id.0)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(CatalogError::not_found("producer", id.to_string()));
    }
    Ok(())
}

/// Products per district: the districts the shop sells from, for the home page and filters.
pub async fn district_counts(conn: &mut AnyConnection) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let rows = sqlx::query(
        "select pr.district_code, count(p.id) as products
         from producers pr join products p on p.producer_id = pr.id and p.status = 'published'
         group by pr.district_code
         order by products desc, pr.district_code",
    )
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("district_code")?, r.try_get("products")?)))
        .collect()
}

/// How an order names a producer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProducerName {
    pub name: String,
    pub slug: String,
}

/// The names of these producers (missing ones are left out), in one query.
pub async fn names(
    conn: &mut AnyConnection,
    ids: &[ProducerId],
) -> Result<std::collections::HashMap<ProducerId, ProducerName>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let mut sql =
        jinguo_common::db::SqlBuf::new("select id, name, slug from producers where id in ");
    sql.bind_list(ids.iter().map(|p| p.0));
    let rows = sql.query().fetch_all(conn).await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("id")?,
                ProducerName {
                    name: r.try_get("name")?,
                    slug: r.try_get("slug")?,
                },
            ))
        })
        .collect()
}
