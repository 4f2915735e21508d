-- The newest ledger entry of an account that is not a charge (a grant or adjustment, from the command line
-- or the API) is one index seek: the server compares it with what its balance in memory includes before each
-- admission, so that entries written by another process are seen before it admits more.
CREATE INDEX ix_ledger_outside ON ledger (account_id, id) WHERE kind <> 'charge';
