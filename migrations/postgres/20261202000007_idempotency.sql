-- Requests an account may send twice (an API call with an Idempotency-Key, a form with its
-- single-use token): the first one's answer, kept a day for replay. `status` is null while the
-- first one runs; `lease_until` lets another process take over from one that died.
create table idempotent_requests (
    id bigint generated always as identity primary key,
    user_id bigint not null references users (id) on delete cascade,
    key text not null,
    -- A hash of the method, path and body: the same key with another request is refused.
    fingerprint text not null,
    status bigint,
    content_type text,
    location text,
    body text,
    created_at bigint not null,
    lease_until bigint not null,
    unique (user_id, key)
);
create index idempotent_requests_age on idempotent_requests (created_at);
