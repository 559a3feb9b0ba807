//! Settlement on both databases: escrow on payment, release on completion less the fee, refunds
//! before and after release, payouts that go out once even when runs race, the bank file and its
//! confirmation, and a ledger that refuses to be edited or unbalanced.

use jinguo_catalog::Producer;
use jinguo_common::db_test;
use jinguo_common::ids::ProducerId;
use jinguo_common::invalid::{Field, Invalid};
use jinguo_common::money::Fen;
use jinguo_common::testing::TestDb;
use jinguo_order::OrderError;
use jinguo_order::payment::PaymentMethod;
use jinguo_order::state::{Action, Actor};
use jinguo_settlement::ledger::{self, Account, Kind, Posting};
use jinguo_settlement::payout::{PayoutDetails, SkipReason};
use jinguo_settlement::{PayoutStatus, RefundStatus, RowProblem, SettlementError};
use jinguo_shop::testing::TestShop;

use crate::support::*;

async fn money_follows_the_order_to_each_producer(db: TestDb) {
    let s = shop(db).await;
    let staff = s.staff().await;
    let me = s.buyer().await;
    let larou = s.product().price(Fen(6_800)).create(&s.catalog).await;
    let honey = s.product().price(Fen(6_600)).create(&s.catalog).await;
    let (larou_producer, honey_producer) = (larou.producer.id, honey.producer.id);
    let order = s
        .order(&me, &[(larou.skus[0].id, 2), (honey.skus[0].id, 1)])
        .await
        .placed
        .order_id;
    assert_eq!(
        transactions(&s).await,
        0,
        "nothing is booked before payment"
    );
    s.pay(order).await;
    let o = s.orders.order(order).await.unwrap();
    assert_eq!(
        owed(&s, Account::Escrow).await,
        o.total,
        "paid money is held"
    );
    assert_eq!(
        held(&s, Account::Clearing(PaymentMethod::BankTransfer)).await,
        o.total
    );

    let part_of = |producer: ProducerId| {
        o.parts
            .iter()
            .find(|p| p.producer_id == producer)
            .unwrap()
            .clone()
    };
    let (a, b) = (part_of(larou_producer), part_of(honey_producer));
    let (a_total, b_total) = (a.total(), b.total());

    complete(&s, order, a.id).await;
    assert_eq!(
        owed(&s, Account::Payable(larou_producer)).await,
        a_total - fee(a_total)
    );
    assert_eq!(owed(&s, Account::PlatformFee).await, fee(a_total));
    assert_eq!(
        owed(&s, Account::Escrow).await,
        b_total,
        "only the other part is held"
    );

    // A partial refund before release comes out of escrow.
    let r1 = refund(&s, &staff, order, b.id, Fen(100), "one jar cracked")
        .await
        .unwrap()
        .refund
        .unwrap();
    assert_eq!(r1.amount, Fen(100));
    assert_eq!(
        s.settlement.refund(r1.id).await.unwrap().status,
        RefundStatus::Pending,
        "a bank-transfer refund waits for staff to pay it"
    );
    assert_eq!(owed(&s, Account::Escrow).await, b_total - Fen(100));
    assert_eq!(owed(&s, Account::RefundsDue).await, Fen(100));

    // More than is left is refused, and nothing is written.
    let before = transactions(&s).await;
    match refund(&s, &staff, order, b.id, b_total, "all").await {
        Err(OrderError::RefundTooLarge { asked, left }) => {
            assert_eq!(asked, b_total);
            assert_eq!(left, b_total - Fen(100));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(transactions(&s).await, before);

    complete(&s, order, b.id).await;
    let b_left = b_total - Fen(100);
    assert_eq!(
        owed(&s, Account::Payable(honey_producer)).await,
        b_left - fee(b_left)
    );
    assert_eq!(
        owed(&s, Account::Escrow).await,
        Fen(0),
        "everything is released"
    );

    // After release a refund comes out of the producer's payable, and the platform gives back
    // its fee on it.
    let r2 = refund(&s, &staff, order, a.id, Fen(200), "late complaint")
        .await
        .unwrap()
        .refund
        .unwrap();
    assert_eq!(
        owed(&s, Account::Payable(larou_producer)).await,
        a_total - fee(a_total) - (Fen(200) - fee(Fen(200)))
    );
    assert_eq!(
        owed(&s, Account::PlatformFee).await,
        fee(a_total) + fee(b_left) - fee(Fen(200))
    );
    assert_eq!(owed(&s, Account::RefundsDue).await, Fen(300));

    // Staff pay the refunds back: they leave the bank account, once.
    s.settlement
        .mark_refund_paid(r1.id, "BANK-RF-1")
        .await
        .unwrap();
    s.settlement
        .mark_refund_paid(r2.id, "BANK-RF-2")
        .await
        .unwrap();
    let again = s
        .settlement
        .mark_refund_paid(r1.id, "BANK-RF-1")
        .await
        .unwrap_err();
    assert!(
        matches!(again, SettlementError::RefundAlreadyPaid(id) if id == r1.id),
        "{again}"
    );
    assert_eq!(owed(&s, Account::RefundsDue).await, Fen(0));
    assert_eq!(
        held(&s, Account::Clearing(PaymentMethod::BankTransfer)).await,
        o.total - Fen(300)
    );
    assert_ledger_whole(&s).await;
}

async fn a_cancelled_paid_order_is_owed_back_in_full(db: TestDb) {
    let s = shop(db).await;
    let staff = s.staff().await;
    let me = s.buyer().await;
    let larou = s.product().price(Fen(6_800)).create(&s.catalog).await;
    let order = s.order(&me, &[(larou.skus[0].id, 1)]).await.placed.order_id;
    s.pay(order).await;
    let o = s.orders.order(order).await.unwrap();
    let part = o.parts[0].id;
    refund(&s, &staff, order, part, Fen(50), "price match")
        .await
        .unwrap();
    s.orders
        .act(
            order,
            Action::Cancel {
                reason: "changed my mind".into(),
            },
            Actor::Buyer(me.id),
        )
        .await
        .unwrap();
    assert_eq!(owed(&s, Account::Escrow).await, Fen(0));
    assert_eq!(
        owed(&s, Account::RefundsDue).await,
        o.total,
        "the cancel refunds what the partial refund left, no more"
    );
    let refunds = s.settlement.refunds(Some(order)).await.unwrap();
    assert_eq!(refunds.iter().map(|r| r.amount).sum::<Fen>(), o.total);
    assert_ledger_whole(&s).await;
}

async fn the_ledger_cannot_be_edited_or_unbalanced(db: TestDb) {
    let s = shop(db).await;
    let me = s.buyer().await;
    let larou = s.product().price(Fen(6_800)).create(&s.catalog).await;
    let order = s.order(&me, &[(larou.skus[0].id, 1)]).await.placed.order_id;
    s.pay(order).await;
    let total = s.orders.order(order).await.unwrap().total;

    let pool = s.db.pool();
    assert!(
        sqlx::query("update ledger_entries set amount_fen = 1")
            .execute(pool)
            .await
            .is_err()
    );
    assert!(
        sqlx::query("delete from ledger_entries")
            .execute(pool)
            .await
            .is_err()
    );
    assert!(
        sqlx::query("delete from ledger_transactions")
            .execute(pool)
            .await
            .is_err()
    );
    assert!(
        sqlx::query("update ledger_transactions set memo = 'edited'")
            .execute(pool)
            .await
            .is_err()
    );

    let before = transactions(&s).await;
    let lopsided = Posting::new(Kind::Reversal, "test:lopsided")
        .debit(Account::Escrow, Fen(100))
        .credit(Account::PlatformFee, Fen(99));
    let mut tx = s.db.begin_write().await.unwrap();
    let err = ledger::post(&mut tx, &lopsided, NOW).await.unwrap_err();
    assert!(matches!(err, SettlementError::Unbalanced(_, 1)), "{err}");
    drop(tx);
    assert_eq!(transactions(&s).await, before, "nothing written");

    // The database itself refuses an entry that would unbalance a sealed transaction: the
    // order's payment (ledger transactions are seen through no domain function but this table).
    let payment: i64 = sqlx::query_scalar("select id from ledger_transactions where cause = $1")
        .bind(format!("pay:order:{order}"))
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(
        sqlx::query(
            "insert into ledger_entries (transaction_id, account, amount_fen) values ($1, 'escrow', 5)"
        )
        .bind(payment)
        .execute(pool)
        .await
        .is_err()
    );

    // A correction is a new reversing transaction, posted once.
    let mut tx = s.db.begin_write().await.unwrap();
    assert!(
        ledger::reverse(&mut tx, payment, "entered in error", NOW)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        ledger::reverse(&mut tx, payment, "twice", NOW)
            .await
            .unwrap()
            .is_none()
    );
    tx.commit().await.unwrap();
    assert_eq!(owed(&s, Account::Escrow).await, Fen(0));
    assert_eq!(
        held(&s, Account::Clearing(PaymentMethod::BankTransfer)).await,
        Fen(0)
    );
    assert!(total.0 > 0);
    assert_ledger_whole(&s).await;
}

/// Two producers, each with a part of one paid order, both completed.
async fn two_producers_completed(s: &TestShop) -> (Producer, Producer) {
    let me = s.buyer().await;
    let larou = s.product().price(Fen(6_800)).create(&s.catalog).await;
    let honey = s.product().price(Fen(6_600)).create(&s.catalog).await;
    let order = s
        .order(&me, &[(larou.skus[0].id, 1), (honey.skus[0].id, 2)])
        .await
        .placed
        .order_id;
    s.pay(order).await;
    for part in s.orders.order(order).await.unwrap().parts {
        complete(s, order, part.id).await;
    }
    (larou.producer, honey.producer)
}

fn bank(name: &str) -> PayoutDetails {
    PayoutDetails::Bank {
        account_name: name.into(),
        account_no: "6217 0000 1234 5678".into(),
        bank_name: "中国农业银行城口县支行".into(),
    }
}

async fn payouts_go_out_once_through_the_bank_file(db: TestDb) {
    let s = shop(db).await;
    let (a, b) = two_producers_completed(&s).await;
    let (a, b) = (a.id, b.id);
    let owed_a = s.settlement.payable(a).await.unwrap();
    let owed_b = s.settlement.payable(b).await.unwrap();
    assert!(owed_a.0 > 0 && owed_b.0 > 0);
    s.settlement
        .set_payout_details(a, bank("城口县巧姐腊肉加工车间"))
        .await
        .unwrap();

    let report = s.settlement.settle("test").await.unwrap();
    assert_eq!(report.payouts.len(), 1, "{report:?}");
    assert_eq!(report.payouts[0].amount, owed_a);
    assert_eq!(
        report.skipped.len(),
        1,
        "the producer without details is skipped: {report:?}"
    );
    assert_eq!(report.skipped[0], (b, SkipReason::NoPayoutDetails));
    assert_eq!(s.settlement.payable(a).await.unwrap(), Fen(0));
    assert_eq!(
        s.settlement.payable(b).await.unwrap(),
        owed_b,
        "still owed, not lost"
    );
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
        format!(
            "城口县巧姐腊肉加工车间,6217000012345678,中国农业银行城口县支行,{},巾帼集市货款 JGP{}",
            owed_a.yuan_string(),
            payout.id
        )
    );
    assert_eq!(lines.len(), 2);

    // A bad line in the bank's result file names its line and applies nothing.
    let before = transactions(&s).await;
    let err = s
        .settlement
        .confirm_bank_file(&format!("payout,reference\n{},B-1\nJGPx,B-2\n", payout.id))
        .await
        .unwrap_err();
    match err {
        SettlementError::BadRow { line, problem } => {
            assert_eq!(line, 3);
            assert_eq!(problem, RowProblem::NotAPayoutId("JGPx".into()));
        }
        other => panic!("{other}"),
    }
    assert_eq!(transactions(&s).await, before);
    assert_eq!(
        s.settlement.payouts(Some(a), None).await.unwrap()[0].status,
        PayoutStatus::Pending
    );

    let done = s
        .settlement
        .confirm_bank_file(&format!("{},ABC-20261129-01\n", payout.id))
        .await
        .unwrap();
    assert_eq!(done[0].status, PayoutStatus::Sent);
    assert_eq!(owed(&s, Account::PayoutsInTransit).await, Fen(0));
    let err = s
        .settlement
        .mark_payout_paid(payout.id, "again")
        .await
        .unwrap_err();
    match err {
        SettlementError::PayoutNotOpen { id, status } => {
            assert_eq!((id, status), (payout.id, PayoutStatus::Sent));
        }
        other => panic!("{other}"),
    }

    // A payout the bank returned puts the money back in the payable.
    s.settlement
        .set_payout_details(b, bank("城口县蜂蜜合作社"))
        .await
        .unwrap();
    let report = s.settlement.settle("test").await.unwrap();
    let pb = &report.payouts[0];
    assert_eq!((pb.producer_id, pb.amount), (b, owed_b));
    s.settlement
        .mark_payout_failed(pb.id, "账号户名不符")
        .await
        .unwrap();
    assert_eq!(s.settlement.payable(b).await.unwrap(), owed_b);
    assert_ledger_whole(&s).await;
}

async fn settle_runs_at_once_pay_each_producer_once(db: TestDb) {
    let s = shop(db).await;
    let (a, b) = two_producers_completed(&s).await;
    s.settlement
        .set_payout_details(a.id, bank("车间"))
        .await
        .unwrap();
    s.settlement
        .set_payout_details(b.id, bank("合作社"))
        .await
        .unwrap();
    let owed_total =
        s.settlement.payable(a.id).await.unwrap() + s.settlement.payable(b.id).await.unwrap();
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
    assert_eq!(payouts.iter().map(|p| p.amount).sum::<Fen>(), owed_total);
    assert_ledger_whole(&s).await;
}

async fn payout_details_are_checked(db: TestDb) {
    let s = shop(db).await;
    let (a, _) = two_producers_completed(&s).await;
    let stripe = PayoutDetails::Stripe {
        account: "acct_1Valid".into(),
    };
    let err = s
        .settlement
        .set_payout_details(a.id, stripe)
        .await
        .unwrap_err();
    assert!(
        matches!(err, SettlementError::NoStripe),
        "a shop without Stripe cannot pay into a Stripe account: {err}"
    );
    for (details, field) in [
        (
            PayoutDetails::Bank {
                account_name: "".into(),
                account_no: "62170000".into(),
                bank_name: "农行".into(),
            },
            Field::AccountName,
        ),
        (
            PayoutDetails::Bank {
                account_name: "车间".into(),
                account_no: "6217-0000".into(),
                bank_name: "农行".into(),
            },
            Field::AccountNo,
        ),
        (
            PayoutDetails::Bank {
                account_name: "车间".into(),
                account_no: "62170000".into(),
                bank_name: " ".into(),
            },
            Field::BankName,
        ),
    ] {
        let err = s
            .settlement
            .set_payout_details(a.id, details)
            .await
            .unwrap_err();
        assert!(
            matches!(err, SettlementError::Invalid(Invalid { field: f, .. }) if f == field),
            "{err}"
        );
    }
    assert_eq!(
        s.settlement.payout_details(a.id).await.unwrap(),
        None,
        "nothing kept"
    );
    let not_an_account = PayoutDetails::Stripe {
        account: "12345".into(),
    }
    .validate()
    .unwrap_err();
    assert!(matches!(
        not_an_account,
        SettlementError::Invalid(Invalid {
            field: Field::StripeAccount,
            ..
        })
    ));
}

async fn refunds_made_at_once_never_exceed_the_part(db: TestDb) {
    let s = shop(db).await;
    let staff = s.staff().await;
    let me = s.buyer().await;
    let larou = s.product().price(Fen(6_800)).create(&s.catalog).await;
    let order = s.order(&me, &[(larou.skus[0].id, 1)]).await.placed.order_id;
    s.pay(order).await;
    let o = s.orders.order(order).await.unwrap();
    let part = &o.parts[0];
    let each = Fen(part.total().0 * 2 / 5);
    let tries: Vec<_> = (0..6)
        .map(|_| {
            let orders = s.orders.clone();
            let (staff, part) = (staff.id, part.id);
            tokio::spawn(async move {
                orders
                    .act(
                        order,
                        Action::Refund {
                            part,
                            amount: each,
                            reason: "同时退款".into(),
                        },
                        Actor::Staff(staff),
                    )
                    .await
            })
        })
        .collect();
    let mut made = 0;
    for t in tries {
        match t.await.unwrap() {
            Ok(acted) => {
                assert_eq!(acted.refund.map(|r| r.amount), Some(each));
                made += 1;
            }
            Err(OrderError::RefundTooLarge { asked, .. }) => assert_eq!(asked, each),
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!(made, 2, "two refunds of 40% fit, the third does not");
    assert_eq!(owed(&s, Account::RefundsDue).await, Fen(each.0 * 2));
    assert_eq!(owed(&s, Account::Escrow).await, Fen(o.total.0 - each.0 * 2));
    assert_ledger_whole(&s).await;
}

db_test!(
    money_follows_the_order_to_each_producer,
    a_cancelled_paid_order_is_owed_back_in_full,
    the_ledger_cannot_be_edited_or_unbalanced,
    payouts_go_out_once_through_the_bank_file,
    settle_runs_at_once_pay_each_producer_once,
    payout_details_are_checked,
    refunds_made_at_once_never_exceed_the_part,
);
