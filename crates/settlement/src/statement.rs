//! A producer's monthly statement, read only from the ledger: the balance owed at the start of
//! the month, every movement of its payable (each sale with its gross and fee, refunds, payouts,
//! payouts returned) with the order or payout behind it, and the balance at the end. Opening
//! plus movements equals closing, to the fen, because all three are sums of the same entries.

use jinguo_common::clock::Millis;
use jinguo_common::ids::ProducerId;
use jinguo_common::invalid::{Field, Problem};
use jinguo_common::money::Fen;
use jinguo_order::OrderId;
use serde::Serialize;
use sqlx::{AnyConnection, Row};

use crate::ledger::{Account, Kind};
use crate::payout::csv_field;
use crate::{PayoutId, SettlementError};

/// A calendar month in China's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Month {
    pub year: i32,
    pub month: u8,
}

const CHINA_OFFSET_MS: i64 = 8 * 3_600_000;

impl Month {
    /// `2026-11`.
    pub fn parse(text: &str) -> Result<Month, SettlementError> {
        let bad = || {
            SettlementError::invalid(
                Field::Month,
                Problem::NotAMonth {
                    value: text.to_owned(),
                },
            )
        };
        let (y, m) = text.trim().split_once('-').ok_or_else(bad)?;
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u8 = m.parse().map_err(|_| bad())?;
        if !(2000..=2999).contains(&year) || !(1..=12).contains(&month) {
            return Err(bad());
        }
        Ok(Month { year, month })
    }

    /// The month `at` falls in, in China.
    pub fn of(at: Millis) -> Month {
        let secs = (at + CHINA_OFFSET_MS).div_euclid(1000);
        let date = time::OffsetDateTime::from_unix_timestamp(secs)
            .map(|t| t.date())
            .unwrap_or(time::Date::MIN);
        Month {
            year: date.year(),
            month: u8::from(date.month()),
        }
    }

    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    pub fn previous(self) -> Month {
        if self.month == 1 {
            Month {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Month {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    /// Its first instant, in Unix milliseconds.
    pub fn start(self) -> Millis {
        let month = time::Month::try_from(self.month).unwrap_or(time::Month::January);
        let date = time::Date::from_calendar_date(self.year, month, 1).unwrap_or(time::Date::MIN);
        date.midnight().assume_utc().unix_timestamp() * 1000 - CHINA_OFFSET_MS
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementLine {
    pub transaction_id: i64,
    pub at: Millis,
    pub kind: Kind,
    pub order_id: Option<OrderId>,
    pub order_number: Option<String>,
    pub payout_id: Option<PayoutId>,
    pub memo: String,
    /// What the buyer paid for the part (sales only).
    pub gross: Option<Fen>,
    /// The platform's fee on it (sales only).
    pub fee: Option<Fen>,
    /// A promoter's commission on it (sales only).
    pub commission: Option<Fen>,
    /// The change in what the producer is owed: positive for a sale, negative for a refund
    /// after release or a payout.
    pub amount: Fen,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statement {
    pub producer_id: ProducerId,
    pub month: Month,
    pub opening: Fen,
    pub lines: Vec<StatementLine>,
    pub closing: Fen,
    pub sales: Fen,
    pub fees: Fen,
    pub refunds: Fen,
    pub payouts: Fen,
}

pub async fn statement(
    conn: &mut AnyConnection,
    producer: ProducerId,
    month: Month,
) -> Result<Statement, SettlementError> {
    let account = Account::Payable(producer).code();
    let (start, end) = (month.start(), month.next().start());
    let opening: i64 = sqlx::query_scalar(
        "select cast(coalesce(-sum(e.amount_fen), 0) as bigint) from ledger_entries e
         join ledger_transactions t on t.id = e.transaction_id
         where e.account = $1 and t.created_at < $2",
    )
    .bind(&account)
    .bind(start)
    .fetch_one(&mut *conn)
    .await?;
    let rows = sqlx::query(
        "select t.id, t.kind, t.created_at, t.order_id, t.payout_id, t.memo,
                cast(-e.amount_fen as bigint) as amount,
                (select cast(coalesce(sum(x.amount_fen), 0) as bigint) from ledger_entries x
                   where x.transaction_id = t.id and x.account = 'escrow') as gross,
                (select cast(coalesce(-sum(x.amount_fen), 0) as bigint) from ledger_entries x
                   where x.transaction_id = t.id and x.account = 'platform_fee') as fee,
                (select cast(coalesce(-sum(x.amount_fen), 0) as bigint) from ledger_entries x
                   where x.transaction_id = t.id and x.account like 'commission:%') as commission
         from ledger_entries e
         join ledger_transactions t on t.id = e.transaction_id
         where e.account = $1 and t.created_at >= $2 and t.created_at < $3
         order by t.created_at, t.id",
    )
    .bind(&account)
    .bind(start)
    .bind(end)
    .fetch_all(&mut *conn)
    .await?;
    // The orders' numbers, from the orders themselves.
    let orders: Vec<OrderId> = rows
        .iter()
        .filter_map(|r| r.try_get::<Option<OrderId>, _>("order_id").transpose())
        .collect::<Result<_, _>>()?;
    let numbers = jinguo_order::orders::numbers(conn, &orders).await?;
    let mut statement = Statement {
        producer_id: producer,
        month,
        opening: Fen(opening),
        lines: Vec::with_capacity(rows.len()),
        closing: Fen(opening),
        sales: Fen(0),
        fees: Fen(0),
        refunds: Fen(0),
        payouts: Fen(0),
    };
    for r in rows {
        let kind: Kind = r.try_get("kind")?;
        let amount = Fen(r.try_get("amount")?);
        let order_id: Option<OrderId> = r.try_get("order_id")?;
        let sale = kind == Kind::Release;
        let line = StatementLine {
            transaction_id: r.try_get("id")?,
            at: r.try_get("created_at")?,
            kind,
            order_id,
            order_number: order_id
                .and_then(|o| numbers.get(&o))
                .map(|(n, _)| n.clone()),
            payout_id: r.try_get("payout_id")?,
            memo: r.try_get("memo")?,
            gross: sale.then(|| r.try_get("gross").map(Fen)).transpose()?,
            fee: sale.then(|| r.try_get("fee").map(Fen)).transpose()?,
            commission: sale.then(|| r.try_get("commission").map(Fen)).transpose()?,
            amount,
        };
        match kind {
            Kind::Release => {
                statement.sales.0 += line.gross.map_or(0, |g| g.0);
                statement.fees.0 += line.fee.map_or(0, |f| f.0);
            }
            Kind::Refund => statement.refunds.0 -= amount.0,
            Kind::Payout | Kind::PayoutFailed => statement.payouts.0 -= amount.0,
            _ => {}
        }
        statement.closing.0 += amount.0;
        statement.lines.push(line);
    }
    Ok(statement)
}

/// The statement as CSV (UTF-8 with a byte-order mark, so that spreadsheet programs read the
/// Chinese right): one line per movement between an opening and a closing line.
pub fn to_csv(s: &Statement) -> String {
    let mut csv = String::from(
        "\u{feff}date,kind,order,payout,gross_yuan,fee_yuan,commission_yuan,amount_yuan,balance_yuan,memo\r\n",
    );
    let yuan = |f: Option<Fen>| f.map(|f| f.yuan_string()).unwrap_or_default();
    csv.push_str(&format!(
        "{},opening,,,,,,,{},\r\n",
        s.month,
        s.opening.yuan_string()
    ));
    let mut balance = s.opening;
    for l in &s.lines {
        balance.0 += l.amount.0;
        let date = time::OffsetDateTime::from_unix_timestamp((l.at + CHINA_OFFSET_MS) / 1000)
            .map(|t| t.date().to_string())
            .unwrap_or_default();
        let fields = [
            date,
            l.kind.as_str().to_owned(),
            l.order_number.clone().unwrap_or_default(),
            l.payout_id.map(|p| format!("JGP{p}")).unwrap_or_default(),
            yuan(l.gross),
            yuan(l.fee),
            yuan(l.commission),
            l.amount.yuan_string(),
            balance.yuan_string(),
            l.memo.clone(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        csv.push_str(&line.join(","));
        csv.push_str("\r\n");
    }
    csv.push_str(&format!(
        "{},closing,,,,,,,{},\r\n",
        s.month,
        s.closing.yuan_string()
    ));
    csv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_start_at_midnight_in_china() {
        let nov = Month::parse("2026-11").unwrap();
        // 2026-11-01T00:00+08:00 = 2026-10-31T16:00Z
        assert_eq!(nov.start(), 1_793_462_400_000);
        assert_eq!(Month::of(nov.start()), nov);
        assert_eq!(Month::of(nov.start() - 1), nov.previous());
        assert_eq!(
            Month::parse("2026-12").unwrap().next().to_string(),
            "2027-01"
        );
        for bad in ["2026-13", "2026", "nov", "2026-0", "1999-01"] {
            assert!(Month::parse(bad).is_err(), "{bad}");
        }
    }
}
