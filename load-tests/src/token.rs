//! Agent tokens: HS256 JWTs with the claims the server expects of staff (`sub`, `org`, `roles`,
//! `queues`, `name`), signed with the scenario's secret, as an identity provider would.

use anyhow::Context;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

use crate::clock;
use crate::scenario::Target;

#[derive(Serialize)]
struct StaffClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    exp: u64,
    iat: u64,
    org: &'a str,
    roles: &'a [&'a str],
    queues: &'a [String],
    name: &'a str,
}

pub fn agent(
    target: &Target,
    id: &str,
    name: &str,
    queues: &[String],
    ttl_secs: u64,
) -> anyhow::Result<String> {
    staff(target, id, name, &["agent"], queues, ttl_secs)
}

/// A supervisor's token (`monitor`); no queues, so it is never offered chats.
pub fn supervisor(target: &Target, id: &str, name: &str, ttl_secs: u64) -> anyhow::Result<String> {
    staff(target, id, name, &["supervisor"], &[], ttl_secs)
}

/// An admin's token, for the org's settings (`[conference] invite_expiry_ms`).
pub fn admin(target: &Target, ttl_secs: u64) -> anyhow::Result<String> {
    staff(
        target,
        "switchboard-load",
        "Load Generator",
        &["admin"],
        &[],
        ttl_secs,
    )
}

fn staff(
    target: &Target,
    id: &str,
    name: &str,
    roles: &[&str],
    queues: &[String],
    ttl_secs: u64,
) -> anyhow::Result<String> {
    let now = clock::unix_secs();
    let claims = StaffClaims {
        iss: &target.issuer,
        aud: &target.audience,
        sub: id,
        exp: now + ttl_secs,
        iat: now,
        org: &target.org,
        roles,
        queues,
        name,
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(target.jwt_secret.as_bytes()),
    )
    .context("signing an agent token")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_hs256() {
        let t = agent(
            &Target::default(),
            "lg-a1",
            "Load Agent 1",
            &["general".to_string()],
            60,
        )
        .expect("token");
        assert_eq!(t.split('.').count(), 3);
        let header = t.split('.').next().expect("header");
        assert!(header.starts_with("eyJ"), "base64 JSON header");
    }
}
