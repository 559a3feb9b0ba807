//! The address book: where a buyer's orders go, with the district's GB/T 2260 code.

use jinguo_common::clock::Millis;
use jinguo_common::phone::mobile;
use jinguo_common::region::regions;
use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};

use crate::OrderError;

/// Most addresses one buyer keeps.
pub const MAX_ADDRESSES: i64 = 20;

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct NewAddress {
    pub recipient: String,
    pub phone: String,
    /// Six-digit district or county code.
    pub region_code: String,
    /// Street, building, room.
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Address {
    pub id: i64,
    pub recipient: String,
    pub phone: String,
    pub region_code: String,
    /// Province, city and district, e.g. 山东省济南市历下区.
    pub region_name: String,
    pub detail: String,
}

impl NewAddress {
    /// Checks and normalises the address (the phone number to its eleven digits).
    pub fn validate(&self) -> Result<NewAddress, OrderError> {
        let recipient = self.recipient.trim();
        if recipient.is_empty()
            || recipient.chars().count() > 20
            || recipient.chars().any(char::is_control)
        {
            return Err(OrderError::invalid(
                "recipient",
                "a name of 1 to 20 characters",
            ));
        }
        let phone = mobile(&self.phone).ok_or_else(|| {
            OrderError::invalid(
                "phone",
                format!("“{}” is not a mainland mobile number", self.phone),
            )
        })?;
        let code = self.region_code.trim();
        if regions().district(code).is_none() {
            return Err(OrderError::invalid(
                "region_code",
                format!("“{code}” is not a six-digit district or county code"),
            ));
        }
        let detail = self.detail.trim();
        let n = detail.chars().count();
        if !(4..=120).contains(&n) || detail.chars().any(char::is_control) {
            return Err(OrderError::invalid(
                "detail",
                "the street address: 4 to 120 characters",
            ));
        }
        Ok(NewAddress {
            recipient: recipient.to_owned(),
            phone,
            region_code: code.to_owned(),
            detail: detail.to_owned(),
        })
    }
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<Address, sqlx::Error> {
    let code: String = row.try_get("region_code")?;
    Ok(Address {
        id: row.try_get("id")?,
        recipient: row.try_get("recipient")?,
        phone: row.try_get("phone")?,
        region_name: regions().full_name(&code).unwrap_or_default(),
        region_code: code,
        detail: row.try_get("detail")?,
    })
}

pub async fn add(
    conn: &mut AnyConnection,
    user: i64,
    new: &NewAddress,
    now: Millis,
) -> Result<Address, OrderError> {
    let new = new.validate()?;
    let count: i64 = sqlx::query_scalar("select count(*) from addresses where user_id = $1")
        .bind(user)
        .fetch_one(&mut *conn)
        .await?;
    if count >= MAX_ADDRESSES {
        return Err(OrderError::invalid(
            "address",
            format!("at most {MAX_ADDRESSES} addresses"),
        ));
    }
    // The same address twice is one address.
    let existing = sqlx::query(
        "select id, recipient, phone, region_code, detail from addresses
         where user_id = $1 and recipient = $2 and phone = $3 and region_code = $4 and detail = $5",
    )
    .bind(user)
    .bind(&new.recipient)
    .bind(&new.phone)
    .bind(&new.region_code)
    .bind(&new.detail)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(row) = existing {
        return Ok(from_row(&row)?);
    }
    let row = sqlx::query(
        "insert into addresses (user_id, recipient, phone, region_code, detail, created_at)
         values ($1, $2, $3, $4, $5, $6) returning id, recipient, phone, region_code, detail",
    )
    .bind(user)
    .bind(&new.recipient)
    .bind(&new.phone)
    .bind(&new.region_code)
    .bind(&new.detail)
    .bind(now)
    .fetch_one(conn)
    .await?;
    Ok(from_row(&row)?)
}

pub async fn of_user(conn: &mut AnyConnection, user: i64) -> Result<Vec<Address>, sqlx::Error> {
    let rows = sqlx::query(
        "select id, recipient, phone, region_code, detail from addresses where user_id = $1 order by id desc",
    )
    .bind(user)
    .fetch_all(conn)
    .await?;
    rows.iter().map(from_row).collect()
}

pub async fn get(
    conn: &mut AnyConnection,
    user: i64,
    id: i64,
) -> Result<Option<Address>, sqlx::Error> {
    let row = sqlx::query(
        "select id, recipient, phone, region_code, detail from addresses where user_id = $1 and id = $2",
    )
    .bind(user)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(phone: &str, code: &str) -> NewAddress {
        NewAddress {
            recipient: "李华".into(),
            phone: phone.into(),
            region_code: code.into(),
            detail: "历下区泉城路 188 号 3 单元 502".into(),
        }
    }

    #[test]
    fn checks_phone_and_region() {
        let ok = address("+86 139 0531 0000", "370102").validate().unwrap();
        assert_eq!(ok.phone, "13905310000");
        assert!(matches!(
            address("0531-8888888", "370102").validate(),
            Err(OrderError::Invalid { field: "phone", .. })
        ));
        assert!(matches!(
            address("13905310000", "370100").validate(),
            Err(OrderError::Invalid {
                field: "region_code",
                ..
            })
        ));
        let mut short = address("13905310000", "370102");
        short.detail = "门".into();
        assert!(matches!(
            short.validate(),
            Err(OrderError::Invalid {
                field: "detail",
                ..
            })
        ));
    }
}
