//! The money commands: `settle`, `ledger check` and `ledger reverse`, `payouts file` and
//! `payouts confirm`. They open the database only (a running `serve` may hold the search index)
//! and call settlement's own operations.

use anyhow::Context as _;
use jinguo_common::money::Fen;
use jinguo_common::{Clock, Db};
use jinguo_settlement::BatchId;
use jinguo_settlement::payout::{self, PayoutMethod};
use jinguo_settlement::stripe::StripeGateway;
use std::path::{Path, PathBuf};

use crate::settings::Settings;

/// The database only: a running `serve` may hold the search index.
async fn database(settings: &Settings) -> anyhow::Result<Db> {
    let db = Db::connect(&settings.database_url(), 4).await?;
    db.migrate().await?;
    Ok(db)
}

pub async fn settle(settings: Settings, minimum_fen: Option<i64>) -> anyhow::Result<()> {
    let db = database(&settings).await?;
    let minimum = minimum_fen.map_or(settings.settlement.minimum_payout, Fen);
    let clock = Clock::system();
    let gateway = match &settings.stripe {
        Some(stripe) => Some(StripeGateway::new(stripe).context("cannot set up Stripe")?),
        None => None,
    };
    if let Some(gateway) = &gateway {
        // Stripe's fees first, so that clearing follows Stripe's balance.
        match gateway.balance_transactions(0).await {
            Ok(history) => {
                let fees =
                    jinguo_settlement::reconcile::book_stripe_fees(&db, &history, clock.now_ms())
                        .await?
                        .fees_booked;
                println!("Stripe fees booked: {fees}");
            }
            Err(error) => eprintln!(
                "Stripe's balance history is not available ({error}); fees not booked this run"
            ),
        }
    }
    let report = payout::settle(&db, minimum, "jinguo settle", clock.now_ms()).await?;
    match report.batch_id {
        Some(batch) => {
            println!("batch {batch}: {} payouts", report.payouts.len());
            for p in &report.payouts {
                println!(
                    "  payout {:>6}  {:<8} {:>12}  {} ({})",
                    p.id,
                    p.method,
                    p.amount.to_string(),
                    p.producer_name,
                    p.destination
                );
            }
        }
        None => println!("nobody is owed {minimum} or more that is not already on its way"),
    }
    for (producer, why) in &report.skipped {
        println!("  skipped producer {producer}: {}", why.code());
    }
    if let Some(gateway) = &gateway {
        let sent = payout::send_stripe(&db, gateway, clock.now_ms()).await?;
        println!("sent {sent} Stripe transfers");
    } else if report
        .payouts
        .iter()
        .any(|p| p.method == PayoutMethod::Stripe)
    {
        println!("Stripe is not configured: Stripe payouts stay pending");
    }
    if let Some(batch) = report.batch_id
        && report
            .payouts
            .iter()
            .any(|p| p.method == PayoutMethod::Bank)
    {
        println!("bank file: jinguo payouts file --batch {batch} --out batch-{batch}.csv");
    }
    Ok(())
}

pub async fn ledger_check(settings: Settings) -> anyhow::Result<()> {
    let db = database(&settings).await?;
    let check = jinguo_settlement::ledger::check(&mut *db.pool().acquire().await?).await?;
    println!(
        "{} transactions, {} entries; debits {} fen, credits {} fen",
        check.transactions, check.entries, check.debits, check.credits
    );
    for (id, cause, sum) in &check.unbalanced {
        println!("  transaction {id} ({cause}) is off by {sum} fen");
    }
    for (id, cause) in &check.open {
        println!("  transaction {id} ({cause}) is open or empty");
    }
    for code in &check.unknown_accounts {
        println!("  unknown account {code}");
    }
    if check.is_ok() {
        println!("the ledger balances");
        Ok(())
    } else {
        anyhow::bail!("the ledger does not balance")
    }
}

pub async fn ledger_reverse(settings: Settings, id: i64, memo: &str) -> anyhow::Result<()> {
    let memo = memo.trim();
    if memo.is_empty() {
        anyhow::bail!("--memo: say why the transaction is reversed");
    }
    let db = database(&settings).await?;
    let mut tx = db.begin_write().await?;
    let reversal = jinguo_settlement::ledger::reverse(&mut tx, id, memo, Clock::system().now_ms())
        .await
        .map_err(|e| match e {
            jinguo_settlement::SettlementError::NotFound => {
                anyhow::anyhow!("there is no ledger transaction {id}")
            }
            other => other.into(),
        })?;
    tx.commit().await?;
    match reversal {
        Some(r) => println!("transaction {id} reversed by transaction {r}"),
        None => println!("transaction {id} was already reversed; nothing written"),
    }
    Ok(())
}

pub async fn bank_file(
    settings: Settings,
    batch: BatchId,
    out: Option<PathBuf>,
) -> anyhow::Result<()> {
    let db = database(&settings).await?;
    let csv = payout::bank_file(&db, batch).await?;
    match out {
        Some(path) => {
            std::fs::write(&path, csv.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
            println!("wrote {}", path.display());
        }
        None => print!("{csv}"),
    }
    Ok(())
}

pub async fn confirm(settings: Settings, file: &Path) -> anyhow::Result<()> {
    let db = database(&settings).await?;
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let done = payout::confirm_bank_file(&db, &text, Clock::system().now_ms())
        .await
        .with_context(|| format!("{}: nothing was applied", file.display()))?;
    println!("{} payouts marked paid", done.len());
    Ok(())
}
