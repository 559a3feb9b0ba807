//! The address book: where a buyer's orders go, with the district's GB/T 2260 code.

use jinguo_common::clock::Millis;
use jinguo_common::phone::mobile;
use jinguo_common::region::regions;
use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};

use crate::OrderError;
use crate::ids::AddressId;
use jinguo_common::ids::UserId;
use jinguo_common::invalid::{self, Field, Problem};

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
    pub id: AddressId,
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
        let recipient = invalid::text_between(Field::Recipient, &self.recipient, 1, 20)?;
        let phone = mobile(&self.phone).ok_or_else(|| {
            OrderError::invalid(
                Field::Phone,
                Problem::NotAMobile {
                    value: self.phone.clone(),
                },
            )
        })?;
        let code = self.region_code.trim();
        if regions().district(code).is_none() {
            return Err(OrderError::invalid(
                Field::RegionCode,
                Problem::NotADistrict {
                    value: code.to_owned(),
                },
            ));
        }
        let detail = invalid::text_between(Field::Detail, &self.detail, 4, 120)?;
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
    user: UserId,
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
            Field::Address,
            Problem::TooMany {
                max: MAX_ADDRESSES as usize,
            },
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

/// Keeps an address an order went to in the buyer's address book: once, and not past the
/// book's limit (the order still goes; the book stays as it is).
pub(crate) async fn remember(
    conn: &mut AnyConnection,
    user: UserId,
    new: &NewAddress,
    now: Millis,
) -> Result<(), OrderError> {
    match add(conn, user, new, now).await {
        Ok(_) => Ok(()),
        Err(OrderError::Invalid(full)) if full.field == Field::Address => Ok(()),
        Err(error) => Err(error),
    }
}

pub async fn of_user(conn: &mut AnyConnection, user: UserId) -> Result<Vec<Address>, sqlx::Error> {
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
    user: UserId,
    id: AddressId,
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
    use jinguo_common::invalid::Invalid;

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
            Err(OrderError::Invalid(Invalid {
                field: Field::Phone,
                ..
            }))
        ));
        assert!(matches!(
            address("13905310000", "370100").validate(),
            Err(OrderError::Invalid(Invalid {
                field: Field::RegionCode,
                ..
            }))
        ));
        let mut short = address("13905310000", "370102");
        short.detail = "门".into();
        assert!(matches!(
            short.validate(),
            Err(OrderError::Invalid(Invalid {
                field: Field::Detail,
                ..
            }))
        ));
    }
}
