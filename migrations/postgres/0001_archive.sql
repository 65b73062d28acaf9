-- The archive of finished conversations (DESIGN §12). Every table is keyed by org first.
CREATE TABLE archived_conversations (
    org        TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    customer   TEXT,
    case_id    TEXT,
    queue      TEXT,
    created_us BIGINT  NOT NULL,
    ended_us   BIGINT,
    last_seq   BIGINT  NOT NULL,
    epoch      TEXT    NOT NULL, -- the log's generation
    summary    JSONB   NOT NULL, -- the stored summary
    PRIMARY KEY (org, id)
);
CREATE INDEX archived_conversations_newest ON archived_conversations (org, created_us DESC);
CREATE INDEX archived_conversations_customer ON archived_conversations (org, customer);
CREATE INDEX archived_conversations_case ON archived_conversations (org, case_id);

CREATE TABLE archived_participants (
    org          TEXT NOT NULL,
    conversation TEXT NOT NULL,
    agent        TEXT NOT NULL,
    PRIMARY KEY (org, conversation, agent)
);
CREATE INDEX archived_participants_agent ON archived_participants (org, agent);

CREATE TABLE archived_events (
    org          TEXT   NOT NULL,
    conversation TEXT   NOT NULL,
    seq          BIGINT NOT NULL,
    at_us        BIGINT NOT NULL,
    kind         TEXT   NOT NULL,
    visibility   TEXT   NOT NULL, -- public | agents
    body         JSONB  NOT NULL, -- the log event, as the engine's log holds it
    PRIMARY KEY (org, conversation, seq)
);

CREATE TABLE archived_surveys (
    org          TEXT    NOT NULL,
    conversation TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    rating       INTEGER NOT NULL,
    created_us   BIGINT  NOT NULL,
    body         JSONB   NOT NULL,
    PRIMARY KEY (org, conversation)
);
CREATE INDEX archived_surveys_created ON archived_surveys (org, created_us);
