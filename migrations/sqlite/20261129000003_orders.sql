-- Orders: carts, addresses, delivery restrictions, shipping rules, orders split into one part
-- per producer, stock reservations, the history of every change, bank transfers, refunds owed,
-- and notifications.

-- A guest's cart (by session) or a signed-in buyer's.
create table carts (
    id integer primary key,
    session_id integer unique references sessions (id) on delete cascade,
    user_id integer unique references users (id) on delete cascade,
    updated_at integer not null,
    check ((session_id is null) <> (user_id is null))
);

create table cart_items (
    cart_id integer not null references carts (id) on delete cascade,
    sku_id integer not null references skus (id) on delete cascade,
    quantity integer not null check (quantity between 1 and 99),
    -- The price when it went into the cart, so the cart can say when it changed.
    price_seen_fen integer not null,
    added_at integer not null,
    primary key (cart_id, sku_id)
);

create table addresses (
    id integer primary key,
    user_id integer not null references users (id) on delete cascade,
    recipient text not null,
    phone text not null,
    region_code text not null check (length(region_code) = 6),
    detail text not null,
    created_at integer not null
);
create index addresses_user on addresses (user_id);

-- Per province (2 digits), city (4) or district (6): the most specific one applies.
create table delivery_restrictions (
    region_code text primary key check (length(region_code) in (2, 4, 6)),
    level text not null check (level in ('normal', 'restricted', 'suspended')),
    notice text not null default '',
    updated_by integer references users (id),
    updated_at integer not null
);

-- How a producer charges for shipping its part of an order.
create table shipping_rules (
    producer_id integer primary key references producers (id),
    kind text not null check (kind in ('flat', 'free_over', 'by_weight')),
    -- flat: the fee; free_over: the fee below the threshold; by_weight: the first kilogram.
    fee_fen integer not null check (fee_fen >= 0),
    threshold_fen integer check (threshold_fen is null or threshold_fen > 0),
    per_kg_fen integer check (per_kg_fen is null or per_kg_fen >= 0),
    updated_at integer not null,
    check (kind <> 'free_over' or threshold_fen is not null),
    check (kind <> 'by_weight' or per_kg_fen is not null)
);

create table orders (
    id integer primary key,
    number text not null unique,
    user_id integer not null references users (id),
    status text not null check (status in ('awaiting_payment', 'paid', 'cancelled', 'completed')),
    recipient text not null,
    phone text not null,
    region_code text not null,
    address_detail text not null,
    items_fen integer not null check (items_fen > 0),
    shipping_fen integer not null check (shipping_fen >= 0),
    total_fen integer not null,
    payment_method text not null check (payment_method in ('bank_transfer', 'stripe')),
    payment_reference text not null unique,
    expires_at integer not null,
    paid_at integer,
    created_at integer not null,
    updated_at integer not null,
    check (total_fen = items_fen + shipping_fen)
);
create index orders_user on orders (user_id, id);
create index orders_due on orders (status, expires_at);

create table order_parts (
    id integer primary key,
    order_id integer not null references orders (id),
    producer_id integer not null references producers (id),
    status text not null check (status in ('pending', 'to_ship', 'shipped', 'delivered',
        'return_requested', 'returned', 'completed', 'cancelled')),
    items_fen integer not null,
    shipping_fen integer not null,
    carrier text,
    tracking_no text,
    shipped_at integer,
    delivered_at integer,
    unique (order_id, producer_id)
);
create index order_parts_producer on order_parts (producer_id, status);
create index order_parts_due on order_parts (status, shipped_at);

create table order_lines (
    id integer primary key,
    order_id integer not null references orders (id),
    part_id integer not null references order_parts (id),
    sku_id integer not null references skus (id),
    product_slug text not null,
    title text not null,
    sku_name text not null,
    unit_price_fen integer not null check (unit_price_fen > 0),
    quantity integer not null check (quantity > 0),
    line_fen integer not null,
    check (line_fen = unit_price_fen * quantity)
);
create index order_lines_order on order_lines (order_id);

-- Units an order took from stock: held while unpaid, sold once paid, released when given back.
create table stock_reservations (
    id integer primary key,
    order_id integer not null references orders (id),
    sku_id integer not null references skus (id),
    quantity integer not null check (quantity > 0),
    status text not null check (status in ('held', 'sold', 'released')),
    updated_at integer not null
);
create index reservations_order on stock_reservations (order_id);
create index reservations_sku on stock_reservations (sku_id, status);

-- Who changed what, when, from what, to what, and why.
create table order_events (
    id integer primary key,
    order_id integer not null references orders (id),
    part_id integer references order_parts (id),
    actor text not null check (actor in ('buyer', 'producer', 'staff', 'system')),
    actor_id integer,
    from_status text,
    to_status text not null,
    reason text not null default '',
    at integer not null
);
create index order_events_order on order_events (order_id, id);

-- Transfers staff recorded from the bank statement. A wrong amount is kept, flagged, not accepted.
create table bank_transfers (
    id integer primary key,
    order_id integer references orders (id),
    reference text not null,
    amount_fen integer not null check (amount_fen > 0),
    received_on text not null check (length(received_on) = 10),
    outcome text not null check (outcome in ('accepted', 'flagged')),
    note text not null default '',
    recorded_by integer not null references users (id),
    recorded_at integer not null
);
create index bank_transfers_reference on bank_transfers (reference);

-- Money owed back to a buyer (a cancelled paid order, an accepted return), paid out by settlement.
create table refunds (
    id integer primary key,
    order_id integer not null references orders (id),
    part_id integer references order_parts (id),
    amount_fen integer not null check (amount_fen > 0),
    status text not null check (status in ('pending', 'done')),
    reason text not null default '',
    created_at integer not null
);
create index refunds_order on refunds (order_id);

create table notifications (
    id integer primary key,
    user_id integer not null references users (id) on delete cascade,
    order_id integer references orders (id),
    -- A key in the locale files' [notifications] section, with its values as JSON.
    kind text not null,
    args text not null default '{}',
    created_at integer not null,
    read_at integer,
    emailed_at integer,
    -- A process sending the email holds it until then (several processes may send).
    email_lease_until integer
);
create index notifications_user on notifications (user_id, id);
create index notifications_unsent on notifications (id) where emailed_at is null;
