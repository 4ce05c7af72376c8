//! Raising an ERROR with a SQLSTATE that says what kind of failure it is (pgrx's `error!` is
//! always XX000, internal error).

use pgrx::prelude::*;

/// Raises an ERROR with `code` and `message`; the transaction is aborted and nothing returns.
pub fn raise(code: PgSqlErrorCode, message: String) -> ! {
    ereport!(PgLogLevel::ERROR, code, message);
    unreachable!("ereport(ERROR) does not return")
}
