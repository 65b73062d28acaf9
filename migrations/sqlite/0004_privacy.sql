-- Retention and privacy (issue 14). Every table is keyed by org first.

-- An archived conversation's attachments (metadata and the blob store's key), so that retention
-- and erasure find its files after the engine forgot it.
CREATE TABLE archived_attachments (
    org          TEXT NOT NULL,
    conversation TEXT NOT NULL,
    id           TEXT NOT NULL,
    blob_key     TEXT NOT NULL,
    body         TEXT NOT NULL, -- the attachment record
    PRIMARY KEY (org, id)
);
CREATE INDEX archived_attachments_conversation ON archived_attachments (org, conversation);

-- When retention removed the conversation's content (null: not yet).
ALTER TABLE archived_conversations ADD COLUMN content_redacted_us BIGINT;
CREATE INDEX archived_conversations_ended ON archived_conversations (org, ended_us);

-- Customer erasure requests: the audit trail. The customer id is kept only while the request
-- is pending (the job needs it); afterwards only its SHA-256 remains.
CREATE TABLE erasures (
    org             TEXT   NOT NULL,
    id              TEXT   NOT NULL,
    customer        TEXT,
    customer_sha256 TEXT   NOT NULL,
    requested_by    TEXT   NOT NULL,
    requested_us    BIGINT NOT NULL,
    status          TEXT   NOT NULL, -- pending | done | failed
    finished_us     BIGINT,
    counts          TEXT   NOT NULL, -- what was removed (JSON)
    error           TEXT,
    claimed_by      TEXT,   -- the node carrying it out (one at a time in a cluster)
    claimed_until_us BIGINT, -- until when its claim holds
    PRIMARY KEY (org, id)
);
CREATE INDEX erasures_pending ON erasures (status, requested_us);
