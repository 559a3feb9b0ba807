//! Where a producer's money goes: a Stripe connected account or a bank account, checked when
//! staff or the producer set it.

use jinguo_common::Db;
use jinguo_common::clock::Millis;
use jinguo_common::ids::ProducerId;
use jinguo_common::invalid::{self, Field, Problem};
use serde::Serialize;
use sqlx::{AnyConnection, Row};

use crate::SettlementError;

use super::*;

/// Where a producer's money goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum PayoutDetails {
    /// A Stripe connected account, `acct_…`.
    Stripe { account: String },
    /// A mainland bank account (对公 or personal), paid by the bank's batch-payment upload.
    Bank {
        account_name: String,
        account_no: String,
        bank_name: String,
    },
}

impl PayoutDetails {
    /// Checks the details a person typed; every problem is named.
    pub fn validate(self) -> Result<PayoutDetails, SettlementError> {
        match self {
            PayoutDetails::Stripe { account } => {
                let account = account.trim().to_owned();
                let ok = account.strip_prefix("acct_").is_some_and(|rest| {
                    !rest.is_empty()
                        && rest.len() <= 64
                        && rest.bytes().all(|b| b.is_ascii_alphanumeric())
                });
                if !ok {
                    return Err(SettlementError::invalid(
                        Field::StripeAccount,
                        Problem::NotAStripeAccount { value: account },
                    ));
                }
                Ok(PayoutDetails::Stripe { account })
            }
            PayoutDetails::Bank {
                account_name,
                account_no,
                bank_name,
            } => {
                let account_name =
                    invalid::text_between(Field::AccountName, &account_name, 1, 60)?.to_owned();
                let bank_name =
                    invalid::text_between(Field::BankName, &bank_name, 1, 60)?.to_owned();
                let account_no: String = account_no.chars().filter(|c| *c != ' ').collect();
                if !(8..=32).contains(&account_no.len())
                    || !account_no.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(SettlementError::invalid(
                        Field::AccountNo,
                        Problem::NotAnAccountNumber { value: account_no },
                    ));
                }
                Ok(PayoutDetails::Bank {
                    account_name,
                    account_no,
                    bank_name,
                })
            }
        }
    }

    pub fn method(&self) -> PayoutMethod {
        match self {
            PayoutDetails::Stripe { .. } => PayoutMethod::Stripe,
            PayoutDetails::Bank { .. } => PayoutMethod::Bank,
        }
    }

    pub(super) fn destination(&self) -> String {
        match self {
            PayoutDetails::Stripe { account } => account.clone(),
            PayoutDetails::Bank { account_no, .. } => account_no.clone(),
        }
    }
}

pub async fn set_details(
    db: &Db,
    producer: ProducerId,
    details: PayoutDetails,
    now: Millis,
) -> Result<PayoutDetails, SettlementError> {
    let details = details.validate()?;
    let (stripe, name, no, bank) = match &details {
        PayoutDetails::Stripe { account } => (Some(account.as_str()), None, None, None),
        PayoutDetails::Bank {
            account_name,
            account_no,
            bank_name,
        } => (
            None,
            Some(account_name.as_str()),
            Some(account_no.as_str()),
            Some(bank_name.as_str()),
        ),
    };
    sqlx::query(
        "insert into payout_details (producer_id, method, stripe_account, account_name, account_no, bank_name, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7)
         on conflict (producer_id) do update set method = excluded.method, stripe_account = excluded.stripe_account,
             account_name = excluded.account_name, account_no = excluded.account_no,
             bank_name = excluded.bank_name, updated_at = excluded.updated_at",
    )
    .bind(producer)
    .bind(details.method())
    .bind(stripe)
    .bind(name)
    .bind(no)
    .bind(bank)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(details)
}

pub async fn details(
    conn: &mut AnyConnection,
    producer: ProducerId,
) -> Result<Option<PayoutDetails>, SettlementError> {
    let Some(row) = sqlx::query(
        "select method, stripe_account, account_name, account_no, bank_name from payout_details where producer_id = $1",
    )
    .bind(producer)
    .fetch_optional(conn)
    .await?
    else {
        return Ok(None);
    };
    Ok(Some(
        if row.try_get::<PayoutMethod, _>("method")? == PayoutMethod::Stripe {
            PayoutDetails::Stripe {
                account: row.try_get("stripe_account")?,
            }
        } else {
            PayoutDetails::Bank {
                account_name: row.try_get("account_name")?,
                account_no: row.try_get("account_no")?,
                bank_name: row.try_get("bank_name")?,
            }
        },
    ))
}
