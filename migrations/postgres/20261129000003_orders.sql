-- Orders: carts, addresses, delivery restrictions, shipping rules, orders split into one part
-- per producer, stock reservations, the history of every change, bank transfers, refunds owed,
-- and notifications.

-- A guest's cart (by session) or a signed-in buyer's.
create table carts (
    id bigint generated always as identity primary key,
    session_id bigint unique references sessions (id) on delete cascade,
    user_id bigint unique references users (id) on delete cascade,
    updated_at bigint not null,
    check ((session_id is null) <> (user_id is null))
);

create table cart_items (
    cart_id bigint not null references carts (id) on delete cascade,
    sku_id bigint not null references skus (id) on delete cascade,
    quantity bigint not null check (quantity between 1 and 99),
    -- The price when it went into the cart, so the cart can say when it changed.
    price_seen_fen bigint not null,
    added_at bigint not null,
    primary key (cart_id, sku_id)
);

create table addresses (
    id bigint generated always as identity primary key,
    user_id bigint not null references users (id) on delete cascade,
    recipient text not null,
    phone text not null,
    region_code text not null check (length(region_code) = 6),
    detail text not null,
    created_at bigint not null
);
create index addresses_user on addresses (user_id);

-- Per province (2 digits), city (4) or district (6): the most specific one applies.
create table delivery_restrictions (
    region_code text primary key check (length(region_code) in (2, 4, 6)),
    level text not null check (level in ('normal', 'restricted', 'suspended')),
    notice text not null default '',
    updated_by bigint references users (id),
    updated_at bigint not null
);

-- How a producer charges for shipping its part of an order.
create table shipping_rules (
    producer_id bigint primary key references producers (id),
    kind text not null check (kind in ('flat', 'free_over', 'by_weight')),
    -- flat: the fee; free_over: the fee below the threshold; by_weight: the first kilogram.
    fee_fen bigint not null check (fee_fen >= 0),
    threshold_fen bigint check (threshold_fen is null or threshold_fen > 0),
    per_kg_fen bigint check (per_kg_fen is null or per_kg_fen >= 0),
    updated_at bigint not null,
    check (kind <> 'free_over' or threshold_fen is not null),
    check (kind <> 'by_weight' or per_kg_fen is not null)
);

create table orders (
    id bigint generated always as identity primary key,
    number text not null unique,
    user_id bigint not null references users (id),
    status text not null check (status in ('awaiting_payment', 'paid', 'cancelled', 'completed')),
    recipient text not null,
    phone text not null,
    region_code text not null,
    address_detail text not null,
    items_fen bigint not null check (items_fen > 0),
    shipping_fen bigint not null check (shipping_fen >= 0),
    total_fen bigint not null,
    payment_method text not null check (payment_method in ('bank_transfer', 'stripe')),
    payment_reference text not null unique,
    expires_at bigint not null,
    paid_at bigint,
    created_at bigint not null,
    updated_at bigint not null,
    check (total_fen = items_fen + shipping_fen)
);
create index orders_user on orders (user_id, id);
create index orders_due on orders (status, expires_at);

create table order_parts (
    id bigint generated always as identity primary key,
    order_id bigint not null references orders (id),
    producer_id bigint not null references producers (id),
    status text not null check (status in ('pending', 'to_ship', 'shipped', 'delivered',
        'return_requested', 'returned', 'completed', 'cancelled')),
    items_fen bigint not null,
    shipping_fen bigint not null,
    carrier text,
    tracking_no text,
    shipped_at bigint,
    delivered_at bigint,
    unique (order_id, producer_id)
);
create index order_parts_producer on order_parts (producer_id, status);
create index order_parts_due on order_parts (status, shipped_at);

create table order_lines (
    id bigint generated always as identity primary key,
    order_id bigint not null references orders (id),
    part_id bigint not null references order_parts (id),
    sku_id bigint not null references skus (id),
    product_slug text not null,
    title text not null,
    sku_name text not null,
    unit_price_fen bigint not null check (unit_price_fen > 0),
    quantity bigint not null check (quantity > 0),
    line_fen bigint not null,
    check (line_fen = unit_price_fen * quantity)
);
create index order_lines_order on order_lines (order_id);

-- Units an order took from stock: held while unpaid, sold once paid, released when given back.
create table stock_reservations (
    id bigint generated always as identity primary key,
    order_id bigint not null references orders (id),
    sku_id bigint not null references skus (id),
    quantity bigint not null check (quantity > 0),
    status text not null check (status in ('held', 'sold', 'released')),
    updated_at bigint not null
);
create index reservations_order on stock_reservations (order_id);
create index reservations_sku on stock_reservations (sku_id, status);

-- Who changed what, when, from what, to what, and why.
create table order_events (
    id bigint generated always as identity primary key,
    order_id bigint not null references orders (id),
    part_id bigint references order_parts (id),
    actor text not null check (actor in ('buyer', 'producer', 'staff', 'system')),
    actor_id bigint,
    from_status text,
    to_status text not null,
    reason text not null default '',
    at bigint not null
);
create index order_events_order on order_events (order_id, id);

-- Transfers staff recorded from the bank statement. A wrong amount is kept, flagged, not accepted.
create table bank_transfers (
    id bigint generated always as identity primary key,
    order_id bigint references orders (id),
    reference text not null,
    amount_fen bigint not null check (amount_fen > 0),
    received_on text not null check (length(received_on) = 10),
    outcome text not null check (outcome in ('accepted', 'flagged')),
    note text not null default '',
    recorded_by bigint not null references users (id),
    recorded_at bigint not null
);
create index bank_transfers_reference on bank_transfers (reference);

-- Money owed back to a buyer (a cancelled paid order, an accepted return), paid out by settlement.
create table refunds (
    id bigint generated always as identity primary key,
    order_id bigint not null references orders (id),
    part_id bigint references order_parts (id),
    amount_fen bigint not null check (amount_fen > 0),
    status text not null check (status in ('pending', 'done')),
    reason text not null default '',
    created_at bigint not null
);
create index refunds_order on refunds (order_id);

create table notifications (
    id bigint generated always as identity primary key,
    user_id bigint not null references users (id) on delete cascade,
    order_id bigint references orders (id),
    -- A key in the locale files' [notifications] section, with its values as JSON.
    kind text not null,
    args text not null default '{}',
    created_at bigint not null,
    read_at bigint,
    emailed_at bigint,
    -- A process sending the email holds it until then (several processes may send).
    email_lease_until bigint
);
create index notifications_user on notifications (user_id, id);
create index notifications_unsent on notifications (id) where emailed_at is null;
