-- Catalog: categories, producers, products, SKUs, images, batches with provenance codes,
-- and the outbox that keeps the search index in step.

create table images (
    id integer primary key,
    sha256 text not null unique,
    width integer not null check (width > 0),
    height integer not null check (height > 0),
    created_at integer not null
);

-- Each image re-encoded once per display size, so a page downloads what it shows.
create table image_variants (
    image_id integer not null references images (id) on delete cascade,
    size text not null check (size in ('thumb', 'card', 'large')),
    width integer not null,
    height integer not null,
    content_type text not null,
    bytes blob not null,
    primary key (image_id, size)
);

create table categories (
    id integer primary key,
    slug text not null unique,
    name text not null,
    name_en text not null default '',
    position integer not null default 0
);

create table producers (
    id integer primary key,
    slug text not null unique,
    kind text not null check (kind in ('workshop', 'base', 'cooperative', 'household')),
    name text not null,
    name_en text not null default '',
    district_code text not null check (length(district_code) = 6),
    township text not null default '',
    village text not null default '',
    story text not null default '',
    story_en text not null default '',
    verified integer not null default 0 check (verified in (0, 1)),
    certification_no text,
    certified_until text check (certified_until is null or length(certified_until) = 10),
    women_employed integer not null default 0 check (women_employed >= 0),
    founded_year integer,
    image_id integer references images (id),
    created_at integer not null,
    updated_at integer not null
);
create index producers_district on producers (district_code);

create table products (
    id integer primary key,
    slug text not null unique,
    producer_id integer not null references producers (id),
    category_id integer not null references categories (id),
    title text not null,
    title_en text not null default '',
    description text not null default '',
    description_en text not null default '',
    unit text not null,
    origin text not null default '',
    shelf_life_days integer check (shelf_life_days is null or shelf_life_days > 0),
    -- Short searchable labels, separated by commas.
    tags text not null default '',
    status text not null default 'published' check (status in ('draft', 'published', 'unpublished')),
    featured integer not null default 0 check (featured in (0, 1)),
    handicraft integer not null default 0 check (handicraft in (0, 1)),
    sales integer not null default 0 check (sales >= 0),
    created_at integer not null,
    updated_at integer not null
);
create index products_category on products (category_id, status);
create index products_producer on products (producer_id, status);
create index products_created on products (created_at);

create table product_images (
    product_id integer not null references products (id) on delete cascade,
    image_id integer not null references images (id),
    position integer not null default 0,
    primary key (product_id, image_id)
);

create table skus (
    id integer primary key,
    product_id integer not null references products (id) on delete cascade,
    name text not null,
    price_fen integer not null check (price_fen > 0),
    stock integer not null check (stock >= 0),
    weight_g integer not null default 0 check (weight_g >= 0),
    position integer not null default 0,
    unique (product_id, name)
);
create index skus_product on skus (product_id);

-- One batch of one product, and the short public code printed on its packages (/trace/{code}).
create table batches (
    id integer primary key,
    code text not null unique,
    product_id integer not null references products (id) on delete cascade,
    batch_no text not null,
    produced_on text not null check (length(produced_on) = 10),
    site text not null default '',
    quantity integer check (quantity is null or quantity >= 0),
    note text not null default '',
    created_at integer not null,
    unique (product_id, batch_no)
);

-- A product whose search document changed, written in the same transaction as the change and
-- deleted once the search backend has the new document.
create table search_outbox (
    id integer primary key,
    product_id integer not null,
    created_at integer not null,
    attempts integer not null default 0,
    next_attempt_at integer not null default 0,
    last_error text
);
create index search_outbox_due on search_outbox (next_attempt_at);
