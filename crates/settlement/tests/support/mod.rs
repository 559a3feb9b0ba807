//! A shop with books: the demo catalog, orders paid by bank transfer whose money is kept in the
//! ledger (5% platform fee), and settlement over them.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use jinguo_accounts::{Accounts, HashCost, Limits, Role};
use jinguo_catalog::Catalog;
use jinguo_catalog::demo::{self, SeedOptions};
use jinguo_catalog::search::embedded::EmbeddedSearch;
use jinguo_common::Clock;
use jinguo_common::money::Fen;
use jinguo_common::testing::TestDb;
use jinguo_order::address::NewAddress;
use jinguo_order::cart::Owner;
use jinguo_order::payment::{BankTransfer, Payee};
use jinguo_order::state::{Action, Actor, Windows};
use jinguo_order::{OrderSettings, Orders};
use jinguo_settlement::ledger::{self, Account};
use jinguo_settlement::stripe::StripeGateway;
use jinguo_settlement::{Escrow, FeeRate, Settlement, SettlementSettings, StripeProvider};
use std::sync::Arc;

pub const NOW: i64 = 1_795_924_800_000;
pub const FEE_BP: u32 = 500;

pub struct Shop {
    pub orders: Orders,
    pub settlement: Settlement,
    pub accounts: Accounts,
    pub catalog: Catalog,
    pub clock: Clock,
    pub db: TestDb,
    pub staff: i64,
    _index: tempfile::TempDir,
}

pub async fn shop(db: TestDb) -> Shop {
    shop_with_stripe(db, None).await
}

/// A shop that also takes Stripe through `stripe` (bank transfer stays the default).
pub async fn shop_with_stripe(db: TestDb, stripe: Option<Arc<StripeGateway>>) -> Shop {
    let index = tempfile::tempdir().unwrap();
    let clock = Clock::manual(NOW);
    let (search, _) = EmbeddedSearch::open(index.path()).unwrap();
    let catalog = Catalog::new(db.db.clone(), clock.clone(), Arc::new(search));
    demo::seed(&catalog, SeedOptions { pictures: false }, &|_, _| {})
        .await
        .unwrap();
    let payee = Payee {
        name: "重庆巾帼集市".into(),
        bank: "重庆农村商业银行".into(),
        account_no: "6230 0000 0000 0001".into(),
    };
    let bank = Arc::new(BankTransfer::new(db.db.clone(), payee, None));
    let mut orders = Orders::new(
        db.db.clone(),
        clock.clone(),
        catalog.clone(),
        OrderSettings::default(),
        bank,
    )
    .with_books(Arc::new(Escrow::new(
        FeeRate::basis_points(FEE_BP).unwrap(),
    )));
    if let Some(gateway) = &stripe {
        orders = orders.with_payment(Arc::new(StripeProvider::new(
            db.db.clone(),
            clock.clone(),
            gateway.clone(),
        )));
    }
    let settlement = Settlement::new(
        db.db.clone(),
        orders.clone(),
        stripe,
        SettlementSettings {
            minimum_payout: Fen(1),
            fee: FeeRate::basis_points(FEE_BP).unwrap(),
        },
    );
    let accounts = Accounts::new(
        db.db.clone(),
        clock.clone(),
        HashCost::Fast,
        Limits::default(),
    );
    let staff = accounts
        .register("staff@fulian.example", "password-123", Role::Staff, None)
        .await
        .unwrap()
        .id
        .0;
    Shop {
        orders,
        settlement,
        accounts,
        catalog,
        clock,
        db,
        staff,
        _index: index,
    }
}

pub fn address() -> NewAddress {
    NewAddress {
        recipient: "李华".into(),
        phone: "13905310000".into(),
        region_code: "370102".into(),
        detail: "泉城路 188 号 3 单元 502".into(),
    }
}

pub async fn buyer(s: &Shop, login: &str) -> i64 {
    s.accounts
        .register(login, "password-123", Role::Consumer, None)
        .await
        .unwrap()
        .id
        .0
}

/// (sku, price, producer) of a demo product.
pub async fn sku_of(s: &Shop, slug: &str) -> (i64, Fen, i64) {
    let d = s.catalog.product(slug).await.unwrap();
    (d.skus[0].id.0, d.skus[0].price, d.producer.id.0)
}

/// Places an order for `lines` (sku, quantity) and returns its id.
pub async fn place(s: &Shop, buyer: i64, lines: &[(i64, i64)]) -> i64 {
    place_paying(
        s,
        buyer,
        lines,
        jinguo_order::payment::PaymentMethod::BankTransfer,
    )
    .await
}

/// Places an order paid by `method`.
pub async fn place_paying(
    s: &Shop,
    buyer: i64,
    lines: &[(i64, i64)],
    method: jinguo_order::payment::PaymentMethod,
) -> i64 {
    for (sku, n) in lines {
        s.orders
            .put_in_cart(Owner::User(buyer), *sku, *n, false)
            .await
            .unwrap();
    }
    s.orders
        .checkout_with(buyer, &address(), method)
        .await
        .unwrap()
        .placed
        .order_id
}

/// Staff record the exact transfer for `order`.
pub async fn pay(s: &Shop, order: i64) {
    let o = s.orders.order(order).await.unwrap();
    s.orders
        .record_transfer(
            s.staff,
            &o.payment_reference,
            o.total,
            &s.clock.today_in_china().to_string(),
        )
        .await
        .unwrap();
}

/// Ships, delivers and (after the return window) completes part `part` of `order`.
pub async fn complete(s: &Shop, order: i64, part: i64) {
    let o = s.orders.order(order).await.unwrap();
    let p = o.parts.iter().find(|p| p.id == part).unwrap();
    s.orders
        .act(
            order,
            Action::Ship {
                part,
                carrier: "邮政".into(),
                tracking_no: "9801234567890".into(),
            },
            Actor::Producer(p.producer_id),
        )
        .await
        .unwrap();
    s.orders
        .act(order, Action::Deliver { part }, Actor::Buyer(o.buyer_id))
        .await
        .unwrap();
    s.clock.advance(Windows::default().return_ms + 1);
    s.orders
        .act(order, Action::Complete { part }, Actor::System)
        .await
        .unwrap();
}

pub async fn owed(s: &Shop, account: Account) -> Fen {
    let mut conn = s.db.pool().acquire().await.unwrap();
    Fen(-ledger::balance(&mut conn, account).await.unwrap().0)
}

pub async fn held(s: &Shop, account: Account) -> Fen {
    let mut conn = s.db.pool().acquire().await.unwrap();
    ledger::balance(&mut conn, account).await.unwrap()
}

pub async fn assert_ledger_whole(s: &Shop) {
    let check = s.settlement.check_ledger().await.unwrap();
    assert!(check.is_ok(), "ledger check failed: {check:?}");
}
