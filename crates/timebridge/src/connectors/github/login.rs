//! The member's GitHub login, `github_username`: a member setting of the GitHub connector. It
//! is kept on `users`, not on the integration, because the webhook joins an issue's assignee
//! to the member by it (`directory::service::active_member_by`). It is part of the user as
//! every workspace of theirs shows it (`users/me`, `users`), so a change is written through a
//! `WorkspaceChange` of each of those workspaces, recording `user.updated` there.

use sea_orm::{ActiveModelTrait, DbErr, EntityTrait, Set};
use serde_json::{Map, Value};

use crate::{
    app::AppState,
    directory::{entity::user, service::memberships_of, view::UserView},
    platform::{
        acting::Acting,
        changes::WorkspaceChange,
        error::FieldErrors,
        outbox::{Actor, ActorKind, EventType},
        time,
    },
};

/// The setting's name, in the config view and in a PUT body.
pub const SETTING: &str = "github_username";

/// `{"github_username": …}` when the member has a login, else nothing.
pub async fn load(app: &AppState, acting: &Acting) -> Result<Map<String, Value>, DbErr> {
    let login = user::Entity::find_by_id(acting.user_id)
        .one(app.db.conn())
        .await?
        .and_then(|u| u.github_username);
    Ok(login
        .map(|login| Map::from_iter([(SETTING.to_owned(), Value::String(login))]))
        .unwrap_or_default())
}

/// Takes the login out of a config body: `{"github_username": "login"}` sets it,
/// `{"github_username": null}` clears it, and an invalid one is an error of that field.
pub fn take(changes: &mut Map<String, Value>, errors: &mut FieldErrors) -> Map<String, Value> {
    let Some(value) = changes.remove(SETTING) else {
        return Map::new();
    };
    let checked = match value {
        Value::Null => Some(Value::Null),
        Value::String(s) => {
            let s = s.trim();
            if valid(s) {
                Some(Value::String(s.to_owned()))
            } else {
                errors.add(SETTING, "must be a GitHub login");
                None
            }
        }
        _ => {
            errors.add(SETTING, "must be a string");
            None
        }
    };
    checked
        .map(|v| Map::from_iter([(SETTING.to_owned(), v)]))
        .unwrap_or_default()
}

/// Saves what [`take`] took, when it changes the login: in the acting workspace's change,
/// which records `user.updated`, then in a change of each other workspace of the member, which
/// records it there too. Each change advances its workspace's data version, so no cached
/// `users/me` or `users` shows the old login once this returns.
pub async fn save(
    app: &AppState,
    acting: &Acting,
    settings: &Map<String, Value>,
) -> Result<(), DbErr> {
    let Some(value) = settings.get(SETTING) else {
        return Ok(());
    };
    let login = value.as_str().map(str::to_owned);
    let Some(current) = user::Entity::find_by_id(acting.user_id)
        .one(app.db.conn())
        .await?
    else {
        return Ok(());
    };
    if current.github_username == login {
        return Ok(());
    }
    let workspaces = memberships_of(app.db.conn(), &current).await?;
    let mut change =
        WorkspaceChange::begin(&app.db, acting.workspace_id, acting.actor.clone()).await?;
    let updated = user::ActiveModel {
        id: Set(acting.user_id),
        github_username: Set(login),
        updated_at: Set(time::now()),
        ..Default::default()
    }
    .update(&*change)
    .await?;
    let (here, elsewhere): (Vec<_>, Vec<_>) = workspaces
        .into_iter()
        .partition(|m| m.workspace.id == acting.workspace_id);
    for member in here {
        let view = UserView::new(updated.clone(), member.role, member.active_here);
        change.record(EventType::UserUpdated, view.id, &view)?;
    }
    change.commit().await?;
    // The member's own change, without naming the token of another workspace.
    let actor = Actor {
        kind: ActorKind::User,
        user_id: Some(acting.user_id),
        token_id: None,
        via: None,
    };
    for member in elsewhere {
        let mut change =
            WorkspaceChange::begin(&app.db, member.workspace.id, actor.clone()).await?;
        let view = UserView::new(updated.clone(), member.role, member.active_here);
        change.record(EventType::UserUpdated, view.id, &view)?;
        change.commit().await?;
    }
    Ok(())
}

/// A GitHub login: 1–39 letters, digits or hyphens.
fn valid(login: &str) -> bool {
    !login.is_empty()
        && login.len() <= 39
        && login.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn taken(body: Value) -> (Map<String, Value>, Map<String, Value>, bool) {
        let Value::Object(mut changes) = body else {
            unreachable!("a test body is an object")
        };
        let mut errors = FieldErrors::new();
        let settings = take(&mut changes, &mut errors);
        (settings, changes, errors.has(SETTING))
    }

    #[test]
    fn a_login_is_taken_out_of_the_body_trimmed() {
        let (settings, rest, error) = taken(json!({"github_username": " OctoCat ", "repo": "a/b"}));
        assert_eq!(
            Value::Object(settings),
            json!({"github_username": "OctoCat"})
        );
        assert_eq!(Value::Object(rest), json!({"repo": "a/b"}));
        assert!(!error);
    }

    #[test]
    fn null_clears_the_login_and_absence_keeps_it() {
        let (settings, _, error) = taken(json!({"github_username": null}));
        assert_eq!(Value::Object(settings), json!({"github_username": null}));
        assert!(!error);
        let (settings, _, error) = taken(json!({"repo": "a/b"}));
        assert!(settings.is_empty() && !error);
    }

    #[test]
    fn what_is_not_a_login_is_an_error_of_the_field() {
        for bad in [
            json!("octo cat"),
            json!(""),
            json!("a".repeat(40)),
            json!(7),
        ] {
            let (settings, rest, error) = taken(json!({"github_username": bad}));
            assert!(settings.is_empty() && rest.is_empty() && error, "{bad}");
        }
    }
}
