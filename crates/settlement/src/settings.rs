//! Settlement's settings: the platform's fee and the smallest payout (`settlement`), and the
//! Stripe account (`stripe`), a group that is either complete or absent.

use jinguo_common::money::Fen;
use secrecy::SecretString;
use serde::{Deserialize, Deserializer};

use crate::FeeRate;

/// The `settlement` group of settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SettlementSettings {
    /// The platform's fee on each completed sale, in basis points (100 = 1%); given back in
    /// proportion on refunds after release.
    #[serde(rename = "platform_fee_bp")]
    pub fee: FeeRate,
    /// Producers owed less than this wait for the next payout run.
    #[serde(rename = "minimum_payout_fen")]
    pub minimum_payout: Fen,
}

impl Default for SettlementSettings {
    fn default() -> Self {
        SettlementSettings {
            fee: FeeRate::default(),
            minimum_payout: Fen(10_000),
        }
    }
}

/// The `stripe` group: buyers pay through Stripe (card, Alipay, WeChat Pay) and producers with
/// a connected account are paid by Connect transfers. All three keys or none: a shop that took
/// payments it could not confirm (no webhook secret) or could not show (no publishable key)
/// would lose money, so an incomplete group is refused at start-up.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StripeSettings {
    /// `sk_…`
    pub secret_key: SecretString,
    /// The webhook endpoint's signing secret, `whsec_…`, for `POST /webhooks/stripe`.
    pub webhook_secret: SecretString,
    /// `pk_…`, handed to Stripe's checkout on the payment page.
    pub publishable_key: String,
    /// Stripe's API address; only a test or a proxy sets it (unset: https://api.stripe.com).
    #[serde(default)]
    pub base_url: Option<url::Url>,
    /// The payment methods offered, as the account supports them: a list, or a comma-separated
    /// text (`card,alipay,wechat_pay`, the default); empty: the account's settings decide.
    #[serde(default = "default_methods", deserialize_with = "comma_list")]
    pub payment_methods: Vec<String>,
}

fn default_methods() -> Vec<String> {
    ["card", "alipay", "wechat_pay"].map(str::to_owned).to_vec()
}

/// A list given as a sequence or as one comma-separated text (as an environment variable is).
fn comma_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum List {
        Text(String),
        Items(Vec<String>),
    }
    let items = match List::deserialize(d)? {
        List::Text(text) => text.split(',').map(str::to_owned).collect(),
        List::Items(items) => items,
    };
    Ok(items
        .into_iter()
        .map(|m| m.trim().to_owned())
        .filter(|m| !m.is_empty())
        .collect())
}
