-- Outgoing webhooks (issue 15, DESIGN §13): one row per (subscription, event), written when the
-- event is logged (and again, ignored as a duplicate, when a conversation is rebuilt or
-- archived), shared by every node. A node's dispatcher claims the oldest unfinished row of each
-- (subscription, conversation) with a lease, so one conversation's events reach a target one at
-- a time in seq order; a row that keeps failing goes 'dead' and stops holding the others back.
-- Pull subscriptions' rows are 'pull': read through GET /v1/webhooks/{id}/events, never sent.
CREATE TABLE webhook_outbox (
    n                INTEGER PRIMARY KEY AUTOINCREMENT,
    org              TEXT   NOT NULL,
    subscription     TEXT   NOT NULL,
    id               TEXT   NOT NULL, -- the webhook-id: {conversation}.{seq}, or erasure.{…}
    conversation     TEXT   NOT NULL, -- '' for org events (customer.erased)
    seq              BIGINT NOT NULL,
    event_type       TEXT   NOT NULL,
    body             TEXT   NOT NULL, -- the JSON sent
    status           TEXT   NOT NULL, -- pending | sending | delivered | dead | pull
    attempts         BIGINT NOT NULL DEFAULT 0,
    last_error       TEXT,
    created_us       BIGINT NOT NULL,
    due_us           BIGINT NOT NULL, -- the next attempt, no earlier
    claimed_until_us BIGINT,          -- the sending node's lease
    delivered_us     BIGINT
);
CREATE UNIQUE INDEX webhook_outbox_event ON webhook_outbox (org, subscription, id);
CREATE INDEX webhook_outbox_due ON webhook_outbox (status, due_us);
CREATE INDEX webhook_outbox_line ON webhook_outbox (org, subscription, conversation, seq);
