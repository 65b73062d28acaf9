-- Bot-first chats in the reports (issue 15): who handled each conversation — `human` (no bot),
-- `bot` (the bot alone: ended without a handover) or `bot_then_human` (handed over) — and its
-- time with the bot (`bot_engaged` → `handed_over` or `ended`). Rows written before stay
-- `human`: those chats had no bot.
ALTER TABLE report_conversations ADD COLUMN handling TEXT NOT NULL DEFAULT 'human';
ALTER TABLE report_conversations ADD COLUMN bot_ms BIGINT;

-- Bot chats archived before this migration were measured as if they had no bot (a chat the bot
-- handled alone counted as abandoned): their rows go, and each node's backfill at start
-- measures them again from their archived logs (src/archiver.rs).
DELETE FROM report_owners WHERE EXISTS (
    SELECT 1 FROM archived_conversations c
    WHERE c.org = report_owners.org AND c.id = report_owners.conversation
      AND json_extract(c.summary, '$.bot') IS NOT NULL);
DELETE FROM report_conversations WHERE EXISTS (
    SELECT 1 FROM archived_conversations c
    WHERE c.org = report_conversations.org AND c.id = report_conversations.conversation
      AND json_extract(c.summary, '$.bot') IS NOT NULL);
