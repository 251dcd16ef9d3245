//! The member's GitHub login, `github_username`: a member setting of the GitHub connector. It
//! is kept on `users`, not on the integration, because the webhook joins an issue's assignee
//! to the member by it (`webhook::member_by_login`).

use sea_orm::{ActiveModelTrait, DbErr, EntityTrait, Set};
use serde_json::{Map, Value};

use crate::{
    app::AppState,
    directory::entity::user,
    platform::{acting::Acting, error::FieldErrors, time},
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

/// Saves what [`take`] took.
pub async fn save(
    app: &AppState,
    acting: &Acting,
    settings: &Map<String, Value>,
) -> Result<(), DbErr> {
    let Some(value) = settings.get(SETTING) else {
        return Ok(());
    };
    user::ActiveModel {
        id: Set(acting.user_id),
        github_username: Set(value.as_str().map(str::to_owned)),
        updated_at: Set(time::now()),
        ..Default::default()
    }
    .update(app.db.conn())
    .await
    .map(|_| ())
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
