//! The double-entry ledger.
//!
//! A [`Posting`] is one balanced transaction: lines of (account, amount) where debits are
//! positive and credits negative, so that they sum to zero. [`post`] refuses one that does not
//! balance before writing anything; the database refuses it too (sealing a transaction checks its
//! sum, and sealed transactions and their entries cannot be changed or deleted: corrections are
//! new reversing transactions, [`reverse`]). Every transaction names its cause (`pay:order:12`,
//! `release:part:34`, …), unique, so the same cause is never posted twice: posting it again is
//! answered with `None` and writes nothing.
//!
//! Accounts are text codes: `clearing:stripe` and `clearing:bank_transfer` (money at the provider
//! or in the bank, an asset), `escrow` (paid, held until the goods arrive), `payable:producer:N`,
//! `commission:promoter:N`, `platform_fee`, `donation:project:N`, `refunds_due`,
//! `payouts_in_transit`, `provider_fees`.

use jinguo_common::clock::Millis;
use jinguo_common::ids::ProducerId;
use jinguo_common::money::Fen;
use jinguo_order::payment::PaymentMethod;
use jinguo_order::{OrderId, PartId};
use serde::Serialize;
use sqlx::{AnyConnection, Row};
use std::fmt;

use crate::{PayoutId, RefundId, SettlementError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Account {
    /// Money received and not yet paid out, at a provider or in the bank (asset).
    Clearing(PaymentMethod),
    /// Paid by buyers, held until the goods arrive and the return window closes.
    Escrow,
    /// Owed to a producer.
    Payable(ProducerId),
    /// Owed to a promoter (巴渝网姐) for completed orders they brought.
    Commission(i64),
    /// The platform's fee.
    PlatformFee,
    /// Given at checkout to a named charity project.
    Donation(i64),
    /// Owed back to buyers, not yet paid back.
    RefundsDue,
    /// Booked to a producer's payout, not yet confirmed sent.
    PayoutsInTransit,
    /// What the payment provider kept.
    ProviderFees,
}

impl Account {
    pub fn code(self) -> String {
        self.to_string()
    }

    pub fn parse(code: &str) -> Option<Account> {
        let id = |rest: &str| rest.parse::<i64>().ok();
        Some(match code {
            "clearing:stripe" => Account::Clearing(PaymentMethod::Stripe),
            "clearing:bank_transfer" => Account::Clearing(PaymentMethod::BankTransfer),
            "escrow" => Account::Escrow,
            "platform_fee" => Account::PlatformFee,
            "refunds_due" => Account::RefundsDue,
            "payouts_in_transit" => Account::PayoutsInTransit,
            "provider_fees" => Account::ProviderFees,
            _ => {
                if let Some(rest) = code.strip_prefix("payable:producer:") {
                    Account::Payable(ProducerId(id(rest)?))
                } else if let Some(rest) = code.strip_prefix("commission:promoter:") {
                    Account::Commission(id(rest)?)
                } else if let Some(rest) = code.strip_prefix("donation:project:") {
                    Account::Donation(id(rest)?)
                } else {
                    return None;
                }
            }
        })
    }
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Account::Clearing(method) => write!(f, "clearing:{}", method.as_str()),
            Account::Escrow => f.write_str("escrow"),
            Account::Payable(p) => write!(f, "payable:producer:{p}"),
            Account::Commission(p) => write!(f, "commission:promoter:{p}"),
            Account::PlatformFee => f.write_str("platform_fee"),
            Account::Donation(p) => write!(f, "donation:project:{p}"),
            Account::RefundsDue => f.write_str("refunds_due"),
            Account::PayoutsInTransit => f.write_str("payouts_in_transit"),
            Account::ProviderFees => f.write_str("provider_fees"),
        }
    }
}

jinguo_common::text_enum! {
    /// What kind of movement a ledger transaction is.
    pub enum Kind {
        Payment = "payment",
        Release = "release",
        Refund = "refund",
        RefundPaid = "refund_paid",
        Payout = "payout",
        PayoutPaid = "payout_paid",
        PayoutFailed = "payout_failed",
        UnmatchedPayment = "unmatched_payment",
        ProviderFee = "provider_fee",
        Reversal = "reversal",
    }
}

/// One balanced transaction to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    pub kind: Kind,
    /// Unique: the same cause is posted at most once.
    pub cause: String,
    pub order_id: Option<OrderId>,
    pub part_id: Option<PartId>,
    pub refund_id: Option<RefundId>,
    pub payout_id: Option<PayoutId>,
    pub producer_id: Option<ProducerId>,
    pub event_id: Option<String>,
    pub reverses_id: Option<i64>,
    pub memo: String,
    /// Debits positive, credits negative.
    pub lines: Vec<(Account, i64)>,
}

impl Posting {
    pub fn new(kind: Kind, cause: impl Into<String>) -> Posting {
        Posting {
            kind,
            cause: cause.into(),
            order_id: None,
            part_id: None,
            refund_id: None,
            payout_id: None,
            producer_id: None,
            event_id: None,
            reverses_id: None,
            memo: String::new(),
            lines: Vec::new(),
        }
    }

    /// Adds a debit of `amount` (nothing if zero).
    pub fn debit(self, account: Account, amount: Fen) -> Posting {
        self.line(account, amount.0)
    }

    /// Adds a credit of `amount` (nothing if zero).
    pub fn credit(self, account: Account, amount: Fen) -> Posting {
        self.line(account, -amount.0)
    }

    /// Adds a line: debit positive, credit negative; zero adds nothing.
    pub fn line(mut self, account: Account, amount: i64) -> Posting {
        if amount != 0 {
            self.lines.push((account, amount));
        }
        self
    }

    pub fn memo(mut self, memo: impl Into<String>) -> Posting {
        self.memo = memo.into();
        self
    }
}

/// Writes `posting` in the caller's transaction. A posting that does not balance is refused.
/// `Ok(None)`: nothing was written, because its cause was posted before or it moves nothing.
pub async fn post(
    conn: &mut AnyConnection,
    posting: &Posting,
    now: Millis,
) -> Result<Option<i64>, SettlementError> {
    let sum = posting
        .lines
        .iter()
        .try_fold(0i64, |sum, (_, amount)| sum.checked_add(*amount))
        .ok_or_else(|| SettlementError::Unbalanced(posting.cause.clone(), i64::MAX))?;
    if sum != 0 {
        return Err(SettlementError::Unbalanced(posting.cause.clone(), sum));
    }
    if posting.lines.is_empty() {
        return Ok(None);
    }
    let id: Option<i64> = sqlx::query_scalar(
        "insert into ledger_transactions (kind, cause, order_id, part_id, refund_id, payout_id, producer_id, event_id, reverses_id, memo, created_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         on conflict (cause) do nothing returning id",
    )
    .bind(posting.kind)
    .bind(&posting.cause)
    .bind(posting.order_id)
    .bind(posting.part_id)
    .bind(posting.refund_id)
    .bind(posting.payout_id)
    .bind(posting.producer_id)
    .bind(posting.event_id.as_deref())
    .bind(posting.reverses_id)
    .bind(&posting.memo)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(id) = id else {
        return Ok(None);
    };
    for (account, amount) in &posting.lines {
        sqlx::query(
            "insert into ledger_entries (transaction_id, account, amount_fen) values ($1, $2, $3)",
        )
        .bind(id)
        .bind(account.code())
        .bind(*amount)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query("update ledger_transactions set sealed = $1 where id = $2")
        .bind(true)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(Some(id))
}

/// Whether a transaction with this cause has been posted.
pub async fn is_posted(conn: &mut AnyConnection, cause: &str) -> Result<bool, SettlementError> {
    let n: i64 = sqlx::query_scalar("select count(*) from ledger_transactions where cause = $1")
        .bind(cause)
        .fetch_one(conn)
        .await?;
    Ok(n > 0)
}

/// Posts the reverse of transaction `id` (every line negated), once.
pub async fn reverse(
    conn: &mut AnyConnection,
    id: i64,
    memo: &str,
    now: Millis,
) -> Result<Option<i64>, SettlementError> {
    let head = sqlx::query(
        "select order_id, part_id, refund_id, payout_id, producer_id from ledger_transactions where id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(SettlementError::NotFound)?;
    let mut posting = Posting::new(Kind::Reversal, format!("reverse:{id}")).memo(memo);
    posting.order_id = head.try_get("order_id")?;
    posting.part_id = head.try_get("part_id")?;
    posting.refund_id = head.try_get("refund_id")?;
    posting.payout_id = head.try_get("payout_id")?;
    posting.producer_id = head.try_get("producer_id")?;
    posting.reverses_id = Some(id);
    for row in sqlx::query(
        "select account, amount_fen from ledger_entries where transaction_id = $1 order by id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?
    {
        let code: String = row.try_get("account")?;
        let account =
            Account::parse(&code).ok_or_else(|| SettlementError::UnknownAccount(code.clone()))?;
        posting = posting.line(account, -row.try_get::<i64, _>("amount_fen")?);
    }
    post(conn, &posting, now).await
}

/// The sum of an account's entries: debits minus credits. Accounts that hold what is owed to
/// someone (escrow, payables) are credit accounts: what they owe is the negative of this.
pub async fn balance(conn: &mut AnyConnection, account: Account) -> Result<Fen, SettlementError> {
    let sum: i64 = sqlx::query_scalar(
        "select cast(coalesce(sum(amount_fen), 0) as bigint) from ledger_entries where account = $1",
    )
    .bind(account.code())
    .fetch_one(conn)
    .await?;
    Ok(Fen(sum))
}

/// Every account's balance (debits minus credits), by code.
pub async fn balances(conn: &mut AnyConnection) -> Result<Vec<(String, Fen)>, SettlementError> {
    let rows = sqlx::query(
        "select account, cast(sum(amount_fen) as bigint) as total from ledger_entries group by account order by account",
    )
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("account")?, Fen(r.try_get("total")?))))
        .collect()
}

/// What `jinguo ledger check` found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Check {
    pub transactions: i64,
    pub entries: i64,
    /// Debits over all accounts, in fen (equal to credits when the ledger is whole).
    pub debits: i64,
    pub credits: i64,
    /// Transactions whose entries do not sum to zero: (id, cause, sum).
    pub unbalanced: Vec<(i64, String, i64)>,
    /// Transactions left open (not sealed), or with no entries.
    pub open: Vec<(i64, String)>,
    /// Entries whose account code is not one of the ledger's accounts.
    pub unknown_accounts: Vec<String>,
}

impl Check {
    pub fn is_ok(&self) -> bool {
        self.unbalanced.is_empty()
            && self.open.is_empty()
            && self.unknown_accounts.is_empty()
            && self.debits == self.credits
    }
}

/// Checks the whole ledger: every transaction sealed and balanced, debits equal credits, every
/// account known.
pub async fn check(conn: &mut AnyConnection) -> Result<Check, SettlementError> {
    let mut check = Check::default();
    let totals = sqlx::query(
        "select cast(count(*) as bigint) as n,
                cast(coalesce(sum(case when amount_fen > 0 then amount_fen else 0 end), 0) as bigint) as debits,
                cast(coalesce(sum(case when amount_fen < 0 then -amount_fen else 0 end), 0) as bigint) as credits
         from ledger_entries",
    )
    .fetch_one(&mut *conn)
    .await?;
    check.entries = totals.try_get("n")?;
    check.debits = totals.try_get("debits")?;
    check.credits = totals.try_get("credits")?;
    check.transactions = sqlx::query_scalar("select count(*) from ledger_transactions")
        .fetch_one(&mut *conn)
        .await?;
    for row in sqlx::query(
        "select t.id, t.cause, cast(sum(e.amount_fen) as bigint) as total
         from ledger_transactions t join ledger_entries e on e.transaction_id = t.id
         group by t.id, t.cause having sum(e.amount_fen) <> 0 order by t.id",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        check.unbalanced.push((
            row.try_get("id")?,
            row.try_get("cause")?,
            row.try_get("total")?,
        ));
    }
    for row in sqlx::query(
        "select t.id, t.cause from ledger_transactions t
         where t.sealed = $1 or not exists (select 1 from ledger_entries e where e.transaction_id = t.id)
         order by t.id",
    )
    .bind(false)
    .fetch_all(&mut *conn)
    .await?
    {
        check.open.push((row.try_get("id")?, row.try_get("cause")?));
    }
    for row in sqlx::query("select distinct account from ledger_entries order by account")
        .fetch_all(&mut *conn)
        .await?
    {
        let code: String = row.try_get("account")?;
        if Account::parse(&code).is_none() {
            check.unknown_accounts.push(code);
        }
    }
    Ok(check)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_codes_read_back() {
        for account in [
            Account::Clearing(PaymentMethod::Stripe),
            Account::Clearing(PaymentMethod::BankTransfer),
            Account::Escrow,
            Account::Payable(ProducerId(7)),
            Account::Commission(3),
            Account::PlatformFee,
            Account::Donation(2),
            Account::RefundsDue,
            Account::PayoutsInTransit,
            Account::ProviderFees,
        ] {
            assert_eq!(Account::parse(&account.code()), Some(account));
        }
        assert_eq!(Account::parse("payable:producer:x"), None);
        assert_eq!(Account::parse("cash"), None);
    }

    #[test]
    fn zero_lines_are_left_out() {
        let p = Posting::new(Kind::Release, "t")
            .debit(Account::Escrow, Fen(500))
            .credit(Account::Payable(ProducerId(1)), Fen(500))
            .credit(Account::PlatformFee, Fen(0));
        assert_eq!(
            p.lines,
            vec![
                (Account::Escrow, 500),
                (Account::Payable(ProducerId(1)), -500)
            ]
        );
    }
}
