-- Fill an empty, migrated LightTech database with a consistent ledger for timing
-- verify_ledger: :pairs pairs of users, :rounds rounds each, 4 operations per round
-- (A deposits 10.00, A sends 5.00 to B, B withdraws 2.00), so 4 * pairs * rounds rows.
--   psql -v pairs=5000 -v rounds=50 -d <scratch db> -f scripts/ledger_fill.sql
-- Never run it against a database holding real money: it inserts users and operations.
\set ON_ERROR_STOP on
BEGIN;
INSERT INTO authapp_user (id, password, is_superuser, username, first_name, last_name,
                          email, is_staff, is_active, date_joined)
SELECT u, '!', false, 'fill' || u, '', '', '', false, true, now()
FROM generate_series(1, 2 * :pairs) AS u;
SELECT setval(pg_get_serial_sequence('authapp_user', 'id'), 2 * :pairs);

-- User 2p-1 is A of pair p, user 2p is B. After r rounds A holds 5r and B holds 3r.
INSERT INTO balance_balance (user_id, amount)
SELECT 2 * p - 1, 5 * :rounds FROM generate_series(1, :pairs) AS p
UNION ALL
SELECT 2 * p, 3 * :rounds FROM generate_series(1, :pairs) AS p;

-- Ids grow with (pair, round, step), so each owner's id order is its chain order.
INSERT INTO balance_operation (id, owner_id, type, amount, balance_after, counterparty_id,
                               transfer_id, description, created_at)
SELECT ((p - 1) * :rounds + r - 1) * 4 + s,
       CASE WHEN s IN (1, 2) THEN 2 * p - 1 ELSE 2 * p END,
       (ARRAY['deposit', 'transfer_out', 'transfer_in', 'withdraw'])[s],
       (ARRAY[10, 5, 5, 2])[s]::numeric(18, 2),
       (ARRAY[5 * r + 5, 5 * r, 3 * r + 2, 3 * r])[s]::numeric(18, 2),
       CASE s WHEN 2 THEN 2 * p WHEN 3 THEN 2 * p - 1 END,
       CASE WHEN s IN (2, 3) THEN md5(p || '-' || r)::uuid END,
       '',
       now()
FROM generate_series(1, :pairs) AS p,
     generate_series(1, :rounds) AS r,
     generate_series(1, 4) AS s;
SELECT setval(pg_get_serial_sequence('balance_operation', 'id'), 4 * :pairs * :rounds);
COMMIT;
ANALYZE authapp_user;
ANALYZE balance_balance;
ANALYZE balance_operation;
