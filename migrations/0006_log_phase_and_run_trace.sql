-- Where a run was when its runner wrote a log line (claimed, creating, invoking, ...): the
-- console's timeline and the clients read it instead of the line's words. The function's own
-- lines have none, and neither have lines stored before this migration.
ALTER TABLE run_logs
    ADD COLUMN phase text CHECK (phase IN ('queued', 'claimed', 'installing_packages', 'creating',
                                           'invoking', 'returned', 'cleaned_up', 'finished'));

-- The W3C trace context of the submit (`00-TRACE-SPAN-FLAGS`), kept with the queued run so
-- the worker that claims it, on whichever replica, continues the same trace. Null when the
-- submitting replica exported no traces.
ALTER TABLE runs ADD COLUMN traceparent text;
