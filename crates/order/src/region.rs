//! Delivery restrictions per region, set by staff (the notice's low, medium and high risk
//! handling): normal, restricted (deliveries go, with a notice the buyer sees), suspended (no
//! orders to there). A province, city or district may carry one; the most specific applies.

use jinguo_common::clock::Millis;
use jinguo_common::region::regions;
use serde::Serialize;
use sqlx::{AnyConnection, Row};

use crate::OrderError;
use jinguo_common::ids::UserId;
use jinguo_common::invalid::{self, Field, Problem};

jinguo_common::text_enum! {
    pub enum Level {
        Normal = "normal",
        Restricted = "restricted",
        Suspended = "suspended",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Restriction {
    /// The code it was set on: 2 (province), 4 (city) or 6 (district) digits.
    pub region_code: String,
    pub region_name: String,
    pub level: Level,
    pub notice: String,
    pub updated_at: Millis,
}

/// The name of a province, city or district code.
pub fn region_name(code: &str) -> Option<String> {
    let r = regions();
    match code.len() {
        2 => r.province(code).map(|p| p.name.clone()),
        4 => r.city(code).map(|c| {
            let province = r
                .province(&c.province_code)
                .map(|p| p.name.clone())
                .unwrap_or_default();
            format!("{province}{}", c.name)
        }),
        6 => r.full_name(code),
        _ => None,
    }
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<Restriction, sqlx::Error> {
    let code: String = row.try_get("region_code")?;
    Ok(Restriction {
        region_name: region_name(&code).unwrap_or_else(|| code.clone()),
        region_code: code,
        level: row.try_get("level")?,
        notice: row.try_get("notice")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// The restriction that applies to a district: its own, else its city's, else its province's.
pub async fn for_district(
    conn: &mut AnyConnection,
    district: &str,
) -> Result<Option<Restriction>, sqlx::Error> {
    let (city, province) = (
        district.get(..4).unwrap_or(""),
        district.get(..2).unwrap_or(""),
    );
    let row = sqlx::query(
        "select region_code, level, notice, updated_at from delivery_restrictions
         where region_code in ($1, $2, $3) order by length(region_code) desc limit 1",
    )
    .bind(district)
    .bind(city)
    .bind(province)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn all(conn: &mut AnyConnection) -> Result<Vec<Restriction>, sqlx::Error> {
    let rows = sqlx::query(
        "select region_code, level, notice, updated_at from delivery_restrictions order by region_code",
    )
    .fetch_all(conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Sets (or, with `Normal`, clears) the restriction on a region.
pub async fn set(
    conn: &mut AnyConnection,
    code: &str,
    level: Level,
    notice: &str,
    staff: UserId,
    now: Millis,
) -> Result<(), OrderError> {
    if region_name(code).is_none() {
        return Err(OrderError::invalid(
            Field::RegionCode,
            Problem::NotARegion {
                value: code.to_owned(),
            },
        ));
    }
    // Buyers are told why: a restriction needs its notice.
    let notice = match level {
        Level::Normal => invalid::optional_text(Field::Notice, notice, 200)?,
        _ => invalid::text(Field::Notice, notice, 200)?,
    };
    if level == Level::Normal {
        sqlx::query("delete from delivery_restrictions where region_code = $1")
            .bind(code)
            .execute(conn)
            .await?;
        return Ok(());
    }
    sqlx::query(
        "insert into delivery_restrictions (region_code, level, notice, updated_by, updated_at)
         values ($1, $2, $3, $4, $5)
         on conflict (region_code) do update set level = excluded.level, notice = excluded.notice,
             updated_by = excluded.updated_by, updated_at = excluded.updated_at",
    )
    .bind(code)
    .bind(level)
    .bind(notice)
    .bind(staff)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}
