//! API token scopes: the catalog, parsing, and what each scope grants.
//!
//! A scope is `read:R` or `write:R` for a resource R, `admin:all`, or a wildcard (`read:*`,
//! `write:*`, `*`). `write:R` implies `read:R`; `admin:all` and `*` grant everything; the
//! wildcards and `admin:all` may only be held by workspace admins. For backward compatibility
//! with TimeTracker, `read:projects` / `write:projects` also grant inventory access.

use std::{fmt, str::FromStr};

/// A kind of data a scope opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    Projects,
    TimeEntries,
    Tasks,
    Clients,
    Tags,
    Expenses,
    Quotes,
    Invoices,
    Reports,
    Users,
    Inventory,
    Webhooks,
    Integrations,
    Plugins,
    Consents,
}

impl Resource {
    pub const ALL: [Resource; 15] = [
        Self::Projects,
        Self::TimeEntries,
        Self::Tasks,
        Self::Clients,
        Self::Tags,
        Self::Expenses,
        Self::Quotes,
        Self::Invoices,
        Self::Reports,
        Self::Users,
        Self::Inventory,
        Self::Webhooks,
        Self::Integrations,
        Self::Plugins,
        Self::Consents,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Projects => "projects",
            Self::TimeEntries => "time_entries",
            Self::Tasks => "tasks",
            Self::Clients => "clients",
            Self::Tags => "tags",
            Self::Expenses => "expenses",
            Self::Quotes => "quotes",
            Self::Invoices => "invoices",
            Self::Reports => "reports",
            Self::Users => "users",
            Self::Inventory => "inventory",
            Self::Webhooks => "webhooks",
            Self::Integrations => "integrations",
            Self::Plugins => "plugins",
            Self::Consents => "consents",
        }
    }

    /// Users are read-only through the API: there is no `write:users`.
    pub fn is_writable(self) -> bool {
        self != Self::Users
    }

    fn describe(self, write: bool) -> &'static str {
        match (self, write) {
            (Self::Projects, false) => "View projects (and inventory)",
            (Self::Projects, true) => "Create, update and archive projects (and manage inventory)",
            (Self::TimeEntries, false) => "View time entries and timer status",
            (Self::TimeEntries, true) => {
                "Create, update and delete time entries; control the timer; timesheet periods and time-off requests"
            }
            (Self::Tasks, false) => "View tasks",
            (Self::Tasks, true) => "Create, update and delete tasks",
            (Self::Clients, false) => "View clients",
            (Self::Clients, true) => "Create, update and delete clients",
            (Self::Tags, false) => "View tags",
            (Self::Tags, true) => "Create, update and delete tags",
            (Self::Expenses, false) => "View expenses",
            (Self::Expenses, true) => "Create, update and delete expenses",
            (Self::Quotes, false) => "View quotes",
            (Self::Quotes, true) => "Create, update and delete quotes",
            (Self::Invoices, false) => "View invoices",
            (Self::Invoices, true) => "Create, update and cancel invoices; invoice unbilled time",
            (Self::Reports, false) => "Summary reports; read leave types and holidays",
            (Self::Reports, true) => "Create and delete leave types and holidays (admin only)",
            (Self::Users, _) => {
                "View the current user; list and manage the workspace's users (admins, with admin:all)"
            }
            (Self::Inventory, false) => "View inventory only",
            (Self::Inventory, true) => "Manage inventory only",
            (Self::Webhooks, false) => "View webhook endpoints and deliveries",
            (Self::Webhooks, true) => "Create, update and delete webhook endpoints; redeliver",
            (Self::Integrations, false) => "View API tokens, usage logs and integrations",
            (Self::Integrations, true) => "Create and revoke API tokens; configure integrations",
            (Self::Plugins, false) => "View add-ons",
            (Self::Plugins, true) => "Install, configure and uninstall add-ons",
            (Self::Consents, false) => "View consents",
            (Self::Consents, true) => "Grant and revoke consents",
        }
    }
}

/// One scope a token can hold or an endpoint can require.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    Read(Resource),
    Write(Resource),
    /// `read:*`
    ReadAll,
    /// `write:*`
    WriteAll,
    /// `admin:all`
    AdminAll,
    /// `*`
    All,
}

impl Scope {
    /// Only workspace admins may hold wildcards and `admin:all`.
    pub fn is_admin_only(self) -> bool {
        matches!(
            self,
            Self::ReadAll | Self::WriteAll | Self::AdminAll | Self::All
        )
    }

    /// Whether holding `self` allows an endpoint that requires `required`.
    pub fn grants(self, required: Scope) -> bool {
        use Scope::*;
        match (self, required) {
            (All | AdminAll, _) => true,
            (ReadAll, Read(_) | ReadAll) => true,
            (WriteAll, Read(_) | Write(_) | ReadAll | WriteAll) => true,
            (Write(held), Read(r) | Write(r)) if held == r => true,
            (Read(held), Read(r)) if held == r => true,
            // TimeTracker compatibility: projects scopes also open inventory.
            (Write(Resource::Projects), Read(Resource::Inventory) | Write(Resource::Inventory)) => {
                true
            }
            (Read(Resource::Projects), Read(Resource::Inventory)) => true,
            _ => false,
        }
    }

    /// Every scope in catalog order: per resource read then write, then the special ones.
    pub fn catalog() -> Vec<Scope> {
        let mut all = Vec::new();
        for r in Resource::ALL {
            all.push(Scope::Read(r));
            if r.is_writable() {
                all.push(Scope::Write(r));
            }
        }
        all.extend([Scope::AdminAll, Scope::ReadAll, Scope::WriteAll, Scope::All]);
        all
    }

    /// What the scope allows, for the catalog.
    pub fn description(self) -> &'static str {
        match self {
            Self::Read(r) => r.describe(false),
            Self::Write(r) => r.describe(true),
            Self::ReadAll => "Read access to every resource (admin only)",
            Self::WriteAll => "Read and write access to every resource (admin only)",
            Self::AdminAll => "Full administrative access (admin only)",
            Self::All => "Everything; the same as admin:all (admin only)",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read(r) => write!(f, "read:{}", r.as_str()),
            Self::Write(r) => write!(f, "write:{}", r.as_str()),
            Self::ReadAll => f.write_str("read:*"),
            Self::WriteAll => f.write_str("write:*"),
            Self::AdminAll => f.write_str("admin:all"),
            Self::All => f.write_str("*"),
        }
    }
}

/// A string that is not a scope of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope '{0}'")]
pub struct UnknownScope(pub String);

impl FromStr for Scope {
    type Err = UnknownScope;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unknown = || UnknownScope(s.to_owned());
        match s {
            "*" => return Ok(Self::All),
            "admin:all" => return Ok(Self::AdminAll),
            "read:*" => return Ok(Self::ReadAll),
            "write:*" => return Ok(Self::WriteAll),
            _ => {}
        }
        let (action, resource) = s.split_once(':').ok_or_else(unknown)?;
        let resource = Resource::ALL
            .into_iter()
            .find(|r| r.as_str() == resource)
            .ok_or_else(unknown)?;
        match action {
            "read" => Ok(Self::Read(resource)),
            "write" if resource.is_writable() => Ok(Self::Write(resource)),
            _ => Err(unknown()),
        }
    }
}

/// The scopes of one token.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScopeSet(Vec<Scope>);

impl ScopeSet {
    /// Builds a set, sorted and without duplicates.
    pub fn new(mut scopes: Vec<Scope>) -> Self {
        scopes.sort();
        scopes.dedup();
        Self(scopes)
    }

    /// Parses the space-separated form stored in the database.
    pub fn parse_stored(text: &str) -> Result<Self, UnknownScope> {
        text.split_whitespace()
            .map(str::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(Self::new)
    }

    /// The space-separated form stored in the database.
    pub fn to_stored(&self) -> String {
        self.strings().join(" ")
    }

    pub fn strings(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether any held scope grants `required`.
    pub fn grants(&self, required: Scope) -> bool {
        self.0.iter().any(|held| held.grants(required))
    }

    /// Every concrete catalog scope this set grants (wildcards expanded).
    pub fn effective(&self) -> Vec<Scope> {
        Scope::catalog()
            .into_iter()
            .filter(|s| !matches!(s, Scope::ReadAll | Scope::WriteAll | Scope::All))
            .filter(|s| self.grants(*s))
            .collect()
    }
}

impl crate::platform::auth::Grants for ScopeSet {
    fn grants(&self, scope: &str) -> bool {
        scope
            .parse()
            .is_ok_and(|required| ScopeSet::grants(self, required))
    }

    fn names(&self) -> Vec<String> {
        self.strings()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(s: &str) -> Scope {
        s.parse().expect("a catalog scope")
    }

    #[test]
    fn every_catalog_scope_round_trips_through_text() {
        for s in Scope::catalog() {
            assert_eq!(scope(&s.to_string()), s);
        }
        assert_eq!(Scope::catalog().len(), 15 * 2 - 1 + 4);
    }

    #[test]
    fn unknown_scopes_are_rejected() {
        for bad in [
            "read:nothing",
            "write:users",
            "delete:projects",
            "admin",
            "",
            "read:",
        ] {
            assert!(bad.parse::<Scope>().is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn write_implies_read_of_the_same_resource_only() {
        assert!(scope("write:projects").grants(scope("read:projects")));
        assert!(!scope("write:projects").grants(scope("read:tasks")));
        assert!(!scope("read:projects").grants(scope("write:projects")));
    }

    #[test]
    fn wildcards_and_admin_grant_as_documented() {
        assert!(scope("read:*").grants(scope("read:invoices")));
        assert!(!scope("read:*").grants(scope("write:invoices")));
        assert!(!scope("read:*").grants(Scope::AdminAll));
        assert!(scope("write:*").grants(scope("read:tasks")));
        assert!(!scope("write:*").grants(Scope::AdminAll));
        assert!(scope("admin:all").grants(scope("write:consents")));
        assert!(scope("*").grants(Scope::AdminAll));
    }

    #[test]
    fn projects_scopes_open_inventory_for_compatibility() {
        assert!(scope("read:projects").grants(scope("read:inventory")));
        assert!(!scope("read:projects").grants(scope("write:inventory")));
        assert!(scope("write:projects").grants(scope("write:inventory")));
        assert!(!scope("read:inventory").grants(scope("read:projects")));
    }

    #[test]
    fn a_set_is_stored_sorted_and_deduplicated() {
        let set = ScopeSet::parse_stored("write:tasks read:projects write:tasks").unwrap();
        assert_eq!(set.to_stored(), "read:projects write:tasks");
        assert_eq!(
            set.effective(),
            vec![
                scope("read:projects"),
                scope("read:tasks"),
                scope("write:tasks"),
                scope("read:inventory")
            ]
        );
    }
}
