//! The SQL both dialects agree on, and the one implementation of [`super::Archive`] over it,
//! stamped out for each pool type by [`archive_impl!`] (sqlx's generic executor bounds would
//! say the same thing at more length). Parameters are `$N`, which SQLite reads too. Times are
//! stored as microseconds since the epoch (`*_us`) so that ordering is an integer compare in
//! both; a row's body is the stored JSON (a `StoredSummary`, a `LogEvent`, a `StoredSurvey`).

pub(super) const UPSERT_CONVERSATION: &str = "\
INSERT INTO archived_conversations
    (org, id, status, customer, case_id, queue, created_us, ended_us, last_seq, summary, epoch)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (org, id) DO UPDATE SET
    status = excluded.status, customer = excluded.customer, case_id = excluded.case_id,
    queue = excluded.queue, created_us = excluded.created_us, ended_us = excluded.ended_us,
    last_seq = excluded.last_seq, summary = excluded.summary, epoch = excluded.epoch
WHERE excluded.last_seq >= archived_conversations.last_seq";

pub(super) const INSERT_PARTICIPANT: &str = "\
INSERT INTO archived_participants (org, conversation, agent) VALUES ($1, $2, $3)
ON CONFLICT (org, conversation, agent) DO NOTHING";

pub(super) const INSERT_EVENT: &str = "\
INSERT INTO archived_events (org, conversation, seq, at_us, kind, visibility, body)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (org, conversation, seq) DO NOTHING";

pub(super) const INSERT_SURVEY: &str = "\
INSERT INTO archived_surveys (org, conversation, id, rating, created_us, body)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (org, conversation) DO NOTHING";

pub(super) const SELECT_SUMMARY: &str =
    "SELECT summary FROM archived_conversations WHERE org = $1 AND id = $2";

pub(super) const SELECT_EPOCH: &str =
    "SELECT epoch FROM archived_conversations WHERE org = $1 AND id = $2";

pub(super) const SELECT_EVENTS: &str = "\
SELECT body FROM archived_events
WHERE org = $1 AND conversation = $2 AND seq > $3
ORDER BY seq LIMIT $4";

pub(super) const SELECT_SURVEYS: &str = "\
SELECT body FROM archived_surveys WHERE org = $1 ORDER BY created_us, conversation";

/// The filters of `ConversationFilter`; `{queues}` is the dialect's "is `$6` (a JSON array of
/// queue ids) among them" test.
pub(super) fn select_find(queues_in: &str) -> String {
    format!(
        "\
SELECT c.summary FROM archived_conversations c
WHERE c.org = $1
  AND ($2 IS NULL OR c.customer = $2)
  AND ($3 IS NULL OR c.case_id = $3)
  AND ($4 IS NULL OR c.status = $4)
  AND ($5 IS NULL OR EXISTS (SELECT 1 FROM archived_participants p
        WHERE p.org = c.org AND p.conversation = c.id AND p.agent = $5))
  AND ($6 IS NULL OR c.queue IN ({queues_in}))
  AND ($8 IS NULL OR c.created_us >= $8)
  AND ($9 IS NULL OR c.created_us < $9)
  AND ($10 IS NULL OR c.created_us < $10 OR (c.created_us = $10 AND c.id > $11))
ORDER BY c.created_us DESC, c.id ASC
LIMIT $7"
    )
}

/// Microseconds since the epoch.
pub(super) fn micros(at: chrono::DateTime<chrono::Utc>) -> i64 {
    at.timestamp_micros()
}

/// A seq as SQL's BIGINT (seqs never come near `i64::MAX`).
pub(super) fn seq(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Replaces, in transaction `$tx`, the report rows of conversation `$id` of `$org` with the
/// metrics of `$summary` and `$events`, and is `true`. Where there are none — a chat between
/// agents, or a log that is not there any more (a re-store after the engine forgot it) — the
/// rows stay as they are, and it is `false`.
macro_rules! store_report {
    ($tx:ident, $org:expr, $id:expr, $summary:expr, $events:expr) => {{
        use $crate::archive::report_sql as report;
        let events: Vec<&$crate::protocol::LogEvent> = $events.iter().map(|e| e.as_ref()).collect();
        let known = $crate::domain::report::Known {
            conversation: &$summary.id,
            ended_at: $summary.ended_at,
            survey_rating: $summary.survey_rating,
        };
        if let Some(m) = $crate::domain::report::conversation_metrics(known, &events) {
            for delete in [report::DELETE_CONVERSATION, report::DELETE_OWNERS] {
                sqlx::query(delete)
                    .bind($org)
                    .bind($id)
                    .execute(&mut *$tx)
                    .await?;
            }
            let (c, owners) = report::rows_of(&m);
            sqlx::query(report::INSERT_CONVERSATION)
                .bind($org)
                .bind(c.conversation)
                .bind(c.queue)
                .bind(c.ended_us)
                .bind(c.wait_ms)
                .bind(c.first_response_ms)
                .bind(c.handle_ms)
                .bind(c.transfers)
                .bind(c.abandoned)
                .bind(c.rating)
                .bind(c.handling)
                .bind(c.bot_ms)
                .execute(&mut *$tx)
                .await?;
            for o in owners {
                sqlx::query(report::INSERT_OWNER)
                    .bind($org)
                    .bind(o.conversation)
                    .bind(o.agent)
                    .bind(o.position)
                    .bind(o.wait_ms)
                    .bind(o.first_response_ms)
                    .bind(o.handle_ms)
                    .bind(o.transfers)
                    .bind(o.rating)
                    .execute(&mut *$tx)
                    .await?;
            }
            true
        } else {
            false
        }
    }};
}
pub(super) use store_report;

/// Implements `Archive` for `$ty { pool: $pool, rt: DbRuntime, find_sql: String }`.
macro_rules! archive_impl {
    ($ty:ident, $db:ty, $kind:literal) => {
        impl $crate::archive::Archive for $ty {
            fn kind(&self) -> &'static str {
                $kind
            }

            fn store(
                &self,
                c: $crate::archive::ArchivedConversation,
            ) -> $crate::archive::ArchiveFuture<()> {
                use sqlx::types::Json;
                use $crate::archive::sql::*;
                let pool = self.pool.clone();
                Box::pin(self.rt.run(async move {
                    let s = &c.summary;
                    let (org, id) = (s.org.as_str(), s.id.as_str());
                    let mut tx = pool.begin().await?;
                    // No row changes when the archive already holds a later version; then
                    // its report rows stay too.
                    let newer = sqlx::query(UPSERT_CONVERSATION)
                        .bind(org)
                        .bind(id)
                        .bind(s.status.as_str())
                        .bind(s.customer.as_ref().map(|c| c.as_str()))
                        .bind(s.case_id.as_deref())
                        .bind(s.queue.as_ref().map(|q| q.as_str()))
                        .bind(micros(s.created_at))
                        .bind(s.ended_at.map(micros))
                        .bind(seq(s.last_seq))
                        .bind(Json($crate::engine::stored::StoredSummary::from(s)))
                        .bind(c.epoch.as_str())
                        .execute(&mut *tx)
                        .await?
                        .rows_affected()
                        > 0;
                    if newer {
                        store_report!(tx, org, id, s, &c.events);
                    }
                    for agent in &s.agents {
                        sqlx::query(INSERT_PARTICIPANT)
                            .bind(org)
                            .bind(id)
                            .bind(agent.as_str())
                            .execute(&mut *tx)
                            .await?;
                    }
                    for e in &c.events {
                        let body = serde_json::to_value(e.as_ref())
                            .map_err(|e| $crate::archive::ArchiveError::Other(e.to_string()))?;
                        let kind = body
                            .get("kind")
                            .and_then(|k| k.as_str())
                            .unwrap_or_default()
                            .to_string();
                        let visibility = match e.visibility {
                            $crate::protocol::Visibility::Public => "public",
                            $crate::protocol::Visibility::Agents => "agents",
                        };
                        sqlx::query(INSERT_EVENT)
                            .bind(org)
                            .bind(id)
                            .bind(seq(e.seq))
                            .bind(micros(e.at))
                            .bind(kind)
                            .bind(visibility)
                            .bind(Json(body))
                            .execute(&mut *tx)
                            .await?;
                    }
                    if let Some(survey) = c.survey.clone() {
                        let created = micros(survey.created_at);
                        let (sid, rating) = (survey.id.clone(), i32::from(survey.rating));
                        sqlx::query(INSERT_SURVEY)
                            .bind(org)
                            .bind(id)
                            .bind(sid)
                            .bind(rating)
                            .bind(created)
                            .bind(Json($crate::engine::stored::StoredSurvey::from(survey)))
                            .execute(&mut *tx)
                            .await?;
                    }
                    for a in &c.attachments {
                        sqlx::query($crate::archive::privacy::INSERT_ATTACHMENT)
                            .bind(org)
                            .bind(id)
                            .bind(a.id.as_str())
                            .bind(a.key.as_str())
                            .bind(Json(a))
                            .execute(&mut *tx)
                            .await?;
                    }
                    tx.commit().await?;
                    Ok(())
                }))
            }

            fn summary(
                &self,
                key: &$crate::ids::ConvKey,
            ) -> $crate::archive::ArchiveFuture<Option<$crate::engine::ConversationSummary>> {
                use sqlx::types::Json;
                let pool = self.pool.clone();
                let key = key.clone();
                Box::pin(self.rt.run(async move {
                    let row: Option<(Json<$crate::engine::stored::StoredSummary>,)> =
                        sqlx::query_as($crate::archive::sql::SELECT_SUMMARY)
                            .bind(key.org.as_str())
                            .bind(key.id.as_str())
                            .fetch_optional(&pool)
                            .await?;
                    Ok(row.and_then(|(Json(s),)| s.into_summary()))
                }))
            }

            fn epoch(
                &self,
                key: &$crate::ids::ConvKey,
            ) -> $crate::archive::ArchiveFuture<Option<String>> {
                let pool = self.pool.clone();
                let key = key.clone();
                Box::pin(self.rt.run(async move {
                    let row: Option<(String,)> = sqlx::query_as($crate::archive::sql::SELECT_EPOCH)
                        .bind(key.org.as_str())
                        .bind(key.id.as_str())
                        .fetch_optional(&pool)
                        .await?;
                    Ok(row.map(|(e,)| e))
                }))
            }

            fn events(
                &self,
                key: &$crate::ids::ConvKey,
                after_seq: u64,
                limit: usize,
            ) -> $crate::archive::ArchiveFuture<Vec<std::sync::Arc<$crate::protocol::LogEvent>>>
            {
                use sqlx::types::Json;
                let pool = self.pool.clone();
                let key = key.clone();
                Box::pin(self.rt.run(async move {
                    let rows: Vec<(Json<$crate::protocol::LogEvent>,)> =
                        sqlx::query_as($crate::archive::sql::SELECT_EVENTS)
                            .bind(key.org.as_str())
                            .bind(key.id.as_str())
                            .bind($crate::archive::sql::seq(after_seq))
                            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                            .fetch_all(&pool)
                            .await?;
                    Ok(rows
                        .into_iter()
                        .map(|(Json(e),)| std::sync::Arc::new(e))
                        .collect())
                }))
            }

            fn find(
                &self,
                org: &$crate::ids::OrgId,
                filter: $crate::engine::ConversationFilter,
            ) -> $crate::archive::ArchiveFuture<Vec<$crate::engine::ConversationSummary>> {
                use sqlx::types::Json;
                let pool = self.pool.clone();
                let org = org.clone();
                let sql = self.find_sql.clone();
                Box::pin(self.rt.run(async move {
                    let queues = match &filter.queues {
                        Some(qs) => Some(
                            serde_json::to_string(
                                &qs.iter().map(|q| q.as_str()).collect::<Vec<_>>(),
                            )
                            .map_err(|e| $crate::archive::ArchiveError::Other(e.to_string()))?,
                        ),
                        None => None,
                    };
                    let rows: Vec<(Json<$crate::engine::stored::StoredSummary>,)> =
                        sqlx::query_as(&sql)
                            .bind(org.as_str())
                            .bind(filter.customer.as_ref().map(|c| c.as_str().to_string()))
                            .bind(filter.case_id.clone())
                            .bind(filter.status.map(|s| s.as_str()))
                            .bind(filter.agent.as_ref().map(|a| a.as_str().to_string()))
                            .bind(queues)
                            .bind(i64::try_from(filter.limit).unwrap_or(i64::MAX))
                            .bind(filter.created_from.map($crate::archive::sql::micros))
                            .bind(filter.created_to.map($crate::archive::sql::micros))
                            .bind(filter.after.as_ref().map(|p| p.created_us))
                            .bind(filter.after.as_ref().map(|p| p.id.to_string()))
                            .fetch_all(&pool)
                            .await?;
                    Ok(rows
                        .into_iter()
                        .filter_map(|(Json(s),)| s.into_summary())
                        .collect())
                }))
            }

            fn surveys(
                &self,
                org: &$crate::ids::OrgId,
            ) -> $crate::archive::ArchiveFuture<Vec<$crate::engine::SurveyRecord>> {
                use sqlx::types::Json;
                let pool = self.pool.clone();
                let org = org.clone();
                Box::pin(self.rt.run(async move {
                    let rows: Vec<(Json<$crate::engine::stored::StoredSurvey>,)> =
                        sqlx::query_as($crate::archive::sql::SELECT_SURVEYS)
                            .bind(org.as_str())
                            .fetch_all(&pool)
                            .await?;
                    Ok(rows.into_iter().map(|(Json(s),)| s.into_record()).collect())
                }))
            }

            fn outbox(&self) -> &dyn $crate::archive::outbox::Outbox {
                self
            }

            fn webhooks(&self) -> &dyn $crate::archive::webhooks::WebhookOutbox {
                self
            }

            fn report(
                &self,
                org: &$crate::ids::OrgId,
                from: chrono::DateTime<chrono::Utc>,
                until: chrono::DateTime<chrono::Utc>,
                by: $crate::domain::figures::ReportBy,
            ) -> $crate::archive::ArchiveFuture<$crate::domain::figures::Report> {
                use futures_util::TryStreamExt;
                use $crate::archive::report_sql as report;
                let pool = self.pool.clone();
                let org = org.clone();
                let (from, until) = (
                    $crate::archive::sql::micros(from),
                    $crate::archive::sql::micros(until),
                );
                Box::pin(self.rt.run(async move {
                    let mut tally = $crate::domain::figures::Tally::new(by);
                    let mut rows =
                        sqlx::query_as::<_, report::ConversationRow>(report::SELECT_CONVERSATIONS)
                            .bind(org.as_str())
                            .bind(from)
                            .bind(until)
                            .fetch(&pool);
                    while let Some(row) = rows.try_next().await? {
                        tally.conversation(&row.queue, &row.sample());
                    }
                    drop(rows);
                    if by == $crate::domain::figures::ReportBy::Agent {
                        let mut rows = sqlx::query_as::<_, report::OwnerRow>(report::SELECT_OWNERS)
                            .bind(org.as_str())
                            .bind(from)
                            .bind(until)
                            .fetch(&pool);
                        while let Some(row) = rows.try_next().await? {
                            tally.owner(&row.agent, &row.sample());
                        }
                    }
                    Ok(tally.finish())
                }))
            }

            fn backfill_reports(&self, batch: usize) -> $crate::archive::ArchiveFuture<usize> {
                use sqlx::types::Json;
                use $crate::archive::report_sql as report;
                let pool = self.pool.clone();
                let limit = i64::try_from(batch.max(1)).unwrap_or(i64::MAX);
                Box::pin(self.rt.run(async move {
                    let mut after = (String::new(), String::new());
                    let mut written = 0;
                    loop {
                        let page: Vec<(
                            String,
                            String,
                            Json<$crate::engine::stored::StoredSummary>,
                        )> = sqlx::query_as(report::SELECT_UNREPORTED)
                            .bind(after.0.as_str())
                            .bind(after.1.as_str())
                            .bind(limit)
                            .fetch_all(&pool)
                            .await?;
                        let more = i64::try_from(page.len()).unwrap_or(i64::MAX) == limit;
                        for (org, id, Json(stored)) in page {
                            after = (org.clone(), id.clone());
                            let Some(summary) = stored.into_summary() else {
                                continue;
                            };
                            let events: Vec<(Json<$crate::protocol::LogEvent>,)> =
                                sqlx::query_as($crate::archive::sql::SELECT_EVENTS)
                                    .bind(org.as_str())
                                    .bind(id.as_str())
                                    .bind(0_i64)
                                    .bind(i64::MAX)
                                    .fetch_all(&pool)
                                    .await?;
                            let events: Vec<std::sync::Arc<$crate::protocol::LogEvent>> = events
                                .into_iter()
                                .map(|(Json(e),)| std::sync::Arc::new(e))
                                .collect();
                            let mut tx = pool.begin().await?;
                            if store_report!(tx, org.as_str(), id.as_str(), &summary, &events) {
                                written += 1;
                            }
                            tx.commit().await?;
                        }
                        if !more {
                            return Ok(written);
                        }
                    }
                }))
            }

            fn check(&self) -> $crate::archive::ArchiveFuture<()> {
                let pool = self.pool.clone();
                Box::pin(self.rt.run(async move {
                    sqlx::query("SELECT 1").execute(&pool).await?;
                    Ok(())
                }))
            }
        }
    };
}
pub(super) use archive_impl;
