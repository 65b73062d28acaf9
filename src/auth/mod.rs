//! Authentication: who is on the other end of a socket or REST call, and for which org.
//!
//! - Agents, supervisors and admins present a JWT minted by the contact center's identity system
//!   (HS256 with the configured secret, algorithm pinned; `iss`, `aud`, `exp` checked). Org, roles
//!   and queue membership come from its claims.
//! - Visitors fill in the pre-chat form and get a visitor token that this server signs.
//! - Verified customers arrive with a token signed by the org's own backend
//!   (`settings.customer_token_secret`), and skip the form.
//!
//! **Architecture Invariant:** the org of a request comes from verified claims only (DESIGN
//! invariant 6); no handler reads an org from a client-supplied field.

pub mod tokens;

pub use tokens::{Authenticator, CustomerClaims, StaffClaims};

use crate::ids::{AgentId, CustomerId, OrgId, QueueId};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Agent,
    Supervisor,
    Admin,
}

impl Role {
    /// The role's name in tokens and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }
}

/// A signed-in agent (or supervisor/admin).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Staff {
    pub org: OrgId,
    pub id: AgentId,
    pub name: String,
    pub roles: Vec<Role>,
    pub queues: Vec<QueueId>,
}

impl Staff {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Supervisors and admins see every queue of their org; agents only their own (seed 001).
    pub fn sees_all_queues(&self) -> bool {
        self.has(Role::Supervisor) || self.has(Role::Admin)
    }

    pub fn can_see_queue(&self, queue: &QueueId) -> bool {
        self.sees_all_queues() || self.queues.contains(queue)
    }
}

/// A customer: a visitor who filled in the pre-chat form, or a verified customer.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Customer {
    pub org: OrgId,
    pub id: CustomerId,
    pub name: String,
    pub email: Option<String>,
    pub verified: bool,
}

/// An org's bot, acting through the bot REST API (PROTOCOL §9.12).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Bot {
    pub org: OrgId,
    /// The bot id the token was minted for.
    pub id: String,
}

#[derive(Debug, Clone)]
pub enum Principal {
    Staff(Staff),
    Customer(Customer),
}

impl Principal {
    pub fn org(&self) -> &OrgId {
        match self {
            Principal::Staff(s) => &s.org,
            Principal::Customer(c) => &c.org,
        }
    }
}

/// Who holds `token`, and their org as stored now: the token verified (a verified customer's
/// with its org's own secret), the org known, and — for a customer — the page's `Origin`
/// admitted by the org's settings (allowed origins, chat enabled). The websocket `hello` and the
/// REST routes that take customer tokens both go through here.
pub fn authenticate(
    auth: &Authenticator,
    orgs: &crate::orgs::Orgs,
    token: &str,
    origin: Option<&str>,
) -> Result<(Principal, std::sync::Arc<crate::domain::org::OrgConfig>), crate::protocol::CommandError>
{
    use crate::protocol::{CommandError, ErrorCode};
    let principal = auth.verify(token, |org| {
        orgs.get(org)
            .and_then(|o| o.settings.customer_token_secret.clone())
    })?;
    let org = orgs
        .get(principal.org())
        .ok_or_else(|| CommandError::new(ErrorCode::Unauthorized, "unknown org"))?;
    if let Principal::Customer(_) = principal {
        crate::domain::start::admit_customer(&org.settings, origin)?;
    }
    Ok((principal, org))
}
