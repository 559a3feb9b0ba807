-- Settlement: the double-entry ledger, provider events applied at most once, Stripe payments,
-- payout details, payout batches and payouts.

-- One balanced transaction per cause. Entries are added while it is open; sealing it checks that
-- they balance, and after that neither it nor its entries can change.
create table ledger_transactions (
    id bigint generated always as identity primary key,
    kind text not null check (kind in ('payment', 'release', 'refund', 'refund_paid',
        'payout', 'payout_paid', 'payout_failed', 'unmatched_payment', 'provider_fee', 'reversal')),
    -- What caused it, e.g. `pay:order:12`; unique, so no cause is posted twice.
    cause text not null unique,
    order_id bigint references orders (id),
    part_id bigint references order_parts (id),
    refund_id bigint references refunds (id),
    payout_id bigint,
    producer_id bigint references producers (id),
    event_id text,
    reverses_id bigint references ledger_transactions (id),
    memo text not null default '',
    created_at bigint not null,
    sealed boolean not null default false
);
create index ledger_transactions_order on ledger_transactions (order_id);
create index ledger_transactions_producer on ledger_transactions (producer_id, created_at);

-- Debits are positive, credits negative: a balanced transaction's entries sum to zero.
create table ledger_entries (
    id bigint generated always as identity primary key,
    transaction_id bigint not null references ledger_transactions (id),
    account text not null,
    amount_fen bigint not null check (amount_fen <> 0)
);
create index ledger_entries_transaction on ledger_entries (transaction_id);
create index ledger_entries_account on ledger_entries (account);

create function ledger_transaction_guard() returns trigger language plpgsql as $$
begin
    if tg_op = 'DELETE' then
        raise exception 'ledger transaction % cannot be deleted; post a reversal', old.id;
    end if;
    if old.sealed then
        raise exception 'ledger transaction % is sealed and cannot change; post a reversal', old.id;
    end if;
    if new.sealed then
        if not exists (select 1 from ledger_entries where transaction_id = new.id) then
            raise exception 'ledger transaction % has no entries', new.id;
        end if;
        if (select sum(amount_fen) from ledger_entries where transaction_id = new.id) <> 0 then
            raise exception 'ledger transaction % does not balance', new.id;
        end if;
    end if;
    return new;
end $$;
create trigger ledger_transactions_guard before update or delete on ledger_transactions
    for each row execute function ledger_transaction_guard();

create function ledger_entry_guard() returns trigger language plpgsql as $$
begin
    if tg_op <> 'INSERT' then
        raise exception 'ledger entries cannot be changed; post a reversal';
    end if;
    if (select sealed from ledger_transactions where id = new.transaction_id) then
        raise exception 'ledger transaction % is sealed', new.transaction_id;
    end if;
    return new;
end $$;
create trigger ledger_entries_guard before insert or update or delete on ledger_entries
    for each row execute function ledger_entry_guard();

-- A provider's event (webhook), recorded in the same transaction as its effects.
create table provider_events (
    provider text not null,
    event_id text not null,
    kind text not null,
    order_id bigint references orders (id),
    outcome text not null,
    received_at bigint not null,
    primary key (provider, event_id)
);

-- The PaymentIntent of an order paid through Stripe.
create table stripe_payments (
    order_id bigint primary key references orders (id),
    intent_id text not null unique,
    -- The charge that paid it (`ch_…`), as named in Stripe's balance history.
    charge_id text,
    client_secret text not null,
    status text not null,
    amount_fen bigint not null,
    created_at bigint not null,
    updated_at bigint not null
);

alter table refunds add column provider_ref text;
alter table refunds add column requested_by bigint references users (id);
alter table refunds add column done_at bigint;

-- Where a producer's money goes: a Stripe connected account or a bank account.
create table payout_details (
    producer_id bigint primary key references producers (id),
    method text not null check (method in ('stripe', 'bank')),
    stripe_account text,
    account_name text,
    account_no text,
    bank_name text,
    updated_at bigint not null,
    check ((method = 'stripe' and stripe_account is not null)
        or (method = 'bank' and account_name is not null and account_no is not null and bank_name is not null))
);

create table payout_batches (
    id bigint generated always as identity primary key,
    created_at bigint not null,
    created_by text not null,
    minimum_fen bigint not null
);

create table payouts (
    id bigint generated always as identity primary key,
    batch_id bigint not null references payout_batches (id),
    producer_id bigint not null references producers (id),
    amount_fen bigint not null check (amount_fen > 0),
    method text not null check (method in ('stripe', 'bank')),
    -- pending: booked, not sent; sending: a process is calling Stripe; sent: the transfer exists
    -- or staff marked the bank transfer paid; failed: not sent, the money is back in the payable.
    status text not null check (status in ('pending', 'sending', 'sent', 'failed')),
    -- Where it goes, as the producer's details said when it was booked: the Stripe account, or
    -- the bank account number with its holder and bank (later edits do not redirect it).
    destination text not null,
    account_name text,
    bank_name text,
    provider_ref text,
    note text not null default '',
    created_at bigint not null,
    -- When a process took it to send to Stripe; another may take it over 5 minutes later.
    claimed_at bigint,
    sent_at bigint
);
create index payouts_producer on payouts (producer_id, created_at);
create index payouts_batch on payouts (batch_id);
-- At most one payout per producer waiting to go out.
create unique index payouts_one_open on payouts (producer_id) where status in ('pending', 'sending');

-- A row that `settle` locks so that two runs take turns.
create table settlement_lock (
    id integer primary key check (id = 1),
    runs bigint not null
);
insert into settlement_lock (id, runs) values (1, 0);
