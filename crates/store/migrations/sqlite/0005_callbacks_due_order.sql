-- Due callbacks are claimed in (next_attempt_at, created_seq) order: with
-- both in the index a claim reads only the rows it takes (and those leased
-- ahead of them), not every due row sorted again, which made each claim cost
-- as much as the whole backlog.
CREATE INDEX callbacks_due_order ON callbacks (next_attempt_at, created_seq) WHERE state = 'pending';
DROP INDEX callbacks_due;
-- A callback's created_seq is the largest one plus one: found in the index,
-- not by reading every callback.
CREATE INDEX callbacks_created ON callbacks (created_seq);
