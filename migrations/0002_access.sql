-- API tokens, key storage, project settings, saved steps and webhooks. Forward-only.

CREATE TABLE api_tokens (
    id uuid PRIMARY KEY,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    role text NOT NULL CHECK (role IN ('admin', 'runner', 'reader')),
    project text REFERENCES projects (name),
    -- SHA-256 of the token: the token itself is shown once and never stored.
    token_hash bytea NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    CHECK ((role = 'admin') = (project IS NULL))
);

-- Secrets, encrypted with AES-256-GCM under the service's master key.
CREATE TABLE secrets (
    path text PRIMARY KEY CHECK (path ~ '^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$' AND length(path) <= 512),
    nonce bytea NOT NULL,
    ciphertext bytea NOT NULL,
    size integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE project_settings (
    project text NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
    key text NOT NULL CHECK (key IN (
        'project.aws.access_key', 'project.aws.secret_key_path', 'project.aws.region',
        'project.aws.endpoint_url', 'project.aws.assume_role_arn', 'project.aws.external_id',
        'project.aws.lambda_role_arn')),
    value text NOT NULL,
    PRIMARY KEY (project, key)
);

CREATE TABLE saved_steps (
    project text NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
    name text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$'),
    step jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project, name)
);

CREATE TABLE webhooks (
    id uuid PRIMARY KEY,
    project text NOT NULL,
    step_name text NOT NULL,
    -- The HMAC secret, encrypted as secrets are; NULL for a hook without a signature.
    secret_nonce bytea,
    secret_ciphertext bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (project, step_name) REFERENCES saved_steps (project, name) ON DELETE CASCADE
);
