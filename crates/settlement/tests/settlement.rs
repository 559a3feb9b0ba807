//! Settlement on both databases: escrow on payment, release on completion less the fee, refunds
//! before and after release, payouts that go out once even when runs race, the bank file and its
//! confirmation, and a ledger that refuses to be edited or unbalanced.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use jinguo_common::db_test;
use jinguo_common::money::Fen;
use jinguo_order::payment::PaymentMethod;
use jinguo_order::state::{Action, Actor};
use jinguo_settlement::SettlementError;
use jinguo_settlement::ledger::{self, Account, Kind, Posting};
use jinguo_settlement::payout::PayoutDetails;
use support::*;

fn fee(amount: i64) -> i64 {
    amount * i64::from(FEE_BP) / 10_000
}

async fn transactions(s: &Shop) -> i64 {
    sqlx::query_scalar("select count(*) from ledger_transactions")
        .fetch_one(s.db.pool())
        .await
        .unwrap()
}

db_test!(async fn money_follows_the_order_to_each_producer(db) {
    let s = shop(db).await;
    let me = buyer(&s, "13800000001").await;
    let (larou, _, larou_producer) = sku_of(&s, "chengkou-larou-500g").await;
    let (honey, _, honey_producer) = sku_of(&s, "chengkou-zhongfeng-honey-500g").await;
    let order = place(&s, me, &[(larou, 2), (honey, 1)]).await;
    assert_eq!(transactions(&s).await, 0, "nothing is booked before payment");
    pay(&s, order).await;
    let o = s.orders.order(order).await.unwrap();
    assert_eq!(owed(&s, Account::Escrow).await, o.total, "paid money is held");
    assert_eq!(held(&s, Account::Clearing(PaymentMethod::BankTransfer)).await, o.total);

    let part_of = |producer: i64| o.parts.iter().find(|p| p.producer_id == producer).unwrap().clone();
    let (a, b) = (part_of(larou_producer), part_of(honey_producer));
    let a_total = a.items.0 + a.shipping.0;
    let b_total = b.items.0 + b.shipping.0;

    complete(&s, order, a.id).await;
    assert_eq!(owed(&s, Account::Payable(larou_producer)).await, Fen(a_total - fee(a_total)));
    assert_eq!(owed(&s, Account::PlatformFee).await, Fen(fee(a_total)));
    assert_eq!(owed(&s, Account::Escrow).await, Fen(b_total), "only the other part is held");

    // A partial refund before release comes out of escrow.
    let r1 = s.settlement.refund_part(s.staff, order, b.id, Fen(100), "one jar cracked").await.unwrap();
    assert_eq!(r1.status, "pending", "a bank-transfer refund waits for staff to pay it");
    assert_eq!(owed(&s, Account::Escrow).await, Fen(b_total - 100));
    assert_eq!(owed(&s, Account::RefundsDue).await, Fen(100));

    // More than is left is refused, and nothing is written.
    let before = transactions(&s).await;
    let err = s.settlement.refund_part(s.staff, order, b.id, Fen(b_total), "all").await.unwrap_err();
    assert!(matches!(err, SettlementError::RefundTooLarge { left, .. } if left == Fen(b_total - 100)), "{err}");
    assert_eq!(transactions(&s).await, before);

    complete(&s, order, b.id).await;
    let b_left = b_total - 100;
    assert_eq!(owed(&s, Account::Payable(honey_producer)).await, Fen(b_left - fee(b_left)));
    assert_eq!(owed(&s, Account::Escrow).await, Fen(0), "everything is released");

    // After release a refund comes out of the producer's payable, and the platform gives back
    // its fee on it.
    let r2 = s.settlement.refund_part(s.staff, order, a.id, Fen(200), "late complaint").await.unwrap();
    assert_eq!(owed(&s, Account::Payable(larou_producer)).await, Fen(a_total - fee(a_total) - (200 - fee(200))));
    assert_eq!(owed(&s, Account::PlatformFee).await, Fen(fee(a_total) + fee(b_left) - fee(200)));
    assert_eq!(owed(&s, Account::RefundsDue).await, Fen(300));

    // Staff pay the refunds back: they leave the bank account, once.
    s.settlement.mark_refund_paid(r1.id, "BANK-RF-1").await.unwrap();
    s.settlement.mark_refund_paid(r2.id, "BANK-RF-2").await.unwrap();
    let again = s.settlement.mark_refund_paid(r1.id, "BANK-RF-1").await.unwrap_err();
    assert!(matches!(again, SettlementError::RefundAlreadyPaid(_)), "{again}");
    assert_eq!(owed(&s, Account::RefundsDue).await, Fen(0));
    assert_eq!(
        held(&s, Account::Clearing(PaymentMethod::BankTransfer)).await,
        Fen(o.total.0 - 300)
    );
    assert_ledger_whole(&s).await;
});

db_test!(async fn a_cancelled_paid_order_is_owed_back_in_full(db) {
    let s = shop(db).await;
    let me = buyer(&s, "13800000002").await;
    let (larou, _, _) = sku_of(&s, "chengkou-larou-500g").await;
    let order = place(&s, me, &[(larou, 1)]).await;
    pay(&s, order).await;
    let o = s.orders.order(order).await.unwrap();
    let part = o.parts[0].id;
    s.settlement.refund_part(s.staff, order, part, Fen(50), "price match").await.unwrap();
    s.orders
        .act(order, Action::Cancel { reason: "changed my mind".into() }, Actor::Buyer(me))
        .await
        .unwrap();
    assert_eq!(owed(&s, Account::Escrow).await, Fen(0));
    assert_eq!(
        owed(&s, Account::RefundsDue).await,
        o.total,
        "the cancel refunds what the partial refund left, no more"
    );
    let refunds = s.settlement.refunds(Some(order)).await.unwrap();
    assert_eq!(refunds.iter().map(|r| r.amount.0).sum::<i64>(), o.total.0);
    assert_ledger_whole(&s).await;
});

db_test!(async fn the_ledger_cannot_be_edited_or_unbalanced(db) {
    let s = shop(db).await;
    let me = buyer(&s, "13800000003").await;
    let (larou, _, _) = sku_of(&s, "chengkou-larou-500g").await;
    let order = place(&s, me, &[(larou, 1)]).await;
    pay(&s, order).await;
    let total = s.orders.order(order).await.unwrap().total;

    let pool = s.db.pool();
    assert!(sqlx::query("update ledger_entries set amount_fen = 1").execute(pool).await.is_err());
    assert!(sqlx::query("delete from ledger_entries").execute(pool).await.is_err());
    assert!(sqlx::query("delete from ledger_transactions").execute(pool).await.is_err());
    assert!(sqlx::query("update ledger_transactions set memo = 'edited'").execute(pool).await.is_err());

    let before = transactions(&s).await;
    let lopsided = Posting::new(Kind::Reversal, "test:lopsided")
        .debit(Account::Escrow, Fen(100))
        .credit(Account::PlatformFee, Fen(99));
    let mut tx = s.db.db.begin_write().await.unwrap();
    let err = ledger::post(&mut tx, &lopsided, NOW).await.unwrap_err();
    assert!(matches!(err, SettlementError::Unbalanced(_, 1)), "{err}");
    drop(tx);
    assert_eq!(transactions(&s).await, before, "nothing written");

    // The database itself refuses an entry that would unbalance a sealed transaction.
    let first: i64 = sqlx::query_scalar("select min(id) from ledger_transactions").fetch_one(pool).await.unwrap();
    assert!(
        sqlx::query("insert into ledger_entries (transaction_id, account, amount_fen) values ($1, 'escrow', 5)")
            .bind(first)
            .execute(pool)
            .await
            .is_err()
    );

    // A correction is a new reversing transaction, posted once.
    let mut tx = s.db.db.begin_write().await.unwrap();
    assert!(ledger::reverse(&mut tx, first, "entered in error", NOW).await.unwrap().is_some());
    assert!(ledger::reverse(&mut tx, first, "twice", NOW).await.unwrap().is_none());
    tx.commit().await.unwrap();
    assert_eq!(owed(&s, Account::Escrow).await, Fen(0));
    assert_eq!(held(&s, Account::Clearing(PaymentMethod::BankTransfer)).await, Fen(0));
    assert!(total.0 > 0);
    assert_ledger_whole(&s).await;
});

async fn two_producers_completed(s: &Shop) -> (i64, i64) {
    let me = buyer(s, "13800000004").await;
    let (larou, _, a) = sku_of(s, "chengkou-larou-500g").await;
    let (honey, _, b) = sku_of(s, "chengkou-zhongfeng-honey-500g").await;
    let order = place(s, me, &[(larou, 1), (honey, 2)]).await;
    pay(s, order).await;
    for part in s.orders.order(order).await.unwrap().parts {
        complete(s, order, part.id).await;
    }
    (a, b)
}

fn bank(name: &str) -> PayoutDetails {
    PayoutDetails::Bank {
        account_name: name.into(),
        account_no: "6217 0000 1234 5678".into(),
        bank_name: "中国农业银行城口县支行".into(),
    }
}

db_test!(async fn payouts_go_out_once_through_the_bank_file(db) {
    let s = shop(db).await;
    let (a, b) = two_producers_completed(&s).await;
    let owed_a = s.settlement.payable(a).await.unwrap();
    let owed_b = s.settlement.payable(b).await.unwrap();
    assert!(owed_a.0 > 0 && owed_b.0 > 0);
    s.settlement.set_payout_details(a, bank("城口县巧姐腊肉加工车间")).await.unwrap();

    let report = s.settlement.settle("test").await.unwrap();
    assert_eq!(report.payouts.len(), 1, "{report:?}");
    assert_eq!(report.payouts[0].amount, owed_a);
    assert_eq!(report.skipped.len(), 1, "the producer without details is skipped: {report:?}");
    assert_eq!(report.skipped[0], (b, jinguo_settlement::payout::SkipReason::NoPayoutDetails));
    assert_eq!(s.settlement.payable(a).await.unwrap(), Fen(0));
    assert_eq!(s.settlement.payable(b).await.unwrap(), owed_b, "still owed, not lost");
    assert_eq!(owed(&s, Account::PayoutsInTransit).await, owed_a);

    let again = s.settlement.settle("test").await.unwrap();
    assert_eq!(again.batch_id, None, "nothing more to pay: {again:?}");

    let batch = report.batch_id.unwrap();
    let payout = &report.payouts[0];
    let csv = s.settlement.bank_file(batch).await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "户名,账号,开户行,金额(元),用途");
    assert_eq!(
        lines[1],
        format!("城口县巧姐腊肉加工车间,6217000012345678,中国农业银行城口县支行,{},巾帼集市货款 JGP{}", owed_a.yuan_string(), payout.id)
    );
    assert_eq!(lines.len(), 2);

    // A bad line in the bank's result file names its line and applies nothing.
    let before = transactions(&s).await;
    let err = s
        .settlement
        .confirm_bank_file(&format!("payout,reference\n{},B-1\nJGPx,B-2\n", payout.id))
        .await
        .unwrap_err();
    assert!(matches!(err, SettlementError::BadRow { line: 3, .. }), "{err}");
    assert_eq!(transactions(&s).await, before);
    assert_eq!(s.settlement.payouts(Some(a), None).await.unwrap()[0].status, "pending");

    let done = s.settlement.confirm_bank_file(&format!("{},ABC-20261129-01\n", payout.id)).await.unwrap();
    assert_eq!(done[0].status, "sent");
    assert_eq!(owed(&s, Account::PayoutsInTransit).await, Fen(0));
    let err = s.settlement.mark_payout_paid(payout.id, "again").await.unwrap_err();
    assert!(matches!(err, SettlementError::PayoutNotOpen(..)), "{err}");

    // A payout the bank returned puts the money back in the payable.
    s.settlement.set_payout_details(b, bank("城口县蜂蜜合作社")).await.unwrap();
    let report = s.settlement.settle("test").await.unwrap();
    let pb = &report.payouts[0];
    assert_eq!((pb.producer_id, pb.amount), (b, owed_b));
    s.settlement.mark_payout_failed(pb.id, "账号户名不符").await.unwrap();
    assert_eq!(s.settlement.payable(b).await.unwrap(), owed_b);
    assert_ledger_whole(&s).await;
});

db_test!(async fn settle_runs_at_once_pay_each_producer_once(db) {
    let s = shop(db).await;
    let (a, b) = two_producers_completed(&s).await;
    s.settlement.set_payout_details(a, bank("车间")).await.unwrap();
    s.settlement.set_payout_details(b, bank("合作社")).await.unwrap();
    let owed_total = s.settlement.payable(a).await.unwrap().0 + s.settlement.payable(b).await.unwrap().0;
    let runs: Vec<_> = (0..6)
        .map(|i| {
            let settlement = s.settlement.clone();
            tokio::spawn(async move { settlement.settle(&format!("run {i}")).await })
        })
        .collect();
    for run in runs {
        run.await.unwrap().unwrap();
    }
    let payouts = s.settlement.payouts(None, None).await.unwrap();
    assert_eq!(payouts.len(), 2, "one payout per producer: {payouts:?}");
    assert_eq!(payouts.iter().map(|p| p.amount.0).sum::<i64>(), owed_total);
    assert_ledger_whole(&s).await;
});

db_test!(async fn payout_details_are_checked(db) {
    let s = shop(db).await;
    let (a, _) = two_producers_completed(&s).await;
    for (details, field) in [
        (PayoutDetails::Stripe { account: "acct_1Valid".into() }, "method"),
        (PayoutDetails::Bank { account_name: "".into(), account_no: "62170000".into(), bank_name: "农行".into() }, "account_name"),
        (PayoutDetails::Bank { account_name: "车间".into(), account_no: "6217-0000".into(), bank_name: "农行".into() }, "account_no"),
        (PayoutDetails::Bank { account_name: "车间".into(), account_no: "62170000".into(), bank_name: " ".into() }, "bank_name"),
    ] {
        let err = s.settlement.set_payout_details(a, details).await.unwrap_err();
        assert!(matches!(err, SettlementError::Invalid { field: f, .. } if f == field), "{err}");
    }
    assert_eq!(s.settlement.payout_details(a).await.unwrap(), None, "nothing kept");
    let not_an_account = PayoutDetails::Stripe { account: "12345".into() }.validate().unwrap_err();
    assert!(matches!(not_an_account, SettlementError::Invalid { field: "stripe_account", .. }));
});

db_test!(async fn refunds_made_at_once_never_exceed_the_part(db) {
    let s = shop(db).await;
    let me = buyer(&s, "13800000005").await;
    let (larou, _, _) = sku_of(&s, "chengkou-larou-500g").await;
    let order = place(&s, me, &[(larou, 1)]).await;
    pay(&s, order).await;
    let o = s.orders.order(order).await.unwrap();
    let part = &o.parts[0];
    let total = part.items.0 + part.shipping.0;
    let each = Fen(total * 2 / 5);
    let tries: Vec<_> = (0..6)
        .map(|_| {
            let settlement = s.settlement.clone();
            let (staff, id) = (s.staff, part.id);
            tokio::spawn(async move { settlement.refund_part(staff, order, id, each, "同时退款").await })
        })
        .collect();
    let mut made = 0;
    for t in tries {
        match t.await.unwrap() {
            Ok(_) => made += 1,
            Err(SettlementError::RefundTooLarge { .. }) => {}
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!(made, 2, "two refunds of 40% fit, the third does not");
    assert_eq!(owed(&s, Account::RefundsDue).await, Fen(each.0 * 2));
    assert_eq!(owed(&s, Account::Escrow).await, Fen(o.total.0 - each.0 * 2));
    assert_ledger_whole(&s).await;
});
