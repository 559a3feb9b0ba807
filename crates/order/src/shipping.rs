//! Shipping fees: each producer charges for its own part of an order by its own rule.

use jinguo_common::clock::Millis;
use jinguo_common::money::Fen;
use serde::Serialize;
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;

use crate::OrderError;
use jinguo_common::ids::ProducerId;
use jinguo_common::invalid::{self, Field, Problem};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ShippingRule {
    /// The same fee whatever the part holds.
    Flat { fee: Fen },
    /// Free from `threshold` of goods; `fee` below it.
    FreeOver { fee: Fen, threshold: Fen },
    /// `first_kg` for the first kilogram, `per_kg` for each further one begun.
    ByWeight { first_kg: Fen, per_kg: Fen },
}

/// The most a shipping fee can be: ¥1000.
pub const MAX_FEE: Fen = Fen(100_000);

/// The rule of a producer that has not set one: ¥10, free from ¥99.
pub const DEFAULT_RULE: ShippingRule = ShippingRule::FreeOver {
    fee: Fen(1_000),
    threshold: Fen(9_900),
};

impl ShippingRule {
    /// The fee for a part holding `items` worth of goods weighing `weight_g`.
    pub fn fee(self, items: Fen, weight_g: i64) -> Fen {
        match self {
            ShippingRule::Flat { fee } => fee,
            ShippingRule::FreeOver { fee, threshold } => {
                if items >= threshold {
                    Fen::ZERO
                } else {
                    fee
                }
            }
            ShippingRule::ByWeight { first_kg, per_kg } => {
                let extra_kg = ((weight_g.max(0) - 1_000).max(0) + 999) / 1_000;
                Fen(first_kg.0 + per_kg.0 * extra_kg)
            }
        }
    }

    fn validate(self) -> Result<(), OrderError> {
        let fees = match self {
            ShippingRule::Flat { fee } => vec![(Field::Fee, fee)],
            ShippingRule::FreeOver { fee, threshold } => {
                invalid::positive(Field::Threshold, threshold)?;
                vec![(Field::Fee, fee)]
            }
            ShippingRule::ByWeight { first_kg, per_kg } => {
                vec![(Field::Fee, first_kg), (Field::PerKg, per_kg)]
            }
        };
        for (field, fee) in fees {
            if !(0..=MAX_FEE.0).contains(&fee.0) {
                return Err(OrderError::invalid(
                    field,
                    Problem::AmountRange {
                        min: Fen::ZERO,
                        max: MAX_FEE,
                    },
                ));
            }
        }
        Ok(())
    }
}

pub async fn set_rule(
    conn: &mut AnyConnection,
    producer_id: ProducerId,
    rule: ShippingRule,
    now: Millis,
) -> Result<(), OrderError> {
    rule.validate()?;
    let (kind, fee, threshold, per_kg) = match rule {
        ShippingRule::Flat { fee } => ("flat", fee.0, None, None),
        ShippingRule::FreeOver { fee, threshold } => ("free_over", fee.0, Some(threshold.0), None),
        ShippingRule::ByWeight { first_kg, per_kg } => {
            ("by_weight", first_kg.0, None, Some(per_kg.0))
        }
    };
    sqlx::query(
        "insert into shipping_rules (producer_id, kind, fee_fen, threshold_fen, per_kg_fen, updated_at)
         values ($1, $2, $3, $4, $5, $6)
         on conflict (producer_id) do update set kind = excluded.kind, fee_fen = excluded.fee_fen,
             threshold_fen = excluded.threshold_fen, per_kg_fen = excluded.per_kg_fen,
             updated_at = excluded.updated_at",
    )
    .bind(producer_id)
    .bind(kind)
    .bind(fee)
    .bind(threshold)
    .bind(per_kg)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// The rules of these producers (the default for those without one).
pub async fn rules_for(
    conn: &mut AnyConnection,
    producers: &[ProducerId],
) -> Result<HashMap<ProducerId, ShippingRule>, sqlx::Error> {
    let mut rules: HashMap<ProducerId, ShippingRule> =
        producers.iter().map(|p| (*p, DEFAULT_RULE)).collect();
    if producers.is_empty() {
        return Ok(rules);
    }
    let mut sql = jinguo_common::db::SqlBuf::new(
        "select producer_id, kind, fee_fen, threshold_fen, per_kg_fen from shipping_rules where producer_id in ",
    );
    sql.bind_list(producers.iter().map(|p| p.0));
    for row in sql.query().fetch_all(conn).await? {
        let fee = Fen(row.try_get("fee_fen")?);
        let rule = match row.try_get::<String, _>("kind")?.as_str() {
            "flat" => ShippingRule::Flat { fee },
            "by_weight" => ShippingRule::ByWeight {
                first_kg: fee,
                per_kg: Fen(row.try_get::<Option<i64>, _>("per_kg_fen")?.unwrap_or(0)),
            },
            _ => ShippingRule::FreeOver {
                fee,
                threshold: Fen(row
                    .try_get::<Option<i64>, _>("threshold_fen")?
                    .unwrap_or(9_900)),
            },
        };
        rules.insert(row.try_get("producer_id")?, rule);
    }
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fees_follow_the_rule() {
        assert_eq!(
            ShippingRule::Flat { fee: Fen(800) }.fee(Fen(100_000), 5_000),
            Fen(800)
        );
        let free = ShippingRule::FreeOver {
            fee: Fen(1_000),
            threshold: Fen(9_900),
        };
        assert_eq!(free.fee(Fen(9_899), 100), Fen(1_000));
        assert_eq!(free.fee(Fen(9_900), 100), Fen::ZERO);
        let weight = ShippingRule::ByWeight {
            first_kg: Fen(1_200),
            per_kg: Fen(500),
        };
        assert_eq!(weight.fee(Fen(1), 1_000), Fen(1_200));
        assert_eq!(weight.fee(Fen(1), 1_001), Fen(1_700));
        assert_eq!(weight.fee(Fen(1), 3_000), Fen(2_200));
    }
}
