-- An order paid by bank transfer holds its stock for days; its buyer is reminded once, a day
-- before the hold ends. (The same in both dialects.)
alter table orders add column payment_reminded_at integer;
