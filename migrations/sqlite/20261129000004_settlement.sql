-- Settlement: the double-entry ledger, provider events applied at most once, Stripe payments,
-- payout details, payout batches and payouts. (PostgreSQL's file says the same in its dialect.)

-- One balanced transaction per cause. Entries are added while it is open; sealing it checks that
-- they balance, and after that neither it nor its entries can change.
create table ledger_transactions (
    id integer primary key,
    kind text not null check (kind in ('payment', 'release', 'refund', 'refund_paid',
        'payout', 'payout_paid', 'payout_failed', 'unmatched_payment', 'provider_fee', 'reversal')),
    -- What caused it, e.g. `pay:order:12`; unique, so no cause is posted twice.
    cause text not null unique,
    order_id integer references orders (id),
    part_id integer references order_parts (id),
    refund_id integer references refunds (id),
    payout_id integer,
    producer_id integer references producers (id),
    event_id text,
    reverses_id integer references ledger_transactions (id),
    memo text not null default '',
    created_at integer not null,
    sealed integer not null default 0
);
create index ledger_transactions_order on ledger_transactions (order_id);
create index ledger_transactions_producer on ledger_transactions (producer_id, created_at);

-- Debits are positive, credits negative: a balanced transaction's entries sum to zero.
create table ledger_entries (
    id integer primary key,
    transaction_id integer not null references ledger_transactions (id),
    account text not null,
    amount_fen integer not null check (amount_fen <> 0)
);
create index ledger_entries_transaction on ledger_entries (transaction_id);
create index ledger_entries_account on ledger_entries (account);

create trigger ledger_transactions_no_delete before delete on ledger_transactions
begin
    select raise(abort, 'ledger transactions cannot be deleted; post a reversal');
end;
create trigger ledger_transactions_sealed before update on ledger_transactions
when old.sealed
begin
    select raise(abort, 'ledger transaction is sealed and cannot change; post a reversal');
end;
create trigger ledger_transactions_seal_empty before update on ledger_transactions
when new.sealed and not exists (select 1 from ledger_entries where transaction_id = new.id)
begin
    select raise(abort, 'ledger transaction has no entries');
end;
create trigger ledger_transactions_seal_balanced before update on ledger_transactions
when new.sealed and (select sum(amount_fen) from ledger_entries where transaction_id = new.id) <> 0
begin
    select raise(abort, 'ledger transaction does not balance');
end;
create trigger ledger_entries_no_update before update on ledger_entries
begin
    select raise(abort, 'ledger entries cannot be changed; post a reversal');
end;
create trigger ledger_entries_no_delete before delete on ledger_entries
begin
    select raise(abort, 'ledger entries cannot be changed; post a reversal');
end;
create trigger ledger_entries_sealed before insert on ledger_entries
when (select sealed from ledger_transactions where id = new.transaction_id)
begin
    select raise(abort, 'ledger transaction is sealed');
end;

-- A provider's event (webhook), recorded in the same transaction as its effects.
create table provider_events (
    provider text not null,
    event_id text not null,
    kind text not null,
    order_id integer references orders (id),
    outcome text not null,
    received_at integer not null,
    primary key (provider, event_id)
);

-- The PaymentIntent of an order paid through Stripe.
create table stripe_payments (
    order_id integer primary key references orders (id),
    intent_id text not null unique,
    -- The charge that paid it (`ch_…`), as named in Stripe's balance history.
    charge_id text,
    client_secret text not null,
    status text not null,
    amount_fen integer not null,
    created_at integer not null,
    updated_at integer not null
);

alter table refunds add column provider_ref text;
alter table refunds add column requested_by integer references users (id);
alter table refunds add column done_at integer;

-- Where a producer's money goes: a Stripe connected account or a bank account.
create table payout_details (
    producer_id integer primary key references producers (id),
    method text not null check (method in ('stripe', 'bank')),
    stripe_account text,
    account_name text,
    account_no text,
    bank_name text,
    updated_at integer not null,
    check ((method = 'stripe' and stripe_account is not null)
        or (method = 'bank' and account_name is not null and account_no is not null and bank_name is not null))
);

create table payout_batches (
    id integer primary key,
    created_at integer not null,
    created_by text not null,
    minimum_fen integer not null
);

create table payouts (
    id integer primary key,
    batch_id integer not null references payout_batches (id),
    producer_id integer not null references producers (id),
    amount_fen integer not null check (amount_fen > 0),
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
    created_at integer not null,
    -- When a process took it to send to Stripe; another may take it over 5 minutes later.
    claimed_at integer,
    sent_at integer
);
create index payouts_producer on payouts (producer_id, created_at);
create index payouts_batch on payouts (batch_id);
-- At most one payout per producer waiting to go out.
create unique index payouts_one_open on payouts (producer_id) where status in ('pending', 'sending');

-- A row that `settle` locks so that two runs take turns.
create table settlement_lock (
    id integer primary key check (id = 1),
    runs integer not null
);
insert into settlement_lock (id, runs) values (1, 0);
