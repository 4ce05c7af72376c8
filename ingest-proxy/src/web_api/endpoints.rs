//! The route table of Sentry's Web API: each route is one call of a SQL function of schema
//! `crashcache` (pg_crashcache/sql/web_api.sql), with where each of its arguments comes from
//! and the scope a token needs.

use axum::routing::MethodFilter;

/// Where a SQL argument's value comes from, and its SQL type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A segment of the path, by its name in the route.
    Path(&'static str),
    /// The first of these query parameters that is present (text).
    Query(&'static [&'static str]),
    /// The first of these query parameters that is present, as an integer.
    QueryInt(&'static [&'static str]),
    /// The first of these query parameters that is present, as a boolean.
    QueryBool(&'static [&'static str]),
    /// Every value of a repeated query parameter (`?id=1&id=2`), as text[].
    QueryList(&'static str),
    /// The JSON body.
    Body,
    /// The token's name: who did it, in the issue's activity.
    Actor,
    /// The token's id.
    TokenId,
}

impl Source {
    /// The SQL type the text parameter is cast to.
    pub fn sql_type(self) -> &'static str {
        match self {
            Source::Path(_) | Source::Query(_) | Source::Actor => "text",
            Source::QueryInt(_) | Source::TokenId => "text::int",
            Source::QueryBool(_) => "text::boolean",
            Source::QueryList(_) => "text[]",
            Source::Body => "text::jsonb",
        }
    }
}

/// A SQL argument: its name in the function and where its value comes from.
pub type Arg = (&'static str, Source);

/// The HTTP methods the API has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// Reads.
    Get,
    /// Changes (an issue's status).
    Put,
    /// Adds (a note).
    Post,
}

impl Method {
    /// The method's axum filter.
    pub fn filter(self) -> MethodFilter {
        match self {
            Method::Get => MethodFilter::GET,
            Method::Put => MethodFilter::PUT,
            Method::Post => MethodFilter::POST,
        }
    }
}

/// How the function's JSON becomes the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The JSON as it is, 200.
    Object,
    /// `{"items": [...], "next": cursor}`: the items, 200, with a `Link` header.
    List,
    /// The JSON as it is, 201.
    Created,
}

/// One route.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint {
    /// The HTTP method.
    pub method: Method,
    /// The path, in axum's syntax, without its trailing slash (both forms are served).
    pub path: &'static str,
    /// The SQL function in schema `crashcache`.
    pub function: &'static str,
    /// Its arguments, by name.
    pub args: &'static [Arg],
    /// The scope the token needs; None: any valid token.
    pub scope: Option<&'static str>,
    /// How the result is answered.
    pub answer: Answer,
}

const ORG: Arg = ("org", Source::Path("org"));
const PROJECT: Arg = ("project", Source::Path("project"));
const ISSUE: Arg = ("issue", Source::Path("issue"));
const PAGE_SIZE: Arg = ("page_size", Source::QueryInt(&["limit", "per_page"]));
const CURSOR: Arg = ("cursor", Source::Query(&["cursor"]));
const QUERY: Arg = ("query", Source::Query(&["query"]));
const STATS_PERIOD: Arg = ("stats_period", Source::Query(&["statsPeriod"]));
const SORT: Arg = ("sort", Source::Query(&["sort"]));
const FULL: Arg = ("full_events", Source::QueryBool(&["full"]));
const BODY: Arg = ("body", Source::Body);
const ACTOR: Arg = ("actor", Source::Actor);

const ORG_READ: Option<&str> = Some("org:read");
const PROJECT_READ: Option<&str> = Some("project:read");
const EVENT_READ: Option<&str> = Some("event:read");
const EVENT_WRITE: Option<&str> = Some("event:write");
const COMMENT_WRITE: Option<&str> = Some("comment:write");

const fn endpoint(
    method: Method,
    path: &'static str,
    function: &'static str,
    args: &'static [Arg],
    scope: Option<&'static str>,
    answer: Answer,
) -> Endpoint {
    Endpoint {
        method,
        path,
        function,
        args,
        scope,
        answer,
    }
}

/// The routes that stand alone.
pub const ENDPOINTS: &[Endpoint] = &[
    endpoint(
        Method::Get,
        "/api/0",
        "api_root",
        &[("token_id", Source::TokenId)],
        None,
        Answer::Object,
    ),
    endpoint(
        Method::Get,
        "/api/0/auth",
        "api_auth",
        &[("token_id", Source::TokenId)],
        None,
        Answer::Object,
    ),
    endpoint(
        Method::Get,
        "/api/0/organizations",
        "api_organizations",
        &[],
        ORG_READ,
        Answer::List,
    ),
    endpoint(
        Method::Get,
        "/api/0/organizations/{org}",
        "api_organization",
        &[ORG],
        ORG_READ,
        Answer::Object,
    ),
    endpoint(
        Method::Get,
        "/api/0/organizations/{org}/projects",
        "api_projects",
        &[ORG, QUERY, PAGE_SIZE, CURSOR],
        PROJECT_READ,
        Answer::List,
    ),
    endpoint(
        Method::Get,
        "/api/0/projects",
        "api_projects",
        &[ORG, QUERY, PAGE_SIZE, CURSOR],
        PROJECT_READ,
        Answer::List,
    ),
    endpoint(
        Method::Get,
        "/api/0/projects/{org}/{project}",
        "api_project",
        &[ORG, PROJECT],
        PROJECT_READ,
        Answer::Object,
    ),
    endpoint(
        Method::Get,
        "/api/0/projects/{org}/{project}/issues",
        "api_issues",
        &[ORG, PROJECT, QUERY, SORT, PAGE_SIZE, CURSOR],
        EVENT_READ,
        Answer::List,
    ),
    endpoint(
        Method::Put,
        "/api/0/projects/{org}/{project}/issues",
        "api_bulk_update_issues",
        &[
            ORG,
            PROJECT,
            ("ids", Source::QueryList("id")),
            ("status", Source::Query(&["status"])),
            QUERY,
            BODY,
            ACTOR,
        ],
        EVENT_WRITE,
        Answer::Object,
    ),
    endpoint(
        Method::Get,
        "/api/0/organizations/{org}/issues",
        "api_issues",
        &[
            ORG,
            ("projects", Source::QueryList("project")),
            QUERY,
            SORT,
            STATS_PERIOD,
            PAGE_SIZE,
            CURSOR,
        ],
        EVENT_READ,
        Answer::List,
    ),
    endpoint(
        Method::Get,
        "/api/0/projects/{org}/{project}/events",
        "api_project_events",
        &[ORG, PROJECT, QUERY, STATS_PERIOD, PAGE_SIZE, CURSOR, FULL],
        EVENT_READ,
        Answer::List,
    ),
    endpoint(
        Method::Get,
        "/api/0/projects/{org}/{project}/events/{event}",
        "api_project_event",
        &[ORG, PROJECT, ("event", Source::Path("event"))],
        EVENT_READ,
        Answer::Object,
    ),
];

/// The routes of one issue, below each of `ISSUE_PREFIXES`: Sentry serves them both at the top
/// level (by numeric id) and below the organization (also by short id); we take both ids on
/// both. `org` is NULL on the top-level routes.
pub const ISSUE_ENDPOINTS: &[Endpoint] = &[
    endpoint(
        Method::Get,
        "",
        "api_issue",
        &[ORG, ISSUE],
        EVENT_READ,
        Answer::Object,
    ),
    endpoint(
        Method::Put,
        "",
        "api_update_issue",
        &[ORG, ISSUE, BODY, ACTOR],
        EVENT_WRITE,
        Answer::Object,
    ),
    endpoint(
        Method::Get,
        "/events",
        "api_issue_events",
        &[ORG, ISSUE, QUERY, STATS_PERIOD, PAGE_SIZE, CURSOR, FULL],
        EVENT_READ,
        Answer::List,
    ),
    endpoint(
        Method::Get,
        "/events/{event}",
        "api_issue_event",
        &[ORG, ISSUE, ("event", Source::Path("event"))],
        EVENT_READ,
        Answer::Object,
    ),
    endpoint(
        Method::Get,
        "/tags",
        "api_issue_tags",
        &[ORG, ISSUE],
        EVENT_READ,
        Answer::Object,
    ),
    endpoint(
        Method::Get,
        "/tags/{key}",
        "api_issue_tag",
        &[ORG, ISSUE, ("key", Source::Path("key"))],
        EVENT_READ,
        Answer::Object,
    ),
    endpoint(
        Method::Get,
        "/tags/{key}/values",
        "api_issue_tag_values",
        &[ORG, ISSUE, ("key", Source::Path("key")), PAGE_SIZE],
        EVENT_READ,
        Answer::List,
    ),
    endpoint(
        Method::Get,
        "/notes",
        "api_issue_notes",
        &[ORG, ISSUE, PAGE_SIZE, CURSOR],
        EVENT_READ,
        Answer::List,
    ),
    endpoint(
        Method::Post,
        "/notes",
        "api_add_issue_note",
        &[ORG, ISSUE, BODY, ACTOR],
        COMMENT_WRITE,
        Answer::Created,
    ),
    endpoint(
        Method::Get,
        "/activities",
        "api_issue_activities",
        &[ORG, ISSUE],
        EVENT_READ,
        Answer::Object,
    ),
];

/// Where an issue's routes hang.
pub const ISSUE_PREFIXES: &[&str] = &[
    "/api/0/issues/{issue}",
    "/api/0/groups/{issue}",
    "/api/0/organizations/{org}/issues/{issue}",
    "/api/0/organizations/{org}/groups/{issue}",
];

/// Other names of an issue's routes: Sentry serves notes as comments too.
const ISSUE_PATH_ALIASES: &[(&str, &str)] = &[("/notes", "/comments")];

/// Every route, as (full path without trailing slash, endpoint).
pub fn all() -> Vec<(String, Endpoint)> {
    let mut routes: Vec<(String, Endpoint)> =
        ENDPOINTS.iter().map(|e| (e.path.to_string(), *e)).collect();
    for prefix in ISSUE_PREFIXES {
        for e in ISSUE_ENDPOINTS {
            routes.push((format!("{prefix}{}", e.path), *e));
            for (path, alias) in ISSUE_PATH_ALIASES {
                if e.path == *path {
                    routes.push((format!("{prefix}{alias}"), *e));
                }
            }
        }
    }
    routes
}

/// The statement that calls an endpoint's function with its arguments as `$1`, `$2`, …
pub fn statement(endpoint: &Endpoint) -> String {
    let args: Vec<String> = endpoint
        .args
        .iter()
        .enumerate()
        .map(|(i, (name, source))| format!("{name} => ${}::{}", i + 1, source.sql_type()))
        .collect();
    format!(
        "SELECT crashcache.{}({})::text",
        endpoint.function,
        args.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn statements_name_every_argument() {
        let e = &ISSUE_ENDPOINTS[2];
        assert_eq!(
            statement(e),
            "SELECT crashcache.api_issue_events(org => $1::text, issue => $2::text, query => $3::text, \
             stats_period => $4::text, page_size => $5::text::int, cursor => $6::text, \
             full_events => $7::text::boolean)::text"
        );
        assert_eq!(
            statement(&ENDPOINTS[0]),
            "SELECT crashcache.api_root(token_id => $1::text::int)::text"
        );
    }

    #[test]
    fn no_route_is_declared_twice() {
        let mut seen = HashSet::new();
        for (path, e) in all() {
            assert!(
                seen.insert((path.clone(), e.method)),
                "{:?} {path}",
                e.method
            );
            assert!(!path.ends_with('/'), "{path}");
        }
    }

    #[test]
    fn path_arguments_are_in_their_paths() {
        for (path, e) in all() {
            for (_, source) in e.args {
                if let Source::Path(name) = source {
                    let org_less = *name == "org" && !path.contains("{org}");
                    assert!(
                        org_less || path.contains(&format!("{{{name}}}")),
                        "{path}: {name}"
                    );
                }
            }
        }
    }
}
