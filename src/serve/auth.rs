//! API keys and roles.
//!
//! * **operator**: the key from the configuration (`LORE_OPERATOR_KEY`); creates knowledge
//!   bases and their keys, and may act as the admin of any knowledge base.
//! * **admin**: manages one knowledge base.
//! * **agent**: searches one knowledge base, only in the sources linked to its agent.
//!
//! Keys are random 256-bit secrets shown once; the catalog stores their SHA-256. A missing or
//! unknown key is 401; a key used on a knowledge base that is not its own gets the same 404 as
//! a knowledge base that does not exist, so nothing about other accounts can be learnt.

use super::error::ApiError;
use super::AppState;
use crate::store::access::KeyRole;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Operator,
    Admin {
        kb_id: i64,
        kb: String,
    },
    Agent {
        kb_id: i64,
        kb: String,
        agent_id: i64,
    },
}

impl Principal {
    pub fn role(&self) -> &'static str {
        match self {
            Principal::Operator => "operator",
            Principal::Admin { .. } => "admin",
            Principal::Agent { .. } => "agent",
        }
    }

    /// Refuses anyone but the operator.
    pub fn operator(&self) -> Result<(), ApiError> {
        match self {
            Principal::Operator => Ok(()),
            _ => Err(ApiError::forbidden("only the operator key may do this")),
        }
    }

    /// Checks that the key may see knowledge base `kb` at all; 404 otherwise (another
    /// account's knowledge base looks exactly like one that does not exist).
    pub fn sees(&self, kb: &str) -> Result<(), ApiError> {
        match self {
            Principal::Operator => Ok(()),
            Principal::Admin { kb: own, .. } | Principal::Agent { kb: own, .. } if own == kb => {
                Ok(())
            }
            _ => Err(ApiError::not_found(format!("no knowledge base {kb:?}"))),
        }
    }

    /// Checks that the key may manage knowledge base `kb` (operator or its admin).
    pub fn admin_of(&self, kb: &str) -> Result<(), ApiError> {
        self.sees(kb)?;
        match self {
            Principal::Agent { .. } => Err(ApiError::forbidden(
                "agent keys may only search; this needs an admin key",
            )),
            _ => Ok(()),
        }
    }

    /// The agent an agent key is bound to.
    pub fn agent_id(&self) -> Option<i64> {
        match self {
            Principal::Agent { agent_id, .. } => Some(*agent_id),
            _ => None,
        }
    }
}

/// SHA-256 of a key, hex: what the catalog stores and looks up.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A new random key: `lore_` and 64 hex digits (256 bits from the operating system).
pub fn new_key() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| {
        ApiError::from(crate::Error::Internal(format!(
            "no randomness for a key: {e}"
        )))
    })?;
    Ok(format!("lore_{}", hex::encode(bytes)))
}

/// Compares two byte strings in time independent of where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The caller, from `Authorization: Bearer <key>`.
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(ApiError::unauthorized)?
            .to_string();
        let hash = hash_key(&key);
        if let Some(op) = &state.config().operator_key {
            if same(hash_key(op).as_bytes(), hash.as_bytes()) {
                return Ok(Auth(Principal::Operator));
            }
        }
        let row = state
            .blocking(move |lore| Ok(lore.catalog().key_by_hash(&hash)?))
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        Ok(Auth(match (row.role, row.agent_id) {
            (KeyRole::Admin, _) => Principal::Admin {
                kb_id: row.kb_id,
                kb: row.kb_name,
            },
            (KeyRole::Agent, Some(agent_id)) => Principal::Agent {
                kb_id: row.kb_id,
                kb: row.kb_name,
                agent_id,
            },
            (KeyRole::Agent, None) => return Err(ApiError::unauthorized()),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_and_only_their_hash_matches() {
        let a = new_key().unwrap();
        let b = new_key().unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("lore_") && a.len() == 5 + 64);
        assert_eq!(hash_key(&a), hash_key(&a));
        assert_ne!(hash_key(&a), hash_key(&b));
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"ab"));
    }

    #[test]
    fn a_key_sees_only_its_own_kb() {
        let admin = Principal::Admin {
            kb_id: 1,
            kb: "a".into(),
        };
        assert!(admin.admin_of("a").is_ok());
        let other = admin.admin_of("b").unwrap_err();
        assert_eq!(other.status, axum::http::StatusCode::NOT_FOUND);
        let agent = Principal::Agent {
            kb_id: 1,
            kb: "a".into(),
            agent_id: 3,
        };
        assert!(agent.sees("a").is_ok());
        assert_eq!(
            agent.admin_of("a").unwrap_err().status,
            axum::http::StatusCode::FORBIDDEN
        );
        assert_eq!(
            agent.admin_of("b").unwrap_err().status,
            axum::http::StatusCode::NOT_FOUND
        );
        assert!(Principal::Operator.admin_of("anything").is_ok());
        assert!(admin.operator().is_err());
    }
}
