-- Catalog: categories, producers, products, SKUs, images, batches with provenance codes,
-- and the outbox that keeps the search index in step.

create table images (
    id bigint generated always as identity primary key,
    sha256 text not null unique,
    width bigint not null check (width > 0),
    height bigint not null check (height > 0),
    created_at bigint not null
);

-- Each image re-encoded once per display size, so a page downloads what it shows.
create table image_variants (
    image_id bigint not null references images (id) on delete cascade,
    size text not null check (size in ('thumb', 'card', 'large')),
    width bigint not null,
    height bigint not null,
    content_type text not null,
    bytes bytea not null,
    primary key (image_id, size)
);

create table categories (
    id bigint generated always as identity primary key,
    slug text not null unique,
    name text not null,
    name_en text not null default '',
    position bigint not null default 0
);

create table producers (
    id bigint generated always as identity primary key,
    slug text not null unique,
    kind text not null check (kind in ('workshop', 'base', 'cooperative', 'household')),
    name text not null,
    name_en text not null default '',
    district_code text not null check (length(district_code) = 6),
    township text not null default '',
    village text not null default '',
    story text not null default '',
    story_en text not null default '',
    verified boolean not null default false,
    certification_no text,
    certified_until text check (certified_until is null or length(certified_until) = 10),
    women_employed bigint not null default 0 check (women_employed >= 0),
    founded_year bigint,
    image_id bigint references images (id),
    created_at bigint not null,
    updated_at bigint not null
);
create index producers_district on producers (district_code);

create table products (
    id bigint generated always as identity primary key,
    slug text not null unique,
    producer_id bigint not null references producers (id),
    category_id bigint not null references categories (id),
    title text not null,
    title_en text not null default '',
    description text not null default '',
    description_en text not null default '',
    unit text not null,
    origin text not null default '',
    shelf_life_days bigint check (shelf_life_days is null or shelf_life_days > 0),
    -- Short searchable labels, separated by commas.
    tags text not null default '',
    status text not null default 'published' check (status in ('draft', 'published', 'unpublished')),
    featured boolean not null default false,
    handicraft boolean not null default false,
    sales bigint not null default 0 check (sales >= 0),
    created_at bigint not null,
    updated_at bigint not null
);
create index products_category on products (category_id, status);
create index products_producer on products (producer_id, status);
create index products_created on products (created_at);

create table product_images (
    product_id bigint not null references products (id) on delete cascade,
    image_id bigint not null references images (id),
    position bigint not null default 0,
    primary key (product_id, image_id)
);

create table skus (
    id bigint generated always as identity primary key,
    product_id bigint not null references products (id) on delete cascade,
    name text not null,
    price_fen bigint not null check (price_fen > 0),
    stock bigint not null check (stock >= 0),
    weight_g bigint not null default 0 check (weight_g >= 0),
    position bigint not null default 0,
    unique (product_id, name)
);
create index skus_product on skus (product_id);

-- One batch of one product, and the short public code printed on its packages (/trace/{code}).
create table batches (
    id bigint generated always as identity primary key,
    code text not null unique,
    product_id bigint not null references products (id) on delete cascade,
    batch_no text not null,
    produced_on text not null check (length(produced_on) = 10),
    site text not null default '',
    quantity bigint check (quantity is null or quantity >= 0),
    note text not null default '',
    created_at bigint not null,
    unique (product_id, batch_no)
);

-- A product whose search document changed, written in the same transaction as the change and
-- deleted once the search backend has the new document.
create table search_outbox (
    id bigint generated always as identity primary key,
    product_id bigint not null,
    created_at bigint not null,
    attempts bigint not null default 0,
    next_attempt_at bigint not null default 0,
    last_error text
);
create index search_outbox_due on search_outbox (next_attempt_at);
