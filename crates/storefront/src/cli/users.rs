//! `jinguo user create`: accounts from the command line (the first staff account, scripted
//! set-ups).

use jinguo_common::Clock;

use super::UserCreateArgs;
use crate::settings::Settings;

pub async fn create(settings: Settings, args: UserCreateArgs) -> anyhow::Result<()> {
    let role: jinguo_accounts::Role = args.role.parse().map_err(|_| {
        anyhow::anyhow!(
            "--role is “{}”; it is consumer, producer or staff",
            args.role
        )
    })?;
    // Only the database: a running `serve` may hold the search index.
    let db = jinguo_common::Db::connect(&settings.database_url(), 2).await?;
    db.migrate().await?;
    let producer = match (&args.producer, role) {
        (Some(slug), jinguo_accounts::Role::Producer) => {
            let found =
                jinguo_catalog::producer::by_slug(&mut *db.pool().acquire().await?, slug).await?;
            Some(
                found
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "--producer: no producer has the slug “{slug}” (see /producers)"
                        )
                    })?
                    .id,
            )
        }
        (None, jinguo_accounts::Role::Producer) => {
            anyhow::bail!("--role producer needs --producer SLUG")
        }
        (Some(_), _) => anyhow::bail!("--producer is only for --role producer"),
        (None, _) => None,
    };
    let accounts = jinguo_accounts::Accounts::new(
        db,
        Clock::system(),
        jinguo_accounts::HashCost::Standard,
        jinguo_accounts::Limits::default(),
    );
    let user = accounts
        .register(&args.login, &args.password, role, producer)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "created {} account {} (id {})",
        user.role.as_str(),
        user.login,
        user.id.0
    );
    Ok(())
}
