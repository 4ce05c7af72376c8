//! The archive's zstd dictionaries (`crashcache.dictionary`), prepared once per backend: a
//! dictionary never changes once made, so the cache is never invalidated.
//!
//! A dictionary that is not in the table is `None` (the payload then reports which one it
//! needs); one that cannot be read, or is not a valid dictionary, is an error that says so.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use crashcache_core::archive::Dictionary;
use pgrx::prelude::*;
use pgrx::spi::{self, SpiClient};

use crate::errors;

const SELECT: &str = "SELECT dict FROM crashcache.dictionary WHERE id = $1";

thread_local! {
    static PREPARED: RefCell<HashMap<u32, Rc<Dictionary>>> = RefCell::new(HashMap::new());
}

fn cached(id: u32) -> Option<Rc<Dictionary>> {
    PREPARED.with(|prepared| prepared.borrow().get(&id).cloned())
}

/// Prepares and keeps the dictionary read from the table.
fn prepare(id: u32, bytes: Option<Vec<u8>>) -> Option<Rc<Dictionary>> {
    let bytes = bytes?;
    let dictionary = match Dictionary::new(id, &bytes) {
        Ok(dictionary) => Rc::new(dictionary),
        Err(e) => errors::raise(
            PgSqlErrorCode::ERRCODE_DATA_CORRUPTED,
            format!("crashcache.dictionary {id} is not a valid zstd dictionary: {e}"),
        ),
    };
    PREPARED.with(|prepared| prepared.borrow_mut().insert(id, dictionary.clone()));
    Some(dictionary)
}

/// Dictionary ids are u32 in the frame header and int in the table.
fn key(id: u32) -> Option<i32> {
    i32::try_from(id).ok()
}

/// Dictionary `id`, read on first use through a connection of its own.
pub fn get(id: u32) -> Result<Option<Rc<Dictionary>>, spi::Error> {
    if let Some(dictionary) = cached(id) {
        return Ok(Some(dictionary));
    }
    let Some(key) = key(id) else { return Ok(None) };
    let bytes = Spi::get_one_with_args::<Vec<u8>>(SELECT, &[key.into()]).or_else(none_if_no_row)?;
    Ok(prepare(id, bytes))
}

/// Dictionary `id`, read on first use through the caller's SPI connection.
pub fn get_with(client: &SpiClient<'_>, id: u32) -> Result<Option<Rc<Dictionary>>, spi::Error> {
    if let Some(dictionary) = cached(id) {
        return Ok(Some(dictionary));
    }
    let Some(key) = key(id) else { return Ok(None) };
    let rows = client.select(SELECT, Some(1), &[key.into()])?;
    let bytes = if rows.is_empty() {
        None
    } else {
        rows.first().get_one::<Vec<u8>>()?
    };
    Ok(prepare(id, bytes))
}

/// `get_one` on a query that returns no row is an error; for a lookup it is "not there".
fn none_if_no_row<T>(e: spi::Error) -> Result<Option<T>, spi::Error> {
    match e {
        spi::Error::InvalidPosition => Ok(None),
        other => Err(other),
    }
}
