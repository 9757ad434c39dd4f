-- pgbench script: Postgres's plain insert ceiling, one run row a transaction, into lambda-steps's
-- own runs table with its indexes (what a submit cannot do faster). Used by benches/runner.rs.
INSERT INTO runs (id, project, status, step) VALUES (gen_random_uuid(), 'default', 'queued', '{}');
