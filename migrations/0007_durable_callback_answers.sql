-- Issue 27: approvals. Who answered a durable execution's callback through the API, and
-- how: written by the replica that answered it, read by the replica that follows the
-- execution, which names them in the run's log when the callback's completion shows up in
-- the execution's history (the two may be different replicas, and only the follower
-- numbers the run's log lines).
CREATE TABLE durable_callback_answers (
    run_id uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    callback_id text NOT NULL CHECK (length(callback_id) BETWEEN 1 AND 1024),
    answered_by text NOT NULL,
    outcome text NOT NULL CHECK (outcome IN ('approved', 'rejected')),
    answered_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, callback_id)
);
