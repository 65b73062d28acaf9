-- Reports (issue 14): what each finished customer conversation counts for, computed once when it
-- is archived (src/domain/report.rs) and replaced whenever it is archived again with more events.
-- Times of day in microseconds since the epoch (`*_us`), durations in milliseconds (`*_ms`).
CREATE TABLE report_conversations (
    org               TEXT    NOT NULL,
    conversation      TEXT    NOT NULL,
    queue             TEXT    NOT NULL, -- the queue the customer entered
    ended_us          BIGINT  NOT NULL,
    wait_ms           BIGINT,
    first_response_ms BIGINT,
    handle_ms         BIGINT,
    transfers         INTEGER NOT NULL,
    abandoned         BOOLEAN NOT NULL,
    rating            INTEGER,
    PRIMARY KEY (org, conversation)
);
CREATE INDEX report_conversations_ended ON report_conversations (org, ended_us);

-- One row per agent who owned the conversation, with its own times as owner.
CREATE TABLE report_owners (
    org               TEXT    NOT NULL,
    conversation      TEXT    NOT NULL,
    agent             TEXT    NOT NULL,
    position          INTEGER NOT NULL, -- the order in which the owners first took it
    wait_ms           BIGINT,
    first_response_ms BIGINT,
    handle_ms         BIGINT  NOT NULL,
    transfers         INTEGER NOT NULL,
    rating            INTEGER,
    PRIMARY KEY (org, conversation, agent)
);
