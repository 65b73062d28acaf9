-- Transcripts emailed through SMTP (issue 14, seed 002): a durable outbox every node shares.
-- A node's sender claims a due row by moving it to 'sending' with a lease (claimed_until_us);
-- a row whose lease ran out (its node died mid-send) is due again. Keyed by org first.
CREATE TABLE email_outbox (
    org              TEXT    NOT NULL,
    id               TEXT    NOT NULL,
    conversation     TEXT    NOT NULL,
    recipient        TEXT    NOT NULL,
    subject          TEXT    NOT NULL,
    body             TEXT    NOT NULL, -- the plain-text transcript
    attachment       BLOB,             -- the PDF transcript, when asked for
    attachment_name  TEXT,
    status           TEXT    NOT NULL, -- queued | sending | sent | failed
    attempts         BIGINT  NOT NULL DEFAULT 0,
    last_error       TEXT,
    created_us       BIGINT  NOT NULL,
    due_us           BIGINT  NOT NULL, -- the next attempt, no earlier
    claimed_until_us BIGINT,           -- the sending node's lease
    sent_us          BIGINT,
    PRIMARY KEY (org, id)
);
CREATE INDEX email_outbox_due ON email_outbox (status, due_us);
