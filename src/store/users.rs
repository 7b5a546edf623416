//! The web console's users kept in the store (`ogi-audit user add`): a name, an argon2 hash of
//! the password (never the password), a role and a scope of issuer patterns.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::{Store, StoreError};
use crate::config::Role;

/// A user as stored.
#[derive(Debug, Clone, Serialize)]
pub struct StoredUser {
    pub name: String,
    #[serde(skip)]
    pub password_hash: String,
    pub role: Role,
    pub scope: Vec<String>,
    pub created_at: String,
}

fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredUser> {
    let role: String = r.get(2)?;
    let scope: String = r.get(3)?;
    Ok(StoredUser {
        name: r.get(0)?,
        password_hash: r.get(1)?,
        // The table's CHECK allows only the three roles.
        role: role.parse().unwrap_or(Role::Viewer),
        scope: serde_json::from_str(&scope).unwrap_or_default(),
        created_at: r.get(4)?,
    })
}

/// How many users a database holds, whatever its schema version (0 before the users table
/// existed): the daemon asks before it migrates the store.
pub fn count_users(path: &std::path::Path) -> Result<i64, StoreError> {
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|source| StoreError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let has_table: i64 = conn.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'users'",
        [],
        |r| r.get(0),
    )?;
    if has_table == 0 {
        return Ok(0);
    }
    Ok(conn.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?)
}

impl Store {
    /// Adds a user, or replaces the hash, role and scope of one of that name; returns whether
    /// the user was new.
    pub fn put_user(
        &self,
        name: &str,
        password_hash: &str,
        role: Role,
        scope: &[String],
    ) -> Result<bool, StoreError> {
        let existed = self.user(name)?.is_some();
        self.conn.execute(
            "INSERT INTO users (name, password_hash, role, scope, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (name) DO UPDATE SET password_hash = ?2, role = ?3, scope = ?4",
            params![
                name,
                password_hash,
                role.as_str(),
                serde_json::to_string(scope).unwrap_or_else(|_| "[]".into()),
                super::now()
            ],
        )?;
        Ok(!existed)
    }

    /// Removes a user; returns whether there was one.
    pub fn remove_user(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .execute("DELETE FROM users WHERE name = ?1", [name])?
            > 0)
    }

    pub fn user(&self, name: &str) -> Result<Option<StoredUser>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT name, password_hash, role, scope, created_at FROM users WHERE name = ?1",
                [name],
                user_row,
            )
            .optional()?)
    }

    pub fn users(&self) -> Result<Vec<StoredUser>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT name, password_hash, role, scope, created_at FROM users ORDER BY name",
        )?;
        let rows = stmt.query_map([], user_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
