-- Issue 25: replays. A replay is a run of its own whose step is the original's, run on the
-- embedded engine; this row says it is one, of which run, and what the caller chose for
-- its side effects. `recorded` is the function the original run's Invoke reached, as
-- Lambda described it then (never its environment variables).
CREATE TABLE run_replays (
    run_id uuid PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    replay_of uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    credentials text NOT NULL DEFAULT 'none' CHECK (credentials IN ('none', 'role')),
    endpoint_url text CHECK (endpoint_url ~ '^https?://' AND length(endpoint_url) <= 2048),
    accept_current_code boolean NOT NULL DEFAULT false,
    recorded jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX run_replays_by_original ON run_replays (replay_of, created_at DESC);
