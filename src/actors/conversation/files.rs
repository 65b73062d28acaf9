//! Files in a conversation: who may upload to it, and the check of the files a message
//! carries — each must exist in this org, belong to this conversation, have been uploaded by
//! the sender, and not have been rejected by the scanner. (Who may download one is the
//! conversation's read access, `Access` in `access.rs`.)

use actix::prelude::*;
use serde::{Deserialize, Serialize};

use super::{ConversationActor, Who};
use crate::domain::attachment::ScanState;
use crate::engine::AttachmentRecord;
use crate::ids::AttachmentId;
use crate::protocol::{AttachmentRef, CommandError, ErrorCode};

/// May `who` upload a file to this conversation? The same rule as sending a message: the
/// customer, the owner or a conference participant (or a supervisor), of an open conversation.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct MayUpload {
    pub who: Who,
}

impl Handler<MayUpload> for ConversationActor {
    type Result = Result<(), CommandError>;

    fn handle(&mut self, msg: MayUpload, ctx: &mut Self::Context) -> Self::Result {
        self.schedule_passivation(ctx);
        self.ready()?;
        self.check_party(&msg.who)?;
        self.check_open()
    }
}

impl ConversationActor {
    /// Looks the message's files up and checks them (see the module docs); their references
    /// for the `message` event, in the order given.
    pub(super) fn attachment_refs(
        &mut self,
        who: &Who,
        ids: &[AttachmentId],
    ) -> impl ActorFuture<Self, Output = Result<Vec<AttachmentRef>, CommandError>> {
        let engine = self.rt.engine.clone();
        let org = self.key.org.clone();
        let ids = ids.to_vec();
        let uploader = who.author();
        let lookups = async move {
            let mut found = Vec::with_capacity(ids.len());
            for id in ids {
                let record = engine.attachment(&org, &id).await?;
                found.push((id, record));
            }
            Ok::<_, crate::engine::EngineError>(found)
        };
        lookups.into_actor(self).map(move |found, act, _| {
            let found = found?;
            found
                .into_iter()
                .map(|(id, record)| act.check_attachment(&uploader, &id, record))
                .collect()
        })
    }

    fn check_attachment(
        &self,
        uploader: &crate::protocol::Author,
        id: &AttachmentId,
        record: Option<AttachmentRecord>,
    ) -> Result<AttachmentRef, CommandError> {
        let record = match record {
            Some(r) if r.conversation == self.key.id => r,
            // Another conversation's file is as unknown here as a file that does not exist.
            _ => {
                return Err(CommandError::new(
                    ErrorCode::NotFound,
                    format!("attachment {id} not found in this conversation"),
                ))
            }
        };
        if record.uploader.role != uploader.role || record.uploader.id != uploader.id {
            return Err(CommandError::bad_request(format!(
                "attachment {id} was uploaded by someone else"
            )));
        }
        if record.state == ScanState::Rejected {
            return Err(CommandError::bad_request(format!(
                "attachment {id} was rejected by the virus scanner"
            )));
        }
        Ok(AttachmentRef {
            id: record.id,
            name: record.name,
            size: record.size,
            mime: record.mime,
            sha256: record.sha256,
        })
    }
}
