-- Accounts: people who sign in (consumers, producer staff, federation staff), their sessions and
-- API tokens, and failed sign-ins for throttling.

create table users (
    id integer primary key,
    -- An email address (lowercase) or a mainland mobile number (11 digits).
    login text not null unique,
    login_kind text not null check (login_kind in ('email', 'phone')),
    password_hash text not null,
    role text not null check (role in ('consumer', 'producer', 'staff')),
    -- Producer staff work for exactly one producer; nobody else has one.
    producer_id integer references producers (id),
    display_name text not null default '',
    created_at integer not null,
    updated_at integer not null,
    check ((role = 'producer') = (producer_id is not null))
);

-- A browser session (cookie) or an API token. Only a hash of the secret is stored. Guest sessions
-- (no user) hold a cart.
create table sessions (
    id integer primary key,
    token_hash text not null unique,
    kind text not null check (kind in ('web', 'api')),
    user_id integer references users (id) on delete cascade,
    created_at integer not null,
    expires_at integer not null,
    last_seen_at integer not null
);
create index sessions_user on sessions (user_id);
create index sessions_expiry on sessions (expires_at);

-- Failed sign-ins, by account and by address, for throttling; old rows are pruned.
create table login_failures (
    id integer primary key,
    subject text not null,
    at integer not null
);
create index login_failures_subject on login_failures (subject, at);
