//! The order crate's settings: the time limits of an order's life, and the account buyers pay
//! bank transfers into.

use jinguo_common::config::{days, minutes, to_millis};
use secrecy::SecretString;
use serde::Deserialize;
use std::time::Duration;

use crate::payment::{Payee, PaymentMethod};
use crate::state::Windows;

/// The `orders` group of settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OrderSettings {
    /// How long an unpaid order paid by card or wallet holds its stock.
    #[serde(rename = "hold_minutes", with = "minutes")]
    pub hold: Duration,
    /// How long an unpaid order paid by bank transfer (对公转账) holds its stock: institutions
    /// pay in a day or two. The buyer is reminded a day before it ends.
    #[serde(rename = "bank_transfer_hold_days", with = "days")]
    pub bank_transfer_hold: Duration,
    /// After shipping, delivery counts as confirmed this long later if the buyer has not said.
    #[serde(rename = "auto_deliver_days", with = "days")]
    pub auto_deliver: Duration,
    /// After delivery, a return may be asked for this long.
    #[serde(rename = "return_days", with = "days")]
    pub return_window: Duration,
}

impl Default for OrderSettings {
    fn default() -> Self {
        OrderSettings {
            hold: Duration::from_secs(15 * 60),
            bank_transfer_hold: Duration::from_secs(3 * 86_400),
            auto_deliver: Duration::from_secs(10 * 86_400),
            return_window: Duration::from_secs(7 * 86_400),
        }
    }
}

impl OrderSettings {
    /// How long an unpaid order paid by card or wallet holds its stock.
    pub fn hold_ms(&self) -> i64 {
        to_millis(self.hold)
    }

    /// How long an unpaid order paid by `method` holds its stock.
    pub fn hold_ms_for(&self, method: PaymentMethod) -> i64 {
        match method {
            PaymentMethod::BankTransfer => to_millis(self.bank_transfer_hold),
            PaymentMethod::Stripe => to_millis(self.hold),
        }
    }

    pub fn windows(&self) -> Windows {
        Windows {
            auto_deliver_ms: to_millis(self.auto_deliver),
            return_ms: to_millis(self.return_window),
        }
    }
}

/// The `bank` group of settings: the shop's account buyers transfer to.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BankSettings {
    pub payee_name: String,
    pub payee_bank: String,
    pub payee_account: String,
    /// Shared secret of signed notifications from a bank connector (unset: refused).
    pub notify_secret: Option<SecretString>,
}

impl Default for BankSettings {
    fn default() -> Self {
        BankSettings {
            payee_name: "巾帼集市（演示账户）".to_owned(),
            payee_bank: "演示银行重庆分行".to_owned(),
            payee_account: "6200 0000 0000 0000 000".to_owned(),
            notify_secret: None,
        }
    }
}

impl BankSettings {
    pub fn payee(&self) -> Payee {
        Payee {
            name: self.payee_name.clone(),
            bank: self.payee_bank.clone(),
            account_no: self.payee_account.clone(),
        }
    }
}
