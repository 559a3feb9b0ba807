//! The shop: the domain crates wired together from one set of settings. The database, the
//! catalog with its search backend, accounts, orders with their payment providers (bank
//! transfer always, Stripe when configured) and their books (settlement's escrow, so every
//! order change moves its money in the same transaction), and settlement over them.
//!
//! [`Shop::open`] is what the `jinguo` binary runs; [`Shop::assemble`] is the one place the
//! parts are put together, and every test that needs a shop goes through it too
//! ([`testing::TestShop`]).

use jinguo_accounts::{AccountSettings, Accounts};
use jinguo_catalog::demo::{self, SeedOptions, SeedReport};
use jinguo_catalog::{Catalog, CatalogError, CatalogSettings};
use jinguo_common::config::DatabaseSettings;
use jinguo_common::db::DbError;
use jinguo_common::{Clock, Db};
use jinguo_order::books::Books;
use jinguo_order::payment::{BankTransfer, PaymentProvider};
use jinguo_order::{BankSettings, OrderSettings, Orders};
use jinguo_settlement::stripe::{StripeError, StripeGateway};
use jinguo_settlement::{Escrow, Settlement, SettlementSettings, StripeProvider, StripeSettings};
use secrecy::ExposeSecret;
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;

#[cfg(feature = "testing")]
pub mod testing;

/// Every setting the domain needs, each group owned by the crate that uses it.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShopSettings {
    /// Where the embedded database, the embedded search index and uploads live.
    pub data_dir: PathBuf,
    pub database: DatabaseSettings,
    pub catalog: CatalogSettings,
    pub accounts: AccountSettings,
    pub orders: OrderSettings,
    pub bank: BankSettings,
    pub settlement: SettlementSettings,
    /// Stripe, complete or absent.
    pub stripe: Option<StripeSettings>,
}

impl Default for ShopSettings {
    fn default() -> Self {
        ShopSettings {
            data_dir: PathBuf::from(jinguo_common::config::DEFAULT_DATA_DIR),
            database: DatabaseSettings::default(),
            catalog: CatalogSettings::default(),
            accounts: AccountSettings::default(),
            orders: OrderSettings::default(),
            bank: BankSettings::default(),
            settlement: SettlementSettings::default(),
            stripe: None,
        }
    }
}

impl ShopSettings {
    /// The database to open: the configured one, or a SQLite file in the data directory.
    pub fn database_url(&self) -> secrecy::SecretString {
        self.database.url_in(&self.data_dir)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ShopError {
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("the catalog: {0}")]
    Catalog(#[from] CatalogError),
    #[error("Stripe: {0}")]
    Stripe(#[from] StripeError),
}

/// The domain, wired. Cheap to clone.
#[derive(Clone)]
pub struct Shop {
    pub db: Db,
    pub clock: Clock,
    pub catalog: Catalog,
    pub accounts: Accounts,
    pub orders: Orders,
    pub settlement: Settlement,
}

impl Shop {
    /// Opens and migrates the database, opens the search index (rebuilding it when it is
    /// missing or out of step), and wires the rest.
    pub async fn open(settings: &ShopSettings, clock: Clock) -> Result<Shop, ShopError> {
        let db = Db::connect(&settings.database_url(), settings.database.max_connections).await?;
        db.migrate().await?;
        Shop::assemble(db, clock, settings).await
    }

    /// Wires the shop over an open, migrated database.
    pub async fn assemble(
        db: Db,
        clock: Clock,
        settings: &ShopSettings,
    ) -> Result<Shop, ShopError> {
        let catalog = Catalog::open(
            db.clone(),
            clock.clone(),
            &settings.catalog,
            &settings.data_dir,
        )
        .await?;
        let accounts = Accounts::from_settings(db.clone(), clock.clone(), &settings.accounts);
        let notify_secret = settings
            .bank
            .notify_secret
            .as_ref()
            .map(|s| s.expose_secret().as_bytes().to_vec());
        let bank: Arc<dyn PaymentProvider> = Arc::new(BankTransfer::new(
            db.clone(),
            settings.bank.payee(),
            notify_secret,
        ));
        let stripe = match &settings.stripe {
            Some(stripe) => Some(Arc::new(StripeGateway::new(stripe)?)),
            None => None,
        };
        let books: Arc<dyn Books> = Arc::new(Escrow::new(settings.settlement.fee));
        // With Stripe, buyers pay through it by default; bank transfer is always offered (how
        // partner units and institutions pay).
        let orders = match &stripe {
            Some(gateway) => {
                let stripe: Arc<dyn PaymentProvider> = Arc::new(StripeProvider::new(
                    db.clone(),
                    clock.clone(),
                    gateway.clone(),
                ));
                Orders::new(
                    db.clone(),
                    clock.clone(),
                    catalog.clone(),
                    settings.orders,
                    books,
                    stripe,
                )
                .with_payment(bank)
            }
            None => Orders::new(
                db.clone(),
                clock.clone(),
                catalog.clone(),
                settings.orders,
                books,
                bank,
            ),
        };
        let settlement = Settlement::new(db.clone(), orders.clone(), stripe, settings.settlement);
        Ok(Shop {
            db,
            clock,
            catalog,
            accounts,
            orders,
            settlement,
        })
    }

    /// Adds the demo catalog if the shop has no products yet; returns what was added.
    pub async fn seed_demo_if_empty(
        &self,
        progress: demo::Progress<'_>,
    ) -> Result<Option<SeedReport>, CatalogError> {
        if self.catalog.stats().await?.products > 0 {
            return Ok(None);
        }
        let report = demo::seed(&self.catalog, SeedOptions::default(), progress).await?;
        self.catalog.sync_search().await?;
        Ok(Some(report))
    }
}
