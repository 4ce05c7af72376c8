//! The benchmark's corpus: ten distinct bugs, each a realistic Sentry error event as JSON.
//!
//! Five are Python (Django) server errors with RFC 3339 timestamps, five are browser
//! JavaScript errors with epoch-seconds timestamps, as the real SDKs send them. Each bug has
//! its own exception type and in-app functions, so Sentry's grouping yields one issue per bug.
//! Fields that change per request hold markers (see `payload::Slot`) that the template swaps.

use serde_json::{json, Value};

/// The number of distinct bugs, and so of issues a run should create.
pub(crate) const BUG_COUNT: usize = 10;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Platform {
    Python,
    Browser,
}

struct Bug {
    platform: Platform,
    exception: &'static str,
    value: &'static str,
    /// The in-app module (Python) or source file (browser) the bug lives in.
    place: &'static str,
    /// In-app functions, outermost first; the last one raises.
    functions: [&'static str; 5],
    transaction: &'static str,
    release: &'static str,
}

const BUGS: [Bug; BUG_COUNT] = [
    Bug {
        platform: Platform::Python,
        exception: "ValueError",
        value: "invalid literal for int() with base 10: 'two'",
        place: "shop.checkout.quantity",
        functions: [
            "post",
            "update_cart",
            "apply_line",
            "read_quantity",
            "parse_quantity",
        ],
        transaction: "/checkout/{cart_id}/lines/",
        release: "shop@4.12.0",
    },
    Bug {
        platform: Platform::Python,
        exception: "KeyError",
        value: "'customer_id'",
        place: "shop.orders.history",
        functions: [
            "get",
            "list_orders",
            "load_page",
            "attach_customer",
            "customer_of",
        ],
        transaction: "/orders/",
        release: "shop@4.12.0",
    },
    Bug {
        platform: Platform::Python,
        exception: "ZeroDivisionError",
        value: "division by zero",
        place: "shop.pricing.bundles",
        functions: [
            "get",
            "quote",
            "price_bundle",
            "split_discount",
            "unit_price",
        ],
        transaction: "/bundles/{slug}/",
        release: "shop@4.11.3",
    },
    Bug {
        platform: Platform::Python,
        exception: "IntegrityError",
        value: "duplicate key value violates unique constraint \"accounts_user_email_key\"",
        place: "shop.accounts.signup",
        functions: [
            "post",
            "register",
            "create_user",
            "save_profile",
            "insert_user",
        ],
        transaction: "/signup/",
        release: "shop@4.12.0",
    },
    Bug {
        platform: Platform::Python,
        exception: "TimeoutError",
        value: "payment gateway did not answer within 30 seconds",
        place: "shop.payments.gateway",
        functions: [
            "post",
            "pay",
            "authorise",
            "call_gateway",
            "wait_for_answer",
        ],
        transaction: "/checkout/{cart_id}/pay/",
        release: "shop@4.11.3",
    },
    Bug {
        platform: Platform::Browser,
        exception: "TypeError",
        value: "Cannot read properties of undefined (reading 'price')",
        place: "src/cart/CartLine.tsx",
        functions: [
            "onClick",
            "changeQuantity",
            "recompute",
            "lineTotal",
            "priceOf",
        ],
        transaction: "/cart",
        release: "shop-web@2.8.1",
    },
    Bug {
        platform: Platform::Browser,
        exception: "RangeError",
        value: "Invalid array length",
        place: "src/reports/SalesTable.tsx",
        functions: [
            "render",
            "buildRows",
            "paginate",
            "allocatePage",
            "emptyRows",
        ],
        transaction: "/reports/sales",
        release: "shop-web@2.8.1",
    },
    Bug {
        platform: Platform::Browser,
        exception: "SyntaxError",
        value: "Unexpected token '<', \"<!DOCTYPE \"... is not valid JSON",
        place: "src/api/client.ts",
        functions: [
            "fetchOrders",
            "request",
            "handleResponse",
            "decodeBody",
            "parseJson",
        ],
        transaction: "/orders",
        release: "shop-web@2.8.0",
    },
    Bug {
        platform: Platform::Browser,
        exception: "ReferenceError",
        value: "sessionToken is not defined",
        place: "src/auth/useSession.ts",
        functions: [
            "useEffect",
            "refresh",
            "renewToken",
            "storeToken",
            "readToken",
        ],
        transaction: "/account",
        release: "shop-web@2.8.1",
    },
    Bug {
        platform: Platform::Browser,
        exception: "NotAllowedError",
        value: "play() failed because the user didn't interact with the document first",
        place: "src/media/ProductVideo.tsx",
        functions: [
            "onVisible",
            "startPreview",
            "autoplay",
            "playMuted",
            "playVideo",
        ],
        transaction: "/product/{slug}",
        release: "shop-web@2.8.0",
    },
];

/// Framework frames below the application's code, outermost first (not in-app).
const PYTHON_OUTER: [(&str, &str, &str); 8] = [
    (
        "gunicorn/workers/sync.py",
        "gunicorn.workers.sync",
        "handle_request",
    ),
    (
        "django/core/handlers/wsgi.py",
        "django.core.handlers.wsgi",
        "__call__",
    ),
    (
        "django/core/handlers/base.py",
        "django.core.handlers.base",
        "get_response",
    ),
    (
        "django/core/handlers/exception.py",
        "django.core.handlers.exception",
        "inner",
    ),
    (
        "django/utils/deprecation.py",
        "django.utils.deprecation",
        "__call__",
    ),
    (
        "django/core/handlers/base.py",
        "django.core.handlers.base",
        "_get_response",
    ),
    (
        "django/views/generic/base.py",
        "django.views.generic.base",
        "view",
    ),
    (
        "django/views/generic/base.py",
        "django.views.generic.base",
        "dispatch",
    ),
];
/// Library frames the application calls into, where the error surfaces (not in-app).
const PYTHON_INNER: [(&str, &str, &str); 2] = [
    ("django/db/models/query.py", "django.db.models.query", "get"),
    (
        "django/db/backends/utils.py",
        "django.db.backends.utils",
        "execute",
    ),
];
const BROWSER_OUTER: [(&str, &str); 8] = [
    (
        "node_modules/react-dom/cjs/react-dom.production.min.js",
        "dispatchDiscreteEvent",
    ),
    (
        "node_modules/react-dom/cjs/react-dom.production.min.js",
        "dispatchEvent",
    ),
    (
        "node_modules/react-dom/cjs/react-dom.production.min.js",
        "batchedUpdates",
    ),
    (
        "node_modules/react-dom/cjs/react-dom.production.min.js",
        "dispatchEventsForPlugins",
    ),
    (
        "node_modules/react-dom/cjs/react-dom.production.min.js",
        "processDispatchQueue",
    ),
    (
        "node_modules/react-dom/cjs/react-dom.production.min.js",
        "invokeGuardedCallback",
    ),
    (
        "node_modules/@sentry/browser/build/npm/esm/helpers.js",
        "sentryWrapped",
    ),
    (
        "node_modules/react-query/build/lib/core/query.js",
        "fetchFn",
    ),
];
const BROWSER_INNER: [(&str, &str); 2] = [
    ("node_modules/lodash-es/_baseGet.js", "baseGet"),
    ("node_modules/lodash-es/get.js", "get"),
];

/// The event of bug `bug` (0..BUG_COUNT) with the given markers in its per-request fields.
pub(crate) fn event(bug: usize, event_id: &str, timestamp: &str) -> Value {
    let b = &BUGS[bug % BUG_COUNT];
    match b.platform {
        Platform::Python => python_event(b, bug, event_id, timestamp),
        Platform::Browser => browser_event(b, bug, event_id, timestamp),
    }
}

/// A session update from the same release (the timestamps are markers).
pub(crate) fn session(bug: usize, sid: &str, started: &str, timestamp: &str) -> Value {
    let b = &BUGS[bug % BUG_COUNT];
    json!({
        "sid": sid, "did": user_id(bug), "init": true, "started": started,
        "timestamp": timestamp, "status": "ok", "errors": 1, "duration": 12.5,
        "attrs": {"release": b.release, "environment": environment(bug), "ip_address": "{{auto}}"}
    })
}

/// The SDK that would send bug `bug`, for the envelope header.
pub(crate) fn sdk(bug: usize) -> Value {
    match BUGS[bug % BUG_COUNT].platform {
        Platform::Python => json!({"name": "sentry.python.django", "version": "2.75.0"}),
        Platform::Browser => json!({"name": "sentry.javascript.react", "version": "9.4.0"}),
    }
}

/// Whether bug `bug`'s event carries an epoch-seconds timestamp (browser) or RFC 3339.
pub(crate) fn epoch_timestamp(bug: usize) -> bool {
    BUGS[bug % BUG_COUNT].platform == Platform::Browser
}

fn environment(bug: usize) -> &'static str {
    if bug % 3 == 2 {
        "staging"
    } else {
        "production"
    }
}

fn user_id(bug: usize) -> String {
    format!("u-{}", 1000 + 37 * bug)
}

fn user(bug: usize) -> Value {
    let id = user_id(bug);
    json!({"id": id, "email": format!("{id}@example.com"), "username": format!("shopper{bug}"),
           "ip_address": format!("10.20.{bug}.17")})
}

fn python_event(b: &Bug, bug: usize, event_id: &str, timestamp: &str) -> Value {
    let mut frames: Vec<Value> = PYTHON_OUTER
        .iter()
        .enumerate()
        .map(|(i, (file, module, function))| {
            json!({"filename": file, "module": module, "function": function,
                   "lineno": 40 + 17 * i, "in_app": false})
        })
        .collect();
    let file = format!("{}.py", b.place.replace('.', "/"));
    frames.extend(b.functions.iter().enumerate().map(|(i, function)| {
        json!({"filename": file, "abs_path": format!("/srv/app/{file}"), "module": b.place,
               "function": function, "lineno": 20 + 11 * i, "in_app": true,
               "pre_context": ["    cart = request.cart"],
               "context_line": format!("    result = {function}(cart, items[{i}])"),
               "post_context": ["    return result"],
               "vars": {"cart": "<Cart id=81723 lines=3>", "step": i}})
    }));
    frames.extend(PYTHON_INNER.iter().map(|(file, module, function)| {
        json!({"filename": file, "module": module, "function": function, "lineno": 611,
               "in_app": false, "context_line": "        return self._execute(sql, params)"})
    }));
    json!({
        "event_id": event_id, "timestamp": timestamp, "platform": "python", "level": "error",
        "logger": "django.request", "server_name": format!("web-{}", bug % 3 + 1),
        "release": b.release, "environment": environment(bug), "transaction": b.transaction,
        "exception": {"values": [{"type": b.exception, "value": b.value, "module": b.place,
            "mechanism": {"type": "django", "handled": false},
            "stacktrace": {"frames": frames}}]},
        "contexts": {
            "os": {"name": "Linux", "version": "6.1.0-28-amd64"},
            "runtime": {"name": "CPython", "version": "3.12.7"},
            "device": {"arch": "x86_64", "processor_count": 2},
            "trace": {"trace_id": "4c79f60c11214eb38604f4ae0781bfb2", "span_id": "a9a07d9e4cd1b42d", "op": "http.server"}
        },
        "tags": {"region": "eu-west-1", "customer_tier": "pro", "feature.checkout_v2": "on", "worker": "gunicorn"},
        "user": user(bug),
        "request": {"url": format!("https://shop.example.com{}", b.transaction), "method": "POST",
                    "headers": {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
                                "Content-Type": "application/json"}},
        "breadcrumbs": {"values": [
            {"timestamp": 1763795640.101, "category": "django.request", "level": "info", "message": "POST /api/session"},
            {"timestamp": 1763795640.205, "category": "query", "message": "SELECT \"accounts_user\".\"id\" FROM \"accounts_user\" WHERE \"id\" = %s", "data": {"db.system": "postgresql"}},
            {"timestamp": 1763795640.311, "category": "redis", "message": "GET cart:81723"},
            {"timestamp": 1763795640.420, "type": "http", "category": "httplib", "data": {"method": "GET", "url": "https://inventory.internal/stock", "status_code": 200}},
            {"timestamp": 1763795640.522, "category": "query", "message": "UPDATE \"checkout_line\" SET \"quantity\" = %s WHERE \"id\" = %s"}
        ]},
        "sdk": sdk(bug),
    })
}

fn browser_event(b: &Bug, bug: usize, event_id: &str, timestamp: &str) -> Value {
    let url = |file: &str| format!("https://shop.example.com/static/js/{file}");
    let mut frames: Vec<Value> = BROWSER_OUTER
        .iter()
        .enumerate()
        .map(|(i, (file, function))| {
            json!({"filename": url(file), "function": function, "lineno": 1,
                   "colno": 3000 + 911 * i, "in_app": false})
        })
        .collect();
    frames.extend(b.functions.iter().enumerate().map(|(i, function)| {
        json!({"filename": format!("webpack:///./{}", b.place), "function": function,
               "lineno": 30 + 7 * i, "colno": 13 + 4 * i, "in_app": true,
               "pre_context": ["  const total = useMemo(() => {"],
               "context_line": format!("    return {function}(lines[index], currency);"),
               "post_context": ["  }, [lines, currency]);"]})
    }));
    frames.extend(BROWSER_INNER.iter().map(|(file, function)| {
        json!({"filename": url(file), "function": function, "lineno": 1, "colno": 1840,
               "in_app": false})
    }));
    json!({
        "event_id": event_id, "timestamp": timestamp, "platform": "javascript", "level": "error",
        "release": b.release, "environment": environment(bug), "transaction": b.transaction,
        "exception": {"values": [{"type": b.exception, "value": b.value,
            "mechanism": {"type": "onunhandledrejection", "handled": false},
            "stacktrace": {"frames": frames}}]},
        "contexts": {
            "browser": {"name": "Chrome", "version": "131.0.0"},
            "os": {"name": "Windows", "version": "10"},
            "device": {"family": "Desktop", "screen_resolution": "1920x1080"},
            "trace": {"trace_id": "0d3a6cfb9f0e4d0e8a4d8b9f1c2e3a4b", "span_id": "b7e3f1a2c4d5e6f7", "op": "pageload"}
        },
        "tags": {"locale": "de-DE", "customer_tier": "free", "feature.new_cart": "on", "ui.theme": "dark"},
        "user": user(bug),
        "request": {"url": format!("https://shop.example.com{}", b.transaction),
                    "headers": {"User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                                "Referer": "https://shop.example.com/"}},
        "breadcrumbs": {"values": [
            {"timestamp": 1763795640.101, "category": "navigation", "data": {"from": "/", "to": b.transaction}},
            {"timestamp": 1763795640.205, "category": "ui.click", "message": "button.add-to-cart[data-sku=\"A-1042\"]"},
            {"timestamp": 1763795640.311, "type": "http", "category": "fetch", "data": {"method": "GET", "url": "/api/cart", "status_code": 200}},
            {"timestamp": 1763795640.420, "category": "console", "level": "warning", "message": "Price list is stale, refetching"},
            {"timestamp": 1763795640.522, "type": "http", "category": "xhr", "data": {"method": "POST", "url": "/api/cart/lines", "status_code": 200}}
        ]},
        "sdk": sdk(bug),
    })
}
