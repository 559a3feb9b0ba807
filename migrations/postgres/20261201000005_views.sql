-- Views a crate publishes so that others read its tables through it (README: who owns what).

-- accounts: the address of each account that signs in by email, for notification emails.
create view account_emails as
    select id as user_id, login as email from users where login_kind = 'email';
