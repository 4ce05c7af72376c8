//! The archive's zstd dictionaries (`crashcache.dictionary`), prepared once per backend: a
//! dictionary never changes once made, so the cache is never invalidated.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use crashcache_core::archive::Dictionary;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

const SELECT: &str = "SELECT dict FROM crashcache.dictionary WHERE id = $1";

thread_local! {
    static PREPARED: RefCell<HashMap<u32, Rc<Dictionary>>> = RefCell::new(HashMap::new());
}

fn cached(id: u32) -> Option<Rc<Dictionary>> {
    PREPARED.with(|prepared| prepared.borrow().get(&id).cloned())
}

/// Prepares and keeps the dictionary read from the table; `None` if it is not there (the
/// caller then reports the payload as needing a missing dictionary).
fn prepare(id: u32, bytes: Option<Vec<u8>>) -> Option<Rc<Dictionary>> {
    let dictionary = Rc::new(Dictionary::new(id, &bytes?).ok()?);
    PREPARED.with(|prepared| prepared.borrow_mut().insert(id, dictionary.clone()));
    Some(dictionary)
}

/// Dictionary `id`, read on first use through a connection of its own.
pub fn get(id: u32) -> Option<Rc<Dictionary>> {
    cached(id).or_else(|| {
        let key = i32::try_from(id).ok()?;
        let bytes = Spi::get_one_with_args::<Vec<u8>>(SELECT, &[key.into()])
            .ok()
            .flatten();
        prepare(id, bytes)
    })
}

/// Dictionary `id`, read on first use through the caller's SPI connection.
pub fn get_with(client: &SpiClient<'_>, id: u32) -> Option<Rc<Dictionary>> {
    cached(id).or_else(|| {
        let key = i32::try_from(id).ok()?;
        let bytes = client
            .select(SELECT, Some(1), &[key.into()])
            .ok()?
            .first()
            .get_one::<Vec<u8>>()
            .ok()
            .flatten();
        prepare(id, bytes)
    })
}
