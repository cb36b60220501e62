//! Accounts, sign-in and API tokens: who may read and change what.

use super::dashboard::ModelError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What an account may do: a Viewer reads everything and changes nothing; an Editor changes
/// dashboards, rules and silences; an Admin also manages users, tokens, contact points and
/// settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Editor,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Editor => "editor",
            Self::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "viewer" => Self::Viewer,
            "editor" => Self::Editor,
            "admin" => Self::Admin,
            _ => return None,
        })
    }
}

/// What an API token may be used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Sending data: remote-write, OTLP, Loki push.
    Ingest,
    /// The Prometheus query API (a Grafana data source).
    Read,
    /// Alertmanager's API: Prometheus sending alerts, `amtool`.
    Alertmanager,
    /// Everything an Admin may do.
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ingest => "ingest",
            Self::Read => "read",
            Self::Alertmanager => "alertmanager",
            Self::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "ingest" => Self::Ingest,
            "read" => Self::Read,
            "alertmanager" => Self::Alertmanager,
            "admin" => Self::Admin,
            _ => return None,
        })
    }
}

/// An account as the API shows it (never its password).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub id: i64,
    pub login: String,
    pub name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

/// Make an account (an Admin's doing).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewAccount {
    pub login: String,
    #[serde(default)]
    pub name: String,
    pub role: Role,
    pub password: String,
}

/// Change an account's name and role.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UpdateAccount {
    #[serde(default)]
    pub name: String,
    pub role: Role,
}

/// Sign in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SignIn {
    pub login: String,
    pub password: String,
}

/// Change one's own password.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PasswordChange {
    pub current: String,
    pub new: String,
}

/// The shortest and longest password accepted.
pub const PASSWORD_LENGTH: std::ops::RangeInclusive<usize> = 12..=256;

impl PasswordChange {
    pub fn validate(&self) -> Vec<ModelError> {
        let mut errors = Vec::new();
        let chars = self.new.chars().count();
        if !PASSWORD_LENGTH.contains(&chars) {
            errors.push(ModelError {
                field: "new".into(),
                message: format!(
                    "a password is {} to {} characters",
                    PASSWORD_LENGTH.start(),
                    PASSWORD_LENGTH.end()
                ),
            });
        } else if self.new == self.current {
            errors.push(ModelError {
                field: "new".into(),
                message: "the new password must differ from the current one".into(),
            });
        }
        errors
    }
}

/// A team: accounts that share folder permissions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Team {
    pub id: i64,
    pub name: String,
    /// Member logins, sorted.
    pub members: Vec<String>,
}

/// Make a team, or set its members (logins).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SaveTeam {
    pub name: String,
    #[serde(default)]
    pub members: Vec<String>,
}

/// What folders hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FolderKind {
    Dashboards,
    Rules,
}

impl FolderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dashboards => "dashboards",
            Self::Rules => "rules",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "dashboards" => Some(Self::Dashboards),
            "rules" => Some(Self::Rules),
            _ => None,
        }
    }
}

/// What a grant allows in a folder: `edit` includes `view`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    View,
    Edit,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::View => "view",
            Self::Edit => "edit",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "view" => Some(Self::View),
            "edit" => Some(Self::Edit),
            _ => None,
        }
    }
}

/// One grant: a team or an account (by name) and what it may do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Grant {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<String>,
    pub permission: Permission,
}

/// A folder's grants; none: the folder is open to every role as the role says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FolderPermissions {
    pub kind: FolderKind,
    pub folder: String,
    pub grants: Vec<Grant>,
}

/// The body that sets a folder's grants (`PUT /api/auth/folders/<kind>/<folder>`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FolderGrants {
    pub grants: Vec<Grant>,
}

/// An API token as listed (its secret is shown once, at creation).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Make an API token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreateToken {
    pub name: String,
    pub scopes: Vec<Scope>,
    /// When it stops working; none: until revoked.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

impl CreateToken {
    pub fn validate(&self, now: DateTime<Utc>) -> Vec<ModelError> {
        let mut errors = Vec::new();
        let name = self.name.trim();
        if name.is_empty() || name.len() > 100 {
            errors.push(ModelError {
                field: "name".into(),
                message: "name the token (1 to 100 characters), e.g. prometheus-remote-write"
                    .into(),
            });
        }
        if self.scopes.is_empty() {
            errors.push(ModelError {
                field: "scopes".into(),
                message: "at least one of ingest, read, alertmanager, admin".into(),
            });
        }
        if self.expires_at.is_some_and(|t| t <= now) {
            errors.push(ModelError {
                field: "expires_at".into(),
                message: "must be in the future".into(),
            });
        }
        errors
    }
}

/// A token just made: the secret, shown this once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreatedToken {
    pub token: ApiToken,
    pub secret: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_tokens_are_checked_by_field() {
        let change = |new: &str| PasswordChange {
            current: "an old long password".into(),
            new: new.into(),
        };
        assert_eq!(change("short").validate()[0].field, "new");
        assert_eq!(change("an old long password").validate()[0].field, "new");
        assert!(change("a brand new passphrase").validate().is_empty());
        let now = Utc::now();
        let token = CreateToken {
            name: " ".into(),
            scopes: vec![],
            expires_at: Some(now),
        };
        let fields: Vec<String> = token.validate(now).into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["name", "scopes", "expires_at"]);
        assert_eq!(Scope::parse("ingest"), Some(Scope::Ingest));
        assert_eq!(Role::parse("root"), None);
    }
}
