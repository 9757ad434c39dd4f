-- Issue 27: approvals in the console. Each callback a run's durable execution created, as
-- the replica following the execution saw it in the execution's history: so that the API
-- (and the console's Approve / Reject) can list a run's callbacks and their state without
-- reading its log. Written when the CallbackStarted event is seen (before its log line),
-- updated when the callback's completion is; `durable_callback_answers` says who answered
-- through the API. A run re-attached by another replica reads the history from its start
-- again: the rows are written idempotently.
CREATE TABLE durable_callbacks (
    run_id uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    callback_id text NOT NULL CHECK (length(callback_id) BETWEEN 1 AND 1024),
    -- The callback's name; for `wait_for_callback`, the name given to it.
    name text,
    state text NOT NULL DEFAULT 'waiting'
        CHECK (state IN ('waiting', 'succeeded', 'failed', 'timed_out')),
    created_at timestamptz NOT NULL,
    ended_at timestamptz,
    PRIMARY KEY (run_id, callback_id)
);
