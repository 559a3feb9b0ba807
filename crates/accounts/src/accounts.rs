//! The account operations the storefront calls.

use jinguo_common::clock::Millis;
use jinguo_common::{Clock, Db};
use sqlx::Row;

use crate::AccountError;
use crate::login::Login;
use crate::password::{HashCost, Hasher};
use crate::session::{self, Session, SessionKind, Token};
use crate::settings::AccountSettings;
use crate::user::{self, COLUMNS, ProducerId, Role, User, UserId};

/// How sign-ins and registrations are limited. A guesser is stopped by address (for the account
/// it guesses, and over all accounts); an account under attack from many addresses is slowed
/// down, never locked, so that its owner can still sign in from elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Failed sign-ins to one account from one address before that address is refused for it.
    pub per_account_and_address: u32,
    /// Failed sign-ins from one address, whichever accounts it tries, before it is refused.
    pub per_address: u32,
    /// Failed sign-ins to one account from anywhere after which each further try waits: one
    /// second, doubling with each failure, up to `max_delay_ms`.
    pub slowdown_after: u32,
    pub max_delay_ms: Millis,
    /// Registrations tried from one address (made or refused) before it is refused.
    pub registrations_per_address: u32,
    /// The window all of these are counted in.
    pub window_ms: Millis,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            per_account_and_address: 5,
            per_address: 50,
            slowdown_after: 10,
            max_delay_ms: 16_000,
            registrations_per_address: 10,
            window_ms: 15 * 60_000,
        }
    }
}

impl Limits {
    /// How long a try on an account that has had `failures` failures in the window waits.
    pub fn delay_ms(&self, failures: u32) -> Millis {
        if failures < self.slowdown_after {
            return 0;
        }
        let doublings = (failures - self.slowdown_after).min(20);
        (1000_i64 << doublings).min(self.max_delay_ms)
    }
}

#[derive(Clone)]
pub struct Accounts {
    db: Db,
    clock: Clock,
    hasher: Hasher,
    limits: Limits,
    decoy: std::sync::Arc<tokio::sync::OnceCell<String>>,
}

/// A hash of a password nobody has, checked when the login is unknown so that a wrong login
/// takes as long as a wrong password.
const DECOY: &str = "jinguo-decoy-password";

impl Accounts {
    pub fn new(db: Db, clock: Clock, cost: HashCost, limits: Limits) -> Accounts {
        Accounts {
            db,
            clock,
            hasher: Hasher::new(cost),
            limits,
            decoy: Default::default(),
        }
    }

    /// Accounts as the settings say: how passwords are hashed and how sign-ins are limited.
    pub fn from_settings(db: Db, clock: Clock, settings: &AccountSettings) -> Accounts {
        Accounts::new(db, clock, settings.password_hash, settings.limits())
    }

    fn now(&self) -> Millis {
        self.clock.now_ms()
    }

    /// Creates an account. Producer staff name their producer by its catalog id.
    pub async fn register(
        &self,
        login: &str,
        password: &str,
        role: Role,
        producer_id: Option<ProducerId>,
    ) -> Result<User, AccountError> {
        let login = Login::parse(login)?;
        if (role == Role::Producer) != producer_id.is_some() {
            return Err(AccountError::ProducerMismatch);
        }
        let hash = self.hasher.hash(password).await?;
        let now = self.now();
        let inserted = sqlx::query_scalar::<_, i64>(
            "insert into users (login, login_kind, password_hash, role, producer_id, created_at, updated_at)
             values ($1, $2, $3, $4, $5, $6, $6)
             on conflict (login) do nothing returning id",
        )
        .bind(login.as_str())
        .bind(login.kind())
        .bind(&hash)
        .bind(role)
        .bind(producer_id)
        .bind(now)
        .fetch_optional(self.db.pool())
        .await?;
        let id = inserted.ok_or(AccountError::Taken)?;
        let mut conn = self.db.pool().acquire().await?;
        user::by_id(&mut conn, UserId(id))
            .await?
            .ok_or(AccountError::WrongCredentials)
    }

    /// Creates a consumer's account asked for from `address`, which may ask for only so many
    /// within the window (made or refused alike, so that trying logins one after another does not
    /// list who has an account).
    pub async fn register_from(
        &self,
        address: &str,
        login: &str,
        password: &str,
    ) -> Result<User, AccountError> {
        // What can be told wrong without the database does not use up the address's quota.
        Login::parse(login)?;
        Hasher::check_policy(password)?;
        let now = self.now();
        let subject = format!("register:{address}");
        self.check_throttle(&subject, self.limits.registrations_per_address, now)
            .await?;
        self.count_attempt(&subject, self.limits.registrations_per_address, now)
            .await?;
        self.register(login, password, Role::Consumer, None).await
    }

    /// Checks a login and password and opens a session. Refused while this address has had too
    /// many failures, for this account or overall; an account with many failures from anywhere
    /// answers slowly instead (see [`Limits`]).
    pub async fn sign_in(
        &self,
        login: &str,
        password: &str,
        address: &str,
        kind: SessionKind,
    ) -> Result<(User, Token), AccountError> {
        let now = self.now();
        let login = match Login::parse(login) {
            Ok(login) => login,
            Err(AccountError::Invalid(invalid)) => return Err(AccountError::Invalid(invalid)),
            Err(_) => return Err(AccountError::WrongCredentials),
        };
        // No password holds one (the policy refuses them), so this is no guess worth counting.
        Hasher::check_no_control(password)?;
        let pair_subject = format!("pair:{}|{address}", login.as_str());
        let address_subject = format!("addr:{address}");
        let login_subject = format!("login:{}", login.as_str());
        self.check_throttle(&pair_subject, self.limits.per_account_and_address, now)
            .await?;
        self.check_throttle(&address_subject, self.limits.per_address, now)
            .await?;

        // The attempt counts before the (slow) check of the password, so that many guesses sent
        // at once cannot all pass the limit: only the first ones in line are checked.
        self.count_attempt(&pair_subject, self.limits.per_account_and_address, now)
            .await?;
        let address_attempt = self
            .count_attempt(&address_subject, self.limits.per_address, now)
            .await?;
        let login_attempt = self.count_attempt(&login_subject, u32::MAX, now).await?;

        // Failures from elsewhere slow this account down (the guesses already in line count).
        let failures: i64 = sqlx::query_scalar(
            "select count(*) from login_failures where subject = $1 and at > $2 and id < $3",
        )
        .bind(&login_subject)
        .bind(now - self.limits.window_ms)
        .bind(login_attempt)
        .fetch_one(self.db.pool())
        .await?;
        let delay = self
            .limits
            .delay_ms(u32::try_from(failures).unwrap_or(u32::MAX));
        if delay > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(delay as u64)).await;
        }

        let found = {
            let mut conn = self.db.pool().acquire().await?;
            user::with_hash(&mut conn, login.as_str()).await?
        };
        let matches = match &found {
            Some((_, hash)) => self.hasher.verify(password, hash).await?,
            None => {
                let decoy = self
                    .decoy
                    .get_or_try_init(|| self.hasher.hash(DECOY))
                    .await?;
                let _ = self.hasher.verify(password, decoy).await;
                false
            }
        };
        match found {
            Some((user, _)) if matches => {
                let mut tx = self.db.begin_write().await?;
                // This address is trusted with this account again; this try was no failure.
                // Failures from other addresses stand: they still slow the account down.
                sqlx::query("delete from login_failures where subject = $1 or id in ($2, $3)")
                    .bind(&pair_subject)
                    .bind(address_attempt)
                    .bind(login_attempt)
                    .execute(&mut *tx)
                    .await?;
                let (token, _) = session::create(&mut tx, kind, Some(user.id), now).await?;
                tx.commit().await?;
                Ok((user, token))
            }
            _ => {
                // The attempt rows already stand as failures.
                let mut tx = self.db.begin_write().await?;
                sqlx::query("delete from login_failures where at < $1")
                    .bind(now - self.limits.window_ms)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Err(AccountError::WrongCredentials)
            }
        }
    }

    /// Refuses when `subject` has had `limit` attempts in the window, saying when to try again.
    async fn check_throttle(
        &self,
        subject: &str,
        limit: u32,
        now: Millis,
    ) -> Result<(), AccountError> {
        let row = sqlx::query(
            "select count(*) as n, min(at) as oldest from login_failures where subject = $1 and at > $2",
        )
        .bind(subject)
        .bind(now - self.limits.window_ms)
        .fetch_one(self.db.pool())
        .await?;
        let n: i64 = row.try_get("n")?;
        if n >= i64::from(limit) {
            let oldest: Option<i64> = row.try_get("oldest")?;
            let retry = oldest.unwrap_or(now) + self.limits.window_ms - now;
            return Err(AccountError::Throttled {
                retry_after_secs: (retry / 1000).max(1),
            });
        }
        Ok(())
    }

    /// Records an attempt under `subject` and refuses it when more than `limit` came before it
    /// in the window (attempts sent at once are ordered by their row ids).
    async fn count_attempt(
        &self,
        subject: &str,
        limit: u32,
        now: Millis,
    ) -> Result<i64, AccountError> {
        let id: i64 = sqlx::query_scalar(
            "insert into login_failures (subject, at) values ($1, $2) returning id",
        )
        .bind(subject)
        .bind(now)
        .fetch_one(self.db.pool())
        .await?;
        if limit == u32::MAX {
            return Ok(id);
        }
        let ahead: i64 = sqlx::query_scalar(
            "select count(*) from login_failures where subject = $1 and at > $2 and id <= $3",
        )
        .bind(subject)
        .bind(now - self.limits.window_ms)
        .bind(id)
        .fetch_one(self.db.pool())
        .await?;
        if ahead > i64::from(limit) {
            return Err(AccountError::Throttled {
                retry_after_secs: (self.limits.window_ms / 1000).max(1),
            });
        }
        Ok(id)
    }

    /// A session for a visitor who has not signed in (to hold a cart).
    pub async fn guest_session(&self) -> Result<(Token, Session), AccountError> {
        let now = self.now();
        let mut conn = self.db.pool().acquire().await?;
        let (token, _) = session::create(&mut conn, SessionKind::Web, None, now).await?;
        let session = session::find(&mut conn, &token, now)
            .await?
            .ok_or(AccountError::WrongCredentials)?;
        Ok((token, session))
    }

    /// The live session behind a token, if any.
    pub async fn session(&self, token: &Token) -> Result<Option<Session>, AccountError> {
        let mut conn = self.db.pool().acquire().await?;
        Ok(session::find(&mut conn, token, self.now()).await?)
    }

    pub async fn sign_out(&self, token: &Token) -> Result<(), AccountError> {
        let mut conn = self.db.pool().acquire().await?;
        Ok(session::delete(&mut conn, token).await?)
    }

    /// Changes a password after checking the old one; every other session of the user ends.
    pub async fn change_password(
        &self,
        user: UserId,
        old: &str,
        new: &str,
        keep: Option<&Token>,
    ) -> Result<(), AccountError> {
        let mut conn = self.db.pool().acquire().await?;
        let hash: Option<String> =
            sqlx::query_scalar("select password_hash from users where id = $1")
                .bind(user.0)
                .fetch_optional(&mut *conn)
                .await?;
        let hash = hash.ok_or(AccountError::WrongCredentials)?;
        Hasher::check_no_control(old)?;
        if !self.hasher.verify(old, &hash).await? {
            return Err(AccountError::WrongCredentials);
        }
        let new_hash = self.hasher.hash(new).await?;
        let mut tx = self.db.begin_write().await?;
        sqlx::query("update users set password_hash = $1, updated_at = $2 where id = $3")
            .bind(&new_hash)
            .bind(self.now())
            .bind(user.0)
            .execute(&mut *tx)
            .await?;
        session::delete_others(&mut tx, user, keep).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn user(&self, id: UserId) -> Result<Option<User>, AccountError> {
        let mut conn = self.db.pool().acquire().await?;
        Ok(user::by_id(&mut conn, id).await?)
    }

    /// The logins of these users (one query, for lists of orders).
    pub async fn logins(
        &self,
        ids: &[UserId],
    ) -> Result<std::collections::HashMap<UserId, String>, AccountError> {
        if ids.is_empty() {
            return Ok(Default::default());
        }
        let mut sql = jinguo_common::db::SqlBuf::new("select id, login from users where id in ");
        sql.bind_list(ids.iter().map(|id| id.0));
        let rows = sql.query().fetch_all(self.db.pool()).await?;
        rows.iter()
            .map(|r| Ok((UserId(r.try_get("id")?), r.try_get("login")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    pub async fn by_login(&self, login: &str) -> Result<Option<User>, AccountError> {
        let login = Login::parse(login)?;
        let sql = format!("select {COLUMNS} from users u where u.login = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(login.as_str())
            .fetch_optional(self.db.pool())
            .await?;
        Ok(row.as_ref().map(user::from_row).transpose()?)
    }
}
