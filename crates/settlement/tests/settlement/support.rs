//! A shop with books: an empty test shop (`jinguo_shop::testing::TestShop`) whose sales pay a
//! 5% platform fee and whose producers are paid out from the first fen, orders paid by bank
//! transfer (or through Stripe, when given), and what its ledger says.

use jinguo_accounts::User;
use jinguo_catalog::SkuId;
use jinguo_common::money::Fen;
use jinguo_common::testing::TestDb;
use jinguo_order::payment::PaymentMethod;
use jinguo_order::state::{Action, Actor};
use jinguo_order::{AddressChoice, CheckoutRequest, OrderId, PartId};
use jinguo_settlement::ledger::{self, Account};
use jinguo_settlement::{FeeRate, StripeSettings};
use jinguo_shop::ShopSettings;
use jinguo_shop::testing::{TestShop, address};

pub use jinguo_shop::testing::NOW;

/// The platform's fee on released sales, in basis points: 5%.
pub const FEE_BP: u32 = 500;

/// The fee the books take on `amount`: rounded down to the fen.
pub fn fee(amount: Fen) -> Fen {
    Fen(amount.0 * i64::from(FEE_BP) / 10_000)
}

/// The settings every shop here has: the 5% fee, and no minimum payout worth waiting for.
fn books(settings: &mut ShopSettings) {
    settings.settlement.fee = FeeRate::basis_points(FEE_BP).unwrap();
    settings.settlement.minimum_payout = Fen(1);
}

/// An empty shop with the books above, taking bank transfers.
pub async fn shop(db: TestDb) -> TestShop {
    TestShop::with(db, books).await
}

/// As [`shop`], also taking Stripe (then the default method) when `stripe` is given.
pub async fn shop_with_stripe(db: TestDb, stripe: Option<StripeSettings>) -> TestShop {
    TestShop::with(db, |settings| {
        books(settings);
        settings.stripe = stripe;
    })
    .await
}

/// Puts `lines` (SKU, quantity) in `buyer`'s cart and checks out, paying by `method`.
pub async fn place(
    s: &TestShop,
    buyer: &User,
    lines: &[(SkuId, i64)],
    method: PaymentMethod,
) -> OrderId {
    for (sku, quantity) in lines {
        s.orders
            .put_in_cart(
                jinguo_order::cart::Owner::User(buyer.id),
                *sku,
                *quantity,
                false,
            )
            .await
            .unwrap();
    }
    s.orders
        .checkout(
            buyer.id,
            &CheckoutRequest {
                address: AddressChoice::New(address()),
                method: Some(method),
            },
        )
        .await
        .unwrap()
        .placed
        .order_id
}

/// Staff `staff` give back `amount` of part `part` of `order`.
pub async fn refund(
    s: &TestShop,
    staff: &User,
    order: OrderId,
    part: PartId,
    amount: Fen,
    reason: &str,
) -> Result<jinguo_order::Acted, jinguo_order::OrderError> {
    s.orders
        .act(
            order,
            Action::Refund {
                part,
                amount,
                reason: reason.into(),
            },
            Actor::Staff(staff.id),
        )
        .await
}

/// Ships, delivers and (after the return window) completes part `part` of `order`.
pub async fn complete(s: &TestShop, order: OrderId, part: PartId) {
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
    s.advance(s.orders.settings().windows().return_ms + 1);
    s.orders
        .act(order, Action::Complete { part }, Actor::System)
        .await
        .unwrap();
}

/// What a credit account (escrow, a payable, refunds due) owes.
pub async fn owed(s: &TestShop, account: Account) -> Fen {
    Fen(-held(s, account).await.0)
}

/// What a debit account (clearing) holds.
pub async fn held(s: &TestShop, account: Account) -> Fen {
    let mut conn = s.db.pool().acquire().await.unwrap();
    ledger::balance(&mut conn, account).await.unwrap()
}

/// How many ledger transactions have been written.
pub async fn transactions(s: &TestShop) -> i64 {
    s.settlement.check_ledger().await.unwrap().transactions
}

/// Every transaction balanced and sealed, debits equal to credits, every account known.
pub async fn assert_ledger_whole(s: &TestShop) {
    let check = s.settlement.check_ledger().await.unwrap();
    assert!(check.is_ok(), "ledger check failed: {check:?}");
}
