//! The test kit: a whole shop over a fresh test database, wired by [`Shop::assemble`] exactly
//! as `jinguo serve` wires it, on a manual clock, with nothing in it; and builders so that a
//! test makes only the producers, products, people and orders it is about.
//!
//! ```ignore
//! async fn a_unit_is_sold_once(db: TestDb) {
//!     let shop = TestShop::new(db).await;
//!     let product = shop.product().stock(1).create(&shop.catalog).await;
//!     let buyer = shop.buyer().await;
//!     let order = shop.order(&buyer, &[(product.skus[0].id, 1)]).await;
//!     …
//! }
//! db_test!(a_unit_is_sold_once);
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

use jinguo_accounts::User;
use jinguo_accounts::testing::UserBuilder;
use jinguo_catalog::testing::{ProducerBuilder, ProductBuilder};
use jinguo_catalog::{Producer, SkuId};
use jinguo_common::clock::Millis;
use jinguo_common::ids::ProducerId;
use jinguo_common::money::Fen;
use jinguo_common::testing::TestDb;
use jinguo_order::address::NewAddress;
use jinguo_order::cart::Owner;
use jinguo_order::{AddressChoice, Checkout, CheckoutRequest, OrderError, OrderId};
use jinguo_settlement::StripeSettings;

use crate::{Shop, ShopSettings};

pub use jinguo_accounts::testing::PASSWORD;
pub use jinguo_catalog::testing::{ProducerBuilder as Producers, ProductBuilder as Products};

/// Noon on 2026-11-29 in Chongqing: where every test shop's clock starts.
pub const NOW: Millis = 1_795_924_800_000;

/// A shop over a test database, with its own data directory (search index), removed after.
pub struct TestShop {
    pub shop: Shop,
    pub settings: ShopSettings,
    pub db: TestDb,
    pub data_dir: tempfile::TempDir,
}

impl std::ops::Deref for TestShop {
    type Target = Shop;
    fn deref(&self) -> &Shop {
        &self.shop
    }
}

/// The settings of a test shop in `data_dir`: passwords hash fast, sign-ins from one address
/// are not limited (tests sign many people in), Stripe off.
pub fn settings(db: &TestDb, data_dir: &std::path::Path) -> ShopSettings {
    let mut settings = ShopSettings {
        data_dir: data_dir.to_owned(),
        ..ShopSettings::default()
    };
    settings.database.url = Some(secrecy::SecretString::from(db.url()));
    settings.accounts.password_hash = jinguo_accounts::HashCost::Fast;
    settings.accounts.login_limit_per_address = 10_000;
    settings.accounts.registrations_per_address = 10_000;
    settings
}

impl TestShop {
    /// An empty shop with the test settings.
    pub async fn new(db: TestDb) -> TestShop {
        TestShop::with(db, |_| {}).await
    }

    /// An empty shop with the test settings as `tweak` changes them.
    pub async fn with(db: TestDb, tweak: impl FnOnce(&mut ShopSettings)) -> TestShop {
        let data_dir = tempfile::tempdir().unwrap();
        let mut settings = settings(&db, data_dir.path());
        tweak(&mut settings);
        let shop = Shop::assemble(db.db.clone(), jinguo_common::Clock::manual(NOW), &settings)
            .await
            .unwrap();
        TestShop {
            shop,
            settings,
            db,
            data_dir,
        }
    }

    /// An empty shop that also takes Stripe through `stripe` (the default method then).
    pub async fn with_stripe(db: TestDb, stripe: StripeSettings) -> TestShop {
        TestShop::with(db, |s| s.stripe = Some(stripe)).await
    }

    /// A product builder (its producer is made too unless one is given).
    pub fn product(&self) -> ProductBuilder {
        ProductBuilder::new()
    }

    /// A verified, certified workshop.
    pub async fn producer(&self) -> Producer {
        ProducerBuilder::new().create(&self.catalog).await
    }

    pub async fn buyer(&self) -> User {
        UserBuilder::consumer().create(&self.accounts).await
    }

    /// A federation staff account.
    pub async fn staff(&self) -> User {
        UserBuilder::staff().create(&self.accounts).await
    }

    /// A staff account of `producer`.
    pub async fn producer_staff(&self, producer: ProducerId) -> User {
        UserBuilder::producer(producer).create(&self.accounts).await
    }

    /// Moves the shop's clock on.
    pub fn advance(&self, ms: Millis) {
        self.clock.advance(ms);
    }

    /// Puts `lines` (SKU, quantity) in `buyer`'s cart and checks out to [`address`] by the
    /// shop's default method.
    pub async fn order(&self, buyer: &User, lines: &[(SkuId, i64)]) -> Checkout {
        self.try_order(buyer, lines).await.unwrap()
    }

    /// As [`TestShop::order`], with the checkout's outcome.
    pub async fn try_order(
        &self,
        buyer: &User,
        lines: &[(SkuId, i64)],
    ) -> Result<Checkout, OrderError> {
        for (sku, quantity) in lines {
            self.orders
                .put_in_cart(Owner::User(buyer.id), *sku, *quantity, false)
                .await?;
        }
        self.checkout(buyer).await
    }

    /// Checks out what is in `buyer`'s cart now, as [`TestShop::order`] does.
    pub async fn checkout(&self, buyer: &User) -> Result<Checkout, OrderError> {
        self.orders.checkout(buyer.id, &checkout_request()).await
    }

    /// Records the exact transfer for a bank-transfer order, as staff would: it is paid.
    pub async fn pay(&self, order: OrderId) {
        let staff = self.staff().await;
        let o = self.orders.order(order).await.unwrap();
        let today = self.clock.today_in_china().to_string();
        self.orders
            .record_transfer(staff.id, &o.payment_reference, o.total, &today)
            .await
            .unwrap();
    }

    /// The SKU's stock now.
    pub async fn stock(&self, sku: SkuId) -> i64 {
        let mut conn = self.db.pool().acquire().await.unwrap();
        jinguo_catalog::stock::available(&mut conn, sku)
            .await
            .unwrap()
    }
}

/// A delivery address in 济南市历下区 (a Shandong partner city) that every check accepts.
pub fn address() -> NewAddress {
    NewAddress {
        recipient: "李华".into(),
        phone: "13905310000".into(),
        region_code: "370102".into(),
        detail: "泉城路 188 号 3 单元 502".into(),
    }
}

/// A checkout to [`address`] by the shop's default method (what [`TestShop::order`] sends; for
/// a test that checks out from tasks of its own).
pub fn checkout_request() -> CheckoutRequest {
    CheckoutRequest {
        address: AddressChoice::New(address()),
        method: None,
    }
}

/// `amount` yuan.
pub fn yuan(amount: i64) -> Fen {
    Fen(amount * 100)
}
