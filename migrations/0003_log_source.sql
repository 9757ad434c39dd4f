-- Who wrote a run's log line: the runner (the service's own lines) or the function
-- (what it printed, read from Lambda's tail or its CloudWatch log group). Lines stored
-- before this migration were all written by the runner's hand.
ALTER TABLE run_logs
    ADD COLUMN source text NOT NULL DEFAULT 'runner' CHECK (source IN ('runner', 'function'));
