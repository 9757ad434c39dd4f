-- pgbench script: the Postgres ceiling for one job (insert, claim with SKIP LOCKED, finish fenced),
-- the statements lambda-steps runs per step, with its schema and indexes. Used by benches/runner.rs.
INSERT INTO runs (id, project, status, step) VALUES (gen_random_uuid(), 'default', 'queued', '{}') RETURNING id AS job \gset
WITH next AS MATERIALIZED (SELECT id FROM runs WHERE id = :job::uuid AND status = 'queued' FOR UPDATE SKIP LOCKED) UPDATE runs r SET status = 'running', attempt = r.attempt + 1, started_at = now(), lease_expires_at = now() + interval '30 seconds' FROM next WHERE r.id = next.id;
UPDATE runs SET status = 'succeeded', finished_at = now(), lease_expires_at = NULL WHERE id = :job::uuid AND attempt = 1 AND status = 'running';
