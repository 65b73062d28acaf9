//! JWT minting and verification.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::{Customer, Principal, Role, Staff};
use crate::config::AuthSettings;
use crate::ids::{AgentId, CustomerId, OrgId, QueueId};
use crate::protocol::{CommandError, ErrorCode};

/// The audience of tokens the org's backend signs for verified customers.
pub const CUSTOMER_AUDIENCE: &str = "switchboard-customer";
/// The audience of visitor tokens this server issues after the pre-chat form.
pub const VISITOR_AUDIENCE: &str = "switchboard-visitor";
/// The audience of an org's bot token (`POST /v1/bot/token`): the bot REST API only.
pub const BOT_AUDIENCE: &str = "switchboard-bot";

/// Claims of a bot token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BotClaims {
    pub iss: String,
    pub aud: String,
    /// The bot's id (`settings.bot.id`): the token stops working when the org's bot changes id.
    pub sub: String,
    pub exp: u64,
    pub iat: u64,
    pub org: OrgId,
}

/// Claims of an agent/supervisor/admin token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StaffClaims {
    pub iss: String,
    pub aud: String,
    pub sub: AgentId,
    pub exp: u64,
    pub iat: u64,
    pub org: OrgId,
    pub roles: Vec<Role>,
    #[serde(default)]
    pub queues: Vec<QueueId>,
    #[serde(default)]
    pub name: Option<String>,
}

/// Claims of a visitor or verified-customer token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CustomerClaims {
    #[serde(default)]
    pub iss: String,
    pub aud: String,
    pub sub: CustomerId,
    pub exp: u64,
    #[serde(default)]
    pub iat: u64,
    pub org: OrgId,
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
}

/// Mints and verifies every token the server deals with.
pub struct Authenticator {
    encoding: EncodingKey,
    decoding: DecodingKey,
    issuer: String,
    audience: String,
    visitor_ttl_secs: u64,
}

fn now_secs() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn unauthorized(message: impl Into<String>) -> CommandError {
    CommandError::new(ErrorCode::Unauthorized, message)
}

fn validation(audience: &str, issuer: Option<&str>) -> Validation {
    // Algorithm pinned: a token that says "none" or RS256 is refused outright.
    let mut v = Validation::new(Algorithm::HS256);
    v.set_audience(&[audience]);
    match issuer {
        Some(iss) => {
            v.set_issuer(&[iss]);
            v.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
        }
        None => v.set_required_spec_claims(&["exp", "aud", "sub"]),
    }
    v.leeway = 30;
    v
}

impl Authenticator {
    pub fn new(settings: &AuthSettings) -> Self {
        let secret = settings.jwt_secret.expose().as_bytes();
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            visitor_ttl_secs: settings.visitor_token_ttl_secs,
        }
    }

    fn sign<T: Serialize>(&self, claims: &T) -> Result<String, CommandError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| CommandError::internal(format!("could not sign token: {e}")))
    }

    /// A staff token, as the contact center's identity system would mint it (dev CLI, tests).
    pub fn mint_staff(
        &self,
        org: OrgId,
        id: AgentId,
        name: Option<String>,
        roles: Vec<Role>,
        queues: Vec<QueueId>,
        ttl_secs: u64,
    ) -> Result<String, CommandError> {
        let now = now_secs();
        self.sign(&StaffClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: id,
            exp: now + ttl_secs,
            iat: now,
            org,
            roles,
            queues,
            name,
        })
    }

    /// The visitor token returned by the pre-chat form.
    pub fn mint_visitor(
        &self,
        org: OrgId,
        id: CustomerId,
        name: String,
        email: Option<String>,
    ) -> Result<(String, u64), CommandError> {
        let now = now_secs();
        let exp = now + self.visitor_ttl_secs;
        let token = self.sign(&CustomerClaims {
            iss: self.issuer.clone(),
            aud: VISITOR_AUDIENCE.to_string(),
            sub: id,
            exp,
            iat: now,
            org,
            name,
            email,
        })?;
        Ok((token, exp))
    }

    /// An org's bot token: `(token, expires_at)`.
    pub fn mint_bot(
        &self,
        org: OrgId,
        bot: String,
        ttl_secs: u64,
    ) -> Result<(String, u64), CommandError> {
        let now = now_secs();
        let exp = now + ttl_secs;
        let token = self.sign(&BotClaims {
            iss: self.issuer.clone(),
            aud: BOT_AUDIENCE.to_string(),
            sub: bot,
            exp,
            iat: now,
            org,
        })?;
        Ok((token, exp))
    }

    /// A verified-customer token signed with an org's customer secret (what the org's backend
    /// does; the dev CLI and tests use this).
    pub fn mint_customer_with(
        secret: &str,
        org: OrgId,
        id: CustomerId,
        name: String,
        email: Option<String>,
        ttl_secs: u64,
    ) -> Result<String, CommandError> {
        let now = now_secs();
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &CustomerClaims {
                iss: "org-backend".into(),
                aud: CUSTOMER_AUDIENCE.into(),
                sub: id,
                exp: now + ttl_secs,
                iat: now,
                org,
                name,
                email,
            },
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .map_err(|e| CommandError::internal(format!("could not sign token: {e}")))
    }

    /// Verifies a bot token (and only a bot token).
    pub fn verify_bot(&self, token: &str) -> Result<super::Bot, CommandError> {
        let data = jsonwebtoken::decode::<BotClaims>(
            token,
            &self.decoding,
            &validation(BOT_AUDIENCE, Some(&self.issuer)),
        )
        .map_err(|e| unauthorized(format!("invalid bot token: {e}")))?;
        Ok(super::Bot {
            org: data.claims.org,
            id: data.claims.sub,
        })
    }

    /// Verifies any token but a bot's. `customer_secret` looks up an org's verified-customer secret.
    pub fn verify(
        &self,
        token: &str,
        customer_secret: impl Fn(&OrgId) -> Option<String>,
    ) -> Result<Principal, CommandError> {
        #[derive(Deserialize)]
        struct Peek {
            aud: serde_json::Value,
            org: OrgId,
        }
        let peek: Peek = jsonwebtoken::dangerous::insecure_decode_claims(token)
            .map_err(|_| unauthorized("malformed token"))?;
        let aud = peek.aud.as_str().unwrap_or_default();
        if aud == CUSTOMER_AUDIENCE {
            // Signed by the org's backend with the org's own secret.
            let secret = customer_secret(&peek.org)
                .ok_or_else(|| unauthorized("this org does not accept verified-customer tokens"))?;
            let data = jsonwebtoken::decode::<CustomerClaims>(
                token,
                &DecodingKey::from_secret(secret.as_bytes()),
                &validation(CUSTOMER_AUDIENCE, None),
            )
            .map_err(|e| unauthorized(format!("invalid customer token: {e}")))?;
            return Ok(Principal::Customer(customer(data.claims, true)));
        }
        if aud == BOT_AUDIENCE {
            return Err(CommandError::forbidden(
                "bot tokens are for the bot API (/v1/bot/…) only",
            ));
        }
        if aud == VISITOR_AUDIENCE {
            let data = jsonwebtoken::decode::<CustomerClaims>(
                token,
                &self.decoding,
                &validation(VISITOR_AUDIENCE, Some(&self.issuer)),
            )
            .map_err(|e| unauthorized(format!("invalid visitor token: {e}")))?;
            return Ok(Principal::Customer(customer(data.claims, false)));
        }
        let data = jsonwebtoken::decode::<StaffClaims>(
            token,
            &self.decoding,
            &validation(&self.audience, Some(&self.issuer)),
        )
        .map_err(|e| unauthorized(format!("invalid token: {e}")))?;
        let c = data.claims;
        if c.roles.is_empty() {
            return Err(unauthorized("token carries no role"));
        }
        Ok(Principal::Staff(Staff {
            name: c.name.unwrap_or_else(|| c.sub.to_string()),
            org: c.org,
            id: c.sub,
            roles: c.roles,
            queues: c.queues,
        }))
    }
}

/// Whether a token claims to be a visitor or verified-customer token (unverified: only used to
/// choose the error a customer gets on a staff-only route).
pub fn is_customer_token(token: &str) -> bool {
    #[derive(Deserialize)]
    struct Peek {
        aud: serde_json::Value,
    }
    jsonwebtoken::dangerous::insecure_decode_claims::<Peek>(token)
        .is_ok_and(|p| matches!(p.aud.as_str(), Some(CUSTOMER_AUDIENCE | VISITOR_AUDIENCE)))
}

/// Whether a token claims to be a bot token (unverified: only used to choose the error).
pub fn is_bot_token(token: &str) -> bool {
    #[derive(Deserialize)]
    struct Peek {
        aud: serde_json::Value,
    }
    jsonwebtoken::dangerous::insecure_decode_claims::<Peek>(token)
        .is_ok_and(|p| p.aud.as_str() == Some(BOT_AUDIENCE))
}

fn customer(c: CustomerClaims, verified: bool) -> Customer {
    Customer {
        org: c.org,
        id: c.sub,
        name: c.name,
        email: c.email,
        verified,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn auth(secret: &str) -> Authenticator {
        Authenticator::new(&AuthSettings {
            jwt_secret: Secret::new(secret),
            issuer: "switchboard".into(),
            audience: "switchboard".into(),
            visitor_token_ttl_secs: 60,
            dev_token_ttl_secs: 60,
        })
    }

    fn org() -> OrgId {
        OrgId::parse("demo").expect("id")
    }

    #[test]
    fn staff_token_round_trip_and_wrong_secret() {
        let a = auth("s1");
        let t = a
            .mint_staff(
                org(),
                AgentId::parse("al").expect("id"),
                None,
                vec![Role::Agent],
                vec![],
                60,
            )
            .expect("mint");
        match a.verify(&t, |_| None).expect("valid") {
            Principal::Staff(s) => {
                assert_eq!(s.org, org());
                assert_eq!(s.roles, vec![Role::Agent]);
            }
            other => panic!("expected staff, got {other:?}"),
        }
        let err = auth("s2").verify(&t, |_| None).expect_err("wrong secret");
        assert_eq!(err.code, ErrorCode::Unauthorized);
    }

    #[test]
    fn expired_and_alg_none_tokens_are_refused() {
        let a = auth("s1");
        // An hour past expiry: well beyond the 30 s leeway.
        let past = StaffClaims {
            iss: "switchboard".into(),
            aud: "switchboard".into(),
            sub: AgentId::parse("al").expect("id"),
            exp: now_secs() - 3600,
            iat: now_secs() - 7200,
            org: org(),
            roles: vec![Role::Agent],
            queues: vec![],
            name: None,
        };
        let expired = a.sign(&past).expect("sign");
        assert!(a.verify(&expired, |_| None).is_err());
        // An unsigned token ("alg": "none") must never pass.
        let header = r#"{"alg":"none","typ":"JWT"}"#;
        let body = serde_json::to_string(&StaffClaims {
            exp: now_secs() + 60,
            ..past
        })
        .expect("json");
        let unsigned = format!(
            "{}.{}.",
            base64_url::encode(header),
            base64_url::encode(&body)
        );
        assert!(a.verify(&unsigned, |_| None).is_err());
    }

    #[test]
    fn a_bot_token_is_a_bot_and_nothing_else() {
        let a = auth("s1");
        let (t, _) = a.mint_bot(org(), "faq".into(), 60).expect("mint");
        let bot = a.verify_bot(&t).expect("valid");
        assert_eq!((bot.org, bot.id.as_str()), (org(), "faq"));
        // Not a staff or customer token anywhere else (websocket, staff REST) …
        assert_eq!(
            a.verify(&t, |_| None).expect_err("refused").code,
            ErrorCode::Forbidden
        );
        assert!(is_bot_token(&t) && !is_customer_token(&t));
        assert!(auth("s2").verify_bot(&t).is_err());
        // … and a staff token is no bot token.
        let staff = a
            .mint_staff(
                org(),
                AgentId::parse("al").expect("id"),
                None,
                vec![Role::Admin],
                vec![],
                60,
            )
            .expect("mint");
        assert!(a.verify_bot(&staff).is_err());
    }

    #[test]
    fn verified_customer_needs_the_orgs_secret() {
        let a = auth("s1");
        let t = Authenticator::mint_customer_with(
            "org-secret",
            org(),
            CustomerId::parse("cust1").expect("id"),
            "Ada".into(),
            None,
            60,
        )
        .expect("mint");
        let ok = a.verify(&t, |_| Some("org-secret".into())).expect("valid");
        assert!(matches!(
            ok,
            Principal::Customer(Customer { verified: true, .. })
        ));
        assert!(a.verify(&t, |_| Some("other".into())).is_err());
        assert!(a.verify(&t, |_| None).is_err());
    }

    mod base64_url {
        /// Minimal URL-safe base64 without padding, only for forging test tokens.
        pub fn encode(s: &str) -> String {
            const T: &[u8; 64] =
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            let b = s.as_bytes();
            let mut out = String::new();
            for chunk in b.chunks(3) {
                let n = chunk
                    .iter()
                    .enumerate()
                    .fold(0u32, |acc, (i, &x)| acc | (x as u32) << (16 - 8 * i));
                let chars = chunk.len() + 1;
                for i in 0..chars {
                    out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
                }
            }
            out
        }
    }
}
