//! The UI's static files (CSS, the little JavaScript), built into the binary and served at
//! `/static/<name>-<hash>.<ext>`: the content hash in the name lets browsers keep them for a
//! year and still never use a stale one.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::web_ui::error::UiError;

/// One file: its name in the source, its type and its bytes.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const ASSETS: [Asset; 2] = [
    Asset {
        name: "ui.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("assets/ui.css"),
    },
    Asset {
        name: "ui.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/ui.js"),
    },
];

/// Each asset's served name, `ui-1a2b3c4d5e6f.css`.
static VERSIONED: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|asset| versioned_name(asset.name, asset.bytes))
        .collect()
});

/// `name` with the first 12 hex digits of the content's SHA-256 before its extension.
pub fn versioned_name(name: &str, bytes: &[u8]) -> String {
    let hash = hex::encode(&Sha256::digest(bytes)[..6]);
    match name.rsplit_once('.') {
        Some((stem, extension)) => format!("{stem}-{hash}.{extension}"),
        None => format!("{name}-{hash}"),
    }
}

/// The URL of asset `name` (`ui.css`, `ui.js`); an unknown name is a bug, and gets a URL
/// that answers 404.
pub fn url(name: &str) -> String {
    ASSETS
        .iter()
        .position(|asset| asset.name == name)
        .map_or_else(
            || format!("/static/{name}"),
            |i| format!("/static/{}", VERSIONED[i]),
        )
}

/// GET /static/{file}
pub async fn serve(Path(file): Path<String>) -> Result<Response, UiError> {
    let index = VERSIONED
        .iter()
        .position(|name| *name == file)
        .ok_or_else(|| UiError::NotFound(format!("There is no file {file}.")))?;
    let asset = &ASSETS[index];
    let mut response = asset.bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::{url, versioned_name};

    #[test]
    fn names_carry_the_content_hash() {
        assert_eq!(versioned_name("ui.css", b"a"), "ui-ca978112ca1b.css");
        assert_ne!(
            versioned_name("ui.css", b"a"),
            versioned_name("ui.css", b"b")
        );
        assert!(url("ui.css").starts_with("/static/ui-"));
        assert!(url("ui.js").ends_with(".js"));
    }
}
