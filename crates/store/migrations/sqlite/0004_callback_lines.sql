-- An invoice's pending callbacks in the order they were owed: a claim takes
-- only the first of each invoice, and this answers "is there an earlier one"
-- from the pending rows alone.
CREATE INDEX callbacks_line ON callbacks (invoice_id, created_seq) WHERE state = 'pending';
