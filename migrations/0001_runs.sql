-- Projects, step runs and their logs. Forward-only: later changes get new files.

CREATE TABLE projects (
    name text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO projects (name) VALUES ('default');

CREATE TABLE runs (
    id uuid PRIMARY KEY,
    project text NOT NULL REFERENCES projects (name),
    status text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled')),
    step jsonb NOT NULL,
    -- Incremented by every claim; finishing is fenced on it.
    attempt integer NOT NULL DEFAULT 0,
    idempotency_key text CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz,
    -- Set while running; a heartbeat extends it, the rescuer acts when it passes.
    lease_expires_at timestamptz,
    worker text,
    -- Set just before an Invoke may go out: from then on the run is never retried.
    invoke_sent boolean NOT NULL DEFAULT false,
    cancel_requested boolean NOT NULL DEFAULT false,
    -- The function a custom-code step created, for cleanup.
    function_name text,
    result jsonb,
    error jsonb,
    UNIQUE (project, idempotency_key),
    CHECK ((status IN ('queued', 'running')) = (finished_at IS NULL))
);
CREATE INDEX runs_queued ON runs (created_at, id) WHERE status = 'queued';
CREATE INDEX runs_leases ON runs (lease_expires_at) WHERE status = 'running';
CREATE INDEX runs_by_project ON runs (project, created_at DESC, id DESC);

CREATE TABLE run_logs (
    run_id uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq bigint NOT NULL CHECK (seq > 0),
    time timestamptz NOT NULL,
    level text NOT NULL CHECK (level IN ('debug', 'info', 'warn', 'error')),
    message text NOT NULL,
    PRIMARY KEY (run_id, seq)
);
