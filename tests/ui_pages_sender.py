"""What tests/test_ui_pages.py shows in the browser, sent by the real Python SDK (run in a
process of its own, as an application would): a chained exception raised with local variables
and breadcrumbs, a transaction with nested spans, a crashed and an exited session of one
release, a cron check-in that failed and one that passed, and log records.

Environment: SENTRY_DSN (required), UI_RUN (a marker in names and messages).
Prints one JSON line: {"release", "event_ids": {...}, "trace_id"}."""
import json
import os
import time

import sentry_sdk
import sentry_sdk.logger
from sentry_sdk.crons import capture_checkin
from sentry_sdk.utils import event_from_exception

RUN = os.environ["UI_RUN"]
RELEASE = f"ui-pages@2.0.0+{RUN}"

sentry_sdk.init(dsn=os.environ["SENTRY_DSN"], release=RELEASE, environment="production",
                traces_sample_rate=1.0, send_default_pii=True, enable_logs=True,
                include_local_variables=True, default_integrations=False)
sentry_sdk.set_user({"id": f"user-{RUN}", "email": "ada@example.com"})
ids = {}


def parse_quantity(raw):
    wanted_quantity = f"quantity-{RUN}"
    return int(raw), wanted_quantity


def load_order(order_id):
    try:
        return parse_quantity("three")
    except ValueError as cause:
        raise RuntimeError(f"order {order_id} could not be loaded ({RUN})") from cause


# A session that crashes in a transaction with nested spans (checkout > load cart > query,
# charge): the chained exception is raised in it, so that its event links to the trace.
sentry_sdk.start_session()
sentry_sdk.add_breadcrumb(category="http", message="GET /orders/42", level="info",
                          data={"status_code": 200})
sentry_sdk.add_breadcrumb(category="db.query", message=f"SELECT * FROM orders -- {RUN}", level="debug")
sentry_sdk.add_breadcrumb(category="auth", message="token refreshed", level="warning")
with sentry_sdk.start_transaction(name=f"checkout {RUN}", op="http.server") as tx:
    with tx.start_child(op="cart.load", name="load cart") as cart:
        with cart.start_child(op="db.query", name="SELECT * FROM cart"):
            time.sleep(0.02)
    with tx.start_child(op="payment.charge", name="charge card"):
        time.sleep(0.03)
        with sentry_sdk.new_scope() as scope:
            scope.set_tag("shop", "north")
            try:
                load_order(42)
            except RuntimeError as error:
                # Sent as unhandled, as a crash is: the SDK marks the session crashed.
                event, hint = event_from_exception(error, mechanism={"type": "ui-pages", "handled": False})
                ids["exception"] = sentry_sdk.capture_event(event, hint=hint)
    ids["trace_id"] = tx.trace_id
sentry_sdk.end_session()

# A healthy session of the same release.
sentry_sdk.start_session()
sentry_sdk.end_session()

capture_checkin(monitor_slug=f"nightly-{RUN}", status="error", duration=2.5)
ids["check_in"] = capture_checkin(monitor_slug=f"nightly-{RUN}", status="ok", duration=1.5)

sentry_sdk.logger.info("cart {run} loaded", run=RUN)
sentry_sdk.logger.error("payment {run} declined", run=RUN)

sentry_sdk.flush(timeout=10)
sentry_sdk.get_client().close(timeout=10)
print(json.dumps({"release": RELEASE, "event_ids": ids}))
