//! Bank payouts as files: the batch-payment upload (批量代付) staff hand to the bank, and the
//! bank's answer applied all or nothing.

use jinguo_common::Db;
use jinguo_common::clock::Millis;
use jinguo_common::money::Fen;
use jinguo_order::payment::PaymentMethod;
use sqlx::Row;

use crate::{RowProblem, SettlementError};

use super::*;

/// The batch's bank payouts still to pay, as the CSV a bank's batch-payment (批量代付) upload
/// takes: 户名, 账号, 开户行, 金额(元), 用途, to the account each payout was booked to. Amounts are yuan with two decimals; the purpose names
/// the payout so that the bank statement can be matched back.
pub async fn bank_file(db: &Db, batch: BatchId) -> Result<String, SettlementError> {
    let known: Option<i64> = sqlx::query_scalar("select id from payout_batches where id = $1")
        .bind(batch)
        .fetch_optional(db.pool())
        .await?;
    if known.is_none() {
        return Err(SettlementError::NotFound);
    }
    let rows = sqlx::query(
        "select y.id, y.amount_fen, y.account_name, y.destination as account_no, y.bank_name
         from payouts y
         where y.batch_id = $1 and y.method = 'bank' and y.status = 'pending' order by y.id",
    )
    .bind(batch)
    .fetch_all(db.pool())
    .await?;
    let mut csv = String::from("户名,账号,开户行,金额(元),用途\r\n");
    for row in rows {
        let id: PayoutId = row.try_get("id")?;
        let fields = [
            row.try_get::<Option<String>, _>("account_name")?
                .unwrap_or_default(),
            row.try_get::<String, _>("account_no")?,
            row.try_get::<Option<String>, _>("bank_name")?
                .unwrap_or_default(),
            Fen(row.try_get("amount_fen")?).yuan_string(),
            format!("巾帼集市货款 JGP{id}"),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        csv.push_str(&line.join(","));
        csv.push_str("\r\n");
    }
    Ok(csv)
}

/// Quotes a CSV field when it must be, and defuses spreadsheet formulas (text starting with
/// `=`, `+`, `-` or `@` that is not a plain number). Control and format characters never reach
/// the file, even from rows stored before their text was checked.
pub fn csv_field(value: &str) -> String {
    let value = &*jinguo_common::invalid::visible_only(value);
    let number = value.strip_prefix('-').is_some_and(|rest| {
        !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit() || b == b'.')
    });
    let value = if value.starts_with(['=', '+', '-', '@']) && !number {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// Applies the bank's result file for a batch: lines `payout id,bank reference` (a header line
/// `payout,reference` is allowed), in one transaction: a bad line is named and nothing of the file
/// is applied.
pub async fn confirm_bank_file(
    db: &Db,
    text: &str,
    now: Millis,
) -> Result<Vec<Payout>, SettlementError> {
    let mut tx = db.begin_write().await?;
    let mut seen = std::collections::HashSet::new();
    let mut done = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let raw = raw.trim();
        if raw.is_empty() || (line == 1 && raw.to_ascii_lowercase().starts_with("payout")) {
            continue;
        }
        let bad = |problem: RowProblem| SettlementError::BadRow { line, problem };
        let (id, reference) = raw
            .split_once(',')
            .ok_or_else(|| bad(RowProblem::NotTwoFields(raw.to_owned())))?;
        let id: PayoutId = id
            .trim()
            .trim_start_matches("JGP")
            .parse()
            .map_err(|_| bad(RowProblem::NotAPayoutId(id.trim().to_owned())))?;
        let reference = reference.trim();
        if reference.is_empty()
            || reference.chars().count() > 64
            || reference.chars().any(jinguo_common::invalid::invisible)
        {
            return Err(bad(RowProblem::BadReference));
        }
        if !seen.insert(id) {
            return Err(bad(RowProblem::Twice(id)));
        }
        let payout = load(&mut tx, id)
            .await
            .map_err(|_| bad(RowProblem::NoSuchPayout(id)))?;
        if payout.method != PayoutMethod::Bank || payout.status != PayoutStatus::Pending {
            return Err(bad(RowProblem::NotWaiting {
                id,
                method: payout.method,
                status: payout.status,
            }));
        }
        done.push(mark_sent_in(&mut tx, id, reference, PaymentMethod::BankTransfer, now).await?);
    }
    // Dropped without commit on any error above: nothing of the file is applied.
    tx.commit().await?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn a_bank_file_cell_is_plain_text() {
        assert_eq!(csv_field("重庆\u{0}农商行\u{202e}"), "重庆农商行");
        assert_eq!(csv_field("=1+1"), "'=1+1");
        assert_eq!(csv_field("-12.50"), "-12.50");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
    }
}
