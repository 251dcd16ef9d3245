//! The one place where a broken database constraint becomes an API error.
//!
//! Each capability declares what its constraints mean ([`ConstraintRule`]s: "a duplicate in
//! `ux_clients_workspace_name` is 409, a client with this name exists"); the application
//! registers every capability's rules once at start-up ([`register`]); `From<DbErr> for
//! ApiError` asks [`api_error`]. A violation no rule covers stays a 500: it is a bug. Where a
//! duplicate is expected and answered otherwise (a concurrent request made the row first),
//! the service asks [`violated`] with the [`UniqueKey`].
//!
//! The backends report violations differently. PostgreSQL names every constraint. SQLite names
//! the table and columns of a unique index (`UNIQUE constraint failed: clients.workspace_id,
//! clients.name`), or the index itself when it indexes expressions (`UNIQUE constraint
//! failed: index 'name'`), so a [`UniqueKey`] carries all three. SQLite names no foreign key at
//! all (`FOREIGN KEY constraint failed`): services check what they can before writing, so
//! the key is a backstop against races, and an unnamed foreign-key violation answers a generic
//! 409 ([`UNNAMED_REFERENCE`]).

use std::sync::{PoisonError, RwLock};

use sea_orm::{
    DbErr, RuntimeErr,
    sqlx::{self, error::ErrorKind},
};

use super::error::ApiError;

/// A unique index or constraint as the migrations create it: its name, which PostgreSQL
/// reports, and its table and columns, which SQLite reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UniqueKey {
    pub name: &'static str,
    pub table: &'static str,
    pub columns: &'static [&'static str],
}

impl UniqueKey {
    pub const fn new(
        name: &'static str,
        table: &'static str,
        columns: &'static [&'static str],
    ) -> Self {
        Self {
            name,
            table,
            columns,
        }
    }

    /// Whether `violation` is a duplicate in this key.
    pub fn is(&self, violation: &Violation) -> bool {
        match violation {
            Violation::UniqueNamed(name) => name == self.name,
            Violation::UniqueColumns { table, columns } => {
                table == self.table && columns.iter().eq(self.columns.iter())
            }
            Violation::ForeignKey { .. } => false,
        }
    }
}

/// What a request that breaks a constraint is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// 409 with this message.
    Conflict(&'static str),
    /// 400 naming the field the constraint guards.
    Invalid {
        field: &'static str,
        message: &'static str,
    },
}

impl Answer {
    pub const fn invalid(field: &'static str, message: &'static str) -> Self {
        Self::Invalid { field, message }
    }

    fn to_error(self) -> ApiError {
        match self {
            Self::Conflict(message) => ApiError::Conflict(message.into()),
            Self::Invalid { field, message } => ApiError::invalid(field, message),
        }
    }
}

/// One constraint, broken one way, and the answer it gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConstraintRule {
    broken: Broken,
    answer: Answer,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Broken {
    Duplicate(UniqueKey),
    /// A row refers through the named foreign key to a row that does not exist.
    MissingReference(&'static str),
    /// A row other rows refer to through the named foreign key was deleted (or its key changed).
    StillReferenced(&'static str),
}

impl ConstraintRule {
    /// A write that duplicates `key`.
    pub const fn duplicate(key: UniqueKey, answer: Answer) -> Self {
        Self {
            broken: Broken::Duplicate(key),
            answer,
        }
    }

    /// A write of a referring row whose referred row (through foreign key `name`) is missing.
    pub const fn missing_reference(name: &'static str, answer: Answer) -> Self {
        Self {
            broken: Broken::MissingReference(name),
            answer,
        }
    }

    /// A delete of a row that others still refer to through foreign key `name`.
    pub const fn still_referenced(name: &'static str, answer: Answer) -> Self {
        Self {
            broken: Broken::StillReferenced(name),
            answer,
        }
    }

    fn covers(&self, violation: &Violation) -> bool {
        match (self.broken, violation) {
            (Broken::Duplicate(key), v) => key.is(v),
            (
                Broken::MissingReference(fk),
                Violation::ForeignKey {
                    name: Some(name),
                    reference: Reference::Missing,
                },
            )
            | (
                Broken::StillReferenced(fk),
                Violation::ForeignKey {
                    name: Some(name),
                    reference: Reference::InUse,
                },
            ) => name == fk,
            _ => false,
        }
    }

    /// The foreign key this rule is about, if it is about one.
    fn foreign_key(&self) -> Option<&'static str> {
        match self.broken {
            Broken::MissingReference(fk) | Broken::StillReferenced(fk) => Some(fk),
            Broken::Duplicate(_) => None,
        }
    }
}

/// The answer to a foreign-key violation the backend does not name (SQLite), or names but
/// without saying which way it was broken.
pub const UNNAMED_REFERENCE: &str = "The change refers to a record that does not exist, \
     or removes a record that others still refer to";

/// A constraint violation, as far as the backend describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// A duplicate in the named unique index or constraint (PostgreSQL; SQLite for an index on
    /// expressions).
    UniqueNamed(String),
    /// A duplicate in the unique index on these columns (SQLite).
    UniqueColumns { table: String, columns: Vec<String> },
    /// A foreign key, named by PostgreSQL only.
    ForeignKey {
        name: Option<String>,
        reference: Reference,
    },
}

/// Which way a foreign key was broken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reference {
    /// The referring row was written with a reference to a missing row.
    Missing,
    /// The referred row was deleted while rows still refer to it.
    InUse,
    /// The backend does not say (SQLite; PostgreSQL with translated messages).
    Unknown,
}

impl Violation {
    /// The unique or foreign-key violation `err` reports, if it reports one.
    pub fn of(err: &DbErr) -> Option<Self> {
        let (DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e))) = err
        else {
            return None;
        };
        let sqlx::Error::Database(e) = e.as_ref() else {
            return None;
        };
        match e.kind() {
            ErrorKind::UniqueViolation => match e.constraint() {
                Some(name) => Some(Self::UniqueNamed(name.to_owned())),
                None => sqlite_unique(e.message()),
            },
            ErrorKind::ForeignKeyViolation => Some(Self::ForeignKey {
                name: e.constraint().map(str::to_owned),
                reference: reference_of(e.message()),
            }),
            _ => None,
        }
    }
}

/// `UNIQUE constraint failed: t.a, t.b` or `UNIQUE constraint failed: index 'name'`.
fn sqlite_unique(message: &str) -> Option<Violation> {
    let found = message.strip_prefix("UNIQUE constraint failed: ")?;
    if let Some(name) = found
        .strip_prefix("index '")
        .and_then(|n| n.strip_suffix('\''))
    {
        return Some(Violation::UniqueNamed(name.to_owned()));
    }
    let mut table = None;
    let mut columns = Vec::new();
    for qualified in found.split(", ") {
        let (t, column) = qualified.split_once('.')?;
        if *table.get_or_insert(t) != t {
            return None;
        }
        columns.push(column.to_owned());
    }
    Some(Violation::UniqueColumns {
        table: table?.to_owned(),
        columns,
    })
}

/// PostgreSQL reports both ways of breaking a foreign key under one code and one constraint
/// name; only its (English) message tells them apart.
fn reference_of(message: &str) -> Reference {
    if message.starts_with("insert or update on table") {
        Reference::Missing
    } else if message.starts_with("update or delete on table") {
        Reference::InUse
    } else {
        Reference::Unknown
    }
}

/// Every capability's rules; a process registers them once at start-up.
static RULES: RwLock<Vec<ConstraintRule>> = RwLock::new(Vec::new());

/// Adds a capability's rules. Registering a rule again changes nothing, so every application
/// built in one process (tests build many) may register.
pub fn register(rules: &[ConstraintRule]) {
    // A poisoned lock only means a panic between two pushes of whole rules.
    let mut known = RULES.write().unwrap_or_else(PoisonError::into_inner);
    for rule in rules {
        if !known.iter().any(|k| k.broken == rule.broken) {
            known.push(*rule);
        }
    }
}

/// Whether `err` is a duplicate in `key`: for writes where a duplicate is expected and
/// answered otherwise than with an error (e.g. a concurrent request made the row first).
pub fn violated(err: &DbErr, key: &UniqueKey) -> bool {
    Violation::of(err).is_some_and(|v| key.is(&v))
}

/// The API error a registered rule gives `err`, if `err` breaks a constraint it covers, or the
/// generic 409 for a foreign-key violation the backend does not name (see the module doc).
pub fn api_error(err: &DbErr) -> Option<ApiError> {
    let violation = Violation::of(err)?;
    let rules = RULES.read().unwrap_or_else(PoisonError::into_inner);
    if let Some(rule) = rules.iter().find(|r| r.covers(&violation)) {
        return Some(rule.answer.to_error());
    }
    let Violation::ForeignKey { name, reference } = &violation else {
        return None;
    };
    let expected = match name {
        None => true,
        Some(name) => {
            *reference == Reference::Unknown && rules.iter().any(|r| r.foreign_key() == Some(name))
        }
    };
    expected.then(|| ApiError::Conflict(UNNAMED_REFERENCE.into()))
}

/// Test support: what the schema the migrations make lacks of `rules` and `keys`, so each
/// capability's tests catch a rule that drifted from the migrations. On SQLite, a unique index
/// on each key's columns; on PostgreSQL, when `TEST_DATABASE_URL` names one, every key and
/// foreign key by its name (SQLite keeps no foreign key's name).
#[cfg(test)]
pub(crate) async fn absent_from_schema(
    rules: &[ConstraintRule],
    keys: &[UniqueKey],
) -> Vec<String> {
    let mut keys = keys.to_vec();
    keys.extend(rules.iter().filter_map(|r| match r.broken {
        Broken::Duplicate(key) => Some(key),
        _ => None,
    }));
    let foreign_keys: Vec<_> = rules
        .iter()
        .filter_map(ConstraintRule::foreign_key)
        .collect();
    let mut absent = schema_check::sqlite(&keys).await;
    if let Ok(url) = std::env::var("TEST_DATABASE_URL") {
        absent.extend(schema_check::postgres(&url, &keys, &foreign_keys).await);
    }
    absent
}

#[cfg(test)]
mod schema_check {
    use migration::MigratorTrait;
    use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, Statement};

    use super::UniqueKey;

    async fn migrated(options: ConnectOptions) -> DatabaseConnection {
        let db = Database::connect(options).await.expect("connect");
        migration::Migrator::up(&db, None).await.expect("migrate");
        db
    }

    /// The rows of a query of `width` text columns (NULL read as empty).
    async fn texts(db: &DatabaseConnection, sql: String, width: usize) -> Vec<Vec<String>> {
        let rows = db
            .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .expect("read the schema");
        let text = |row: &sea_orm::QueryResult, i| {
            let value: Option<String> = row.try_get_by_index(i).expect("a text column");
            value.unwrap_or_default()
        };
        rows.iter()
            .map(|row| (0..width).map(|i| text(row, i)).collect())
            .collect()
    }

    pub async fn sqlite(keys: &[UniqueKey]) -> Vec<String> {
        // One connection: each connection to `sqlite::memory:` is a database of its own.
        let mut options = ConnectOptions::new("sqlite::memory:");
        options.max_connections(1);
        let db = migrated(options).await;
        let mut absent = Vec::new();
        for key in keys {
            let sql = format!(
                "SELECT il.name, ii.name FROM pragma_index_list('{}') il, \
                 pragma_index_info(il.name) ii WHERE il.\"unique\" ORDER BY il.name, ii.seqno",
                key.table
            );
            let mut indexes: Vec<(String, Vec<String>)> = Vec::new();
            for row in texts(&db, sql, 2).await {
                let [index, column] = <[String; 2]>::try_from(row).expect("two columns");
                match indexes.last_mut() {
                    Some((name, columns)) if *name == index => columns.push(column),
                    _ => indexes.push((index, vec![column])),
                }
            }
            // A column's own UNIQUE is an automatic index.
            let found = indexes.iter().any(|(name, columns)| {
                (name == key.name || name.starts_with("sqlite_autoindex_"))
                    && columns.iter().eq(key.columns.iter())
            });
            if !found {
                absent.push(format!("SQLite: unique key {key:?}"));
            }
        }
        absent
    }

    /// On a database of its own, made for the check and dropped after it.
    pub async fn postgres(url: &str, keys: &[UniqueKey], foreign_keys: &[&str]) -> Vec<String> {
        let (server, shared) = url
            .rsplit_once('/')
            .expect("a database URL ends with /name");
        let name = format!("{shared}_constraints_{}", uuid::Uuid::now_v7().simple());
        let admin = Database::connect(format!("{server}/postgres"))
            .await
            .expect("TEST_DATABASE_URL's server");
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("create a database");
        let db = migrated(ConnectOptions::new(format!("{server}/{name}"))).await;
        let known: Vec<String> = texts(
            &db,
            "SELECT conname::text FROM pg_constraint \
             UNION SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public'"
                .into(),
            1,
        )
        .await
        .into_iter()
        .flatten()
        .collect();
        let _ = db.close().await;
        admin
            .execute_unprepared(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
            .await
            .expect("drop the database");
        let _ = admin.close().await;
        let names = keys
            .iter()
            .map(|k| k.name)
            .chain(foreign_keys.iter().copied());
        names
            .filter(|n| !known.iter().any(|k| k == n))
            .map(|n| format!("PostgreSQL: constraint {n}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::{borrow::Cow, error::Error, fmt, sync::Arc};

    use axum::http::StatusCode;
    use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};

    use super::*;

    const THING_NAME: UniqueKey =
        UniqueKey::new("ux_things_owner_name", "things", &["owner_id", "name"]);
    const THING_LABEL: UniqueKey =
        // An index on an expression: SQLite reports it by name, never by columns.
        UniqueKey::new("ux_things_lower_label", "things", &[]);
    const RULES_UNDER_TEST: &[ConstraintRule] = &[
        ConstraintRule::duplicate(
            THING_NAME,
            Answer::Conflict("A thing with this name exists"),
        ),
        ConstraintRule::duplicate(THING_LABEL, Answer::invalid("label", "is taken")),
        ConstraintRule::missing_reference(
            "fk_things_owner",
            Answer::invalid("owner_id", "is not an owner"),
        ),
        ConstraintRule::still_referenced(
            "fk_things_owner",
            Answer::Conflict("The owner still has things"),
        ),
    ];

    async fn sqlite() -> DatabaseConnection {
        register(RULES_UNDER_TEST);
        // One connection: each connection to `sqlite::memory:` is a database of its own.
        let mut options = ConnectOptions::new("sqlite::memory:");
        options.max_connections(1);
        let db = Database::connect(options).await.expect("in-memory SQLite");
        for sql in [
            "CREATE TABLE owners (id INTEGER PRIMARY KEY)",
            "CREATE TABLE things (id INTEGER PRIMARY KEY, owner_id INTEGER NOT NULL, \
             name TEXT NOT NULL, label TEXT, \
             CONSTRAINT fk_things_owner FOREIGN KEY (owner_id) REFERENCES owners (id))",
            "CREATE UNIQUE INDEX ux_things_owner_name ON things (owner_id, name)",
            "CREATE UNIQUE INDEX ux_things_lower_label ON things (LOWER(label))",
            "INSERT INTO owners (id) VALUES (1)",
            "INSERT INTO things (owner_id, name, label) VALUES (1, 'a', 'A')",
        ] {
            db.execute_unprepared(sql).await.expect(sql);
        }
        db
    }

    async fn fails(db: &DatabaseConnection, sql: &str) -> DbErr {
        db.execute_unprepared(sql)
            .await
            .expect_err("the statement breaks a constraint")
    }

    /// The status, and the message (of a 409) or the field errors (of a 400), `err` answers.
    fn answer(err: &DbErr) -> (StatusCode, String) {
        match ApiError::from(err.clone()) {
            ApiError::Validation(errors) => (
                StatusCode::BAD_REQUEST,
                serde_json::to_string(&errors).expect("field errors serialise"),
            ),
            other => (other.status(), other.to_string()),
        }
    }

    #[tokio::test]
    async fn sqlite_duplicate_is_found_by_table_and_columns_and_answers_its_rule() {
        let db = sqlite().await;
        let err = fails(&db, "INSERT INTO things (owner_id, name) VALUES (1, 'a')").await;
        assert_eq!(
            Violation::of(&err),
            Some(Violation::UniqueColumns {
                table: "things".into(),
                columns: vec!["owner_id".into(), "name".into()],
            })
        );
        assert!(violated(&err, &THING_NAME));
        assert!(!violated(&err, &THING_LABEL));
        assert_eq!(
            answer(&err),
            (StatusCode::CONFLICT, "A thing with this name exists".into())
        );
    }

    #[tokio::test]
    async fn sqlite_duplicate_in_an_expression_index_is_found_by_name() {
        let db = sqlite().await;
        let err = fails(
            &db,
            "INSERT INTO things (owner_id, name, label) VALUES (1, 'b', 'a')",
        )
        .await;
        assert_eq!(
            Violation::of(&err),
            Some(Violation::UniqueNamed("ux_things_lower_label".into()))
        );
        assert!(violated(&err, &THING_LABEL));
        assert_eq!(
            answer(&err),
            (StatusCode::BAD_REQUEST, r#"{"label":["is taken"]}"#.into())
        );
    }

    #[tokio::test]
    async fn sqlite_foreign_key_violations_are_unnamed_and_answer_a_generic_409() {
        let db = sqlite().await;
        for sql in [
            "INSERT INTO things (owner_id, name) VALUES (2, 'b')",
            "DELETE FROM owners WHERE id = 1",
        ] {
            let err = fails(&db, sql).await;
            assert_eq!(
                Violation::of(&err),
                Some(Violation::ForeignKey {
                    name: None,
                    reference: Reference::Unknown,
                }),
                "{sql}"
            );
            assert_eq!(
                answer(&err),
                (StatusCode::CONFLICT, UNNAMED_REFERENCE.into()),
                "{sql}"
            );
        }
    }

    #[tokio::test]
    async fn sqlite_unregistered_duplicates_and_other_errors_stay_500() {
        let db = sqlite().await;
        let primary = fails(&db, "INSERT INTO owners (id) VALUES (1)").await;
        assert_eq!(
            Violation::of(&primary),
            Some(Violation::UniqueColumns {
                table: "owners".into(),
                columns: vec!["id".into()],
            })
        );
        let not_null = fails(&db, "INSERT INTO things (owner_id) VALUES (1)").await;
        let syntax = fails(&db, "INSERT INTO nowhere VALUES (1)").await;
        for err in [primary, not_null, syntax] {
            assert_eq!(answer(&err).0, StatusCode::INTERNAL_SERVER_ERROR, "{err}");
        }
    }

    /// A database error shaped like PostgreSQL's (sqlx's `PgDatabaseError` cannot be built
    /// outside sqlx): a SQLSTATE, a message and the constraint's name.
    #[derive(Debug)]
    struct PgLike {
        code: &'static str,
        message: &'static str,
        constraint: &'static str,
    }

    impl fmt::Display for PgLike {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.message)
        }
    }

    impl Error for PgLike {}

    impl sqlx::error::DatabaseError for PgLike {
        fn message(&self) -> &str {
            self.message
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(self.code.into())
        }
        fn as_error(&self) -> &(dyn Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn Error + Send + Sync + 'static> {
            self
        }
        fn constraint(&self) -> Option<&str> {
            Some(self.constraint)
        }
        fn kind(&self) -> ErrorKind {
            match self.code {
                "23505" => ErrorKind::UniqueViolation,
                "23503" => ErrorKind::ForeignKeyViolation,
                _ => ErrorKind::Other,
            }
        }
    }

    /// The error sea-orm returns for a failed statement on PostgreSQL.
    fn pg(code: &'static str, message: &'static str, constraint: &'static str) -> DbErr {
        register(RULES_UNDER_TEST);
        let e = sqlx::Error::Database(Box::new(PgLike {
            code,
            message,
            constraint,
        }));
        DbErr::Exec(RuntimeErr::SqlxError(Arc::new(e)))
    }

    #[test]
    fn postgres_duplicate_is_found_by_constraint_name() {
        let err = pg(
            "23505",
            "duplicate key value violates unique constraint \"ux_things_owner_name\"",
            "ux_things_owner_name",
        );
        assert_eq!(
            Violation::of(&err),
            Some(Violation::UniqueNamed("ux_things_owner_name".into()))
        );
        assert!(violated(&err, &THING_NAME));
        assert_eq!(answer(&err).0, StatusCode::CONFLICT);
    }

    #[test]
    fn postgres_foreign_key_answers_the_rule_for_the_way_it_was_broken() {
        let missing = pg(
            "23503",
            "insert or update on table \"things\" violates foreign key constraint \"fk_things_owner\"",
            "fk_things_owner",
        );
        assert_eq!(
            answer(&missing),
            (
                StatusCode::BAD_REQUEST,
                r#"{"owner_id":["is not an owner"]}"#.into()
            )
        );

        let in_use = pg(
            "23503",
            "update or delete on table \"owners\" violates foreign key constraint \
             \"fk_things_owner\" on table \"things\"",
            "fk_things_owner",
        );
        assert_eq!(
            answer(&in_use),
            (StatusCode::CONFLICT, "The owner still has things".into())
        );

        // A translated message does not say which way: the generic answer, still a 409.
        let translated = pg("23503", "Einfügen oder Aktualisieren …", "fk_things_owner");
        assert_eq!(
            answer(&translated),
            (StatusCode::CONFLICT, UNNAMED_REFERENCE.into())
        );
    }

    #[test]
    fn postgres_unregistered_constraints_stay_500() {
        for err in [
            pg("23505", "duplicate key value", "users_pkey"),
            pg("23503", "insert or update on table \"x\"", "fk_unknown"),
            pg("23503", "something translated", "fk_unknown"),
            pg("23514", "new row violates check constraint", "ck_things"),
        ] {
            assert_eq!(answer(&err).0, StatusCode::INTERNAL_SERVER_ERROR, "{err}");
        }
        assert!(!violated(&pg("23505", "duplicate", "other"), &THING_NAME));
    }

    #[test]
    fn registering_twice_keeps_one_rule_each() {
        register(RULES_UNDER_TEST);
        register(RULES_UNDER_TEST);
        let known = RULES.read().unwrap_or_else(PoisonError::into_inner);
        for rule in RULES_UNDER_TEST {
            assert_eq!(known.iter().filter(|k| *k == rule).count(), 1, "{rule:?}");
        }
    }

    /// Against the real PostgreSQL server `TEST_DATABASE_URL` names (the test suite's set-up),
    /// in its `postgres` database: temporary tables only, gone with the connection.
    #[tokio::test]
    async fn postgres_reports_what_the_mapping_reads() {
        let Ok(url) = std::env::var("TEST_DATABASE_URL") else {
            eprintln!("TEST_DATABASE_URL is not set: skipped");
            return;
        };
        let (server, _) = url
            .rsplit_once('/')
            .expect("a database URL ends with /name");
        let mut options = ConnectOptions::new(format!("{server}/postgres"));
        options.max_connections(1);
        let db = Database::connect(options).await.expect("TEST_DATABASE_URL");
        for sql in [
            "CREATE TEMPORARY TABLE owners (id INTEGER PRIMARY KEY)",
            "CREATE TEMPORARY TABLE things (id INTEGER PRIMARY KEY, owner_id INTEGER NOT NULL, \
             name TEXT NOT NULL, \
             CONSTRAINT fk_things_owner FOREIGN KEY (owner_id) REFERENCES owners (id))",
            "CREATE UNIQUE INDEX ux_things_owner_name ON things (owner_id, name)",
            "INSERT INTO owners (id) VALUES (1)",
            "INSERT INTO things (id, owner_id, name) VALUES (1, 1, 'a')",
        ] {
            db.execute_unprepared(sql).await.expect(sql);
        }
        let duplicate = fails(
            &db,
            "INSERT INTO things (id, owner_id, name) VALUES (2, 1, 'a')",
        )
        .await;
        assert!(violated(&duplicate, &THING_NAME), "{duplicate}");
        let fk = |reference| {
            Some(Violation::ForeignKey {
                name: Some("fk_things_owner".into()),
                reference,
            })
        };
        let missing = fails(
            &db,
            "INSERT INTO things (id, owner_id, name) VALUES (3, 2, 'b')",
        )
        .await;
        assert_eq!(Violation::of(&missing), fk(Reference::Missing), "{missing}");
        let in_use = fails(&db, "DELETE FROM owners WHERE id = 1").await;
        assert_eq!(Violation::of(&in_use), fk(Reference::InUse), "{in_use}");
        let _ = db.close().await;
    }
}
