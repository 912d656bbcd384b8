-- Jobs belong to a client (its own list), keep why they failed, when they ran, and how often they were started:
-- a job interrupted by a restart is queued again, up to a limit.
ALTER TABLE jobs ADD COLUMN owner VARCHAR(200);
ALTER TABLE jobs ADD COLUMN error VARCHAR(4000);
ALTER TABLE jobs ADD COLUMN started_at TIMESTAMP;
ALTER TABLE jobs ADD COLUMN finished_at TIMESTAMP;
ALTER TABLE jobs ADD COLUMN attempts INT NOT NULL DEFAULT 0;
CREATE INDEX jobs_owner ON jobs (owner, created_at);
CREATE INDEX jobs_state ON jobs (state);
