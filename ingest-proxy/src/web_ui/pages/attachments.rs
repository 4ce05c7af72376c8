//! Attachment downloads (`/attachments/{id}`): the bytes an SDK sent with an event, always as
//! a download (Content-Disposition: attachment) and with a content type that no browser runs
//! (an HTML or SVG attachment could carry script): a short list of inert types passes, the rest
//! is application/octet-stream.

use axum::extract::{Path, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};

use crate::web_ui::db;
use crate::web_ui::error::UiError;
use crate::web_ui::session::SignedIn;
use crate::web_ui::WebUi;

/// GET /attachments/{id}
pub async fn download(
    State(ui): State<WebUi>,
    _user: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let id: i64 = id
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| UiError::NotFound(format!("No attachment {id:?}")))?;
    let rows = db::rows(
        &ui.pool,
        "SELECT filename, content_type, body FROM crashcache.ui_attachment($1)",
        &[&id],
    )
    .await?;
    let row = rows
        .first()
        .ok_or_else(|| UiError::NotFound(format!("No attachment {id}")))?;
    let column = |err: tokio_postgres::Error| UiError::Internal(format!("attachment {id}: {err}"));
    let filename: Option<String> = row.try_get(0).map_err(column)?;
    let content_type: Option<String> = row.try_get(1).map_err(column)?;
    let body: Vec<u8> = row.try_get(2).map_err(column)?;
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(safe_content_type(content_type.as_deref())),
    );
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if let Ok(value) = HeaderValue::from_str(&content_disposition(
        filename.as_deref().unwrap_or("attachment"),
    )) {
        headers.insert(CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// The content type an attachment is served with: inert types as sent, anything else (HTML,
/// SVG, script, unknown) as application/octet-stream.
pub fn safe_content_type(sent: Option<&str>) -> &'static str {
    let essence = sent
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "text/plain" => "text/plain; charset=utf-8",
        "application/json" => "application/json",
        "image/png" => "image/png",
        "image/jpeg" => "image/jpeg",
        "image/gif" => "image/gif",
        "image/webp" => "image/webp",
        "application/zip" => "application/zip",
        "application/gzip" => "application/gzip",
        "application/x-minidump" => "application/x-minidump",
        _ => "application/octet-stream",
    }
}

/// `attachment; filename="…"; filename*=UTF-8''…`: an ASCII fallback without quotes, slashes
/// or control characters, and the name itself percent-encoded (RFC 6266).
pub fn content_disposition(filename: &str) -> String {
    let base = filename.rsplit(['/', '\\']).next().unwrap_or_default();
    let fallback: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '%' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    let fallback = if fallback.trim().is_empty() {
        "attachment".to_string()
    } else {
        fallback
    };
    let encoded: String = base
        .bytes()
        .take(400)
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect();
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::{content_disposition, safe_content_type};

    #[test]
    fn only_inert_types_pass() {
        assert_eq!(
            safe_content_type(Some("text/plain")),
            "text/plain; charset=utf-8"
        );
        assert_eq!(safe_content_type(Some("IMAGE/PNG; x=1")), "image/png");
        assert_eq!(
            safe_content_type(Some("text/html")),
            "application/octet-stream"
        );
        assert_eq!(
            safe_content_type(Some("image/svg+xml")),
            "application/octet-stream"
        );
        assert_eq!(safe_content_type(None), "application/octet-stream");
    }

    #[test]
    fn names_cannot_break_the_header() {
        assert_eq!(
            content_disposition("log.txt"),
            "attachment; filename=\"log.txt\"; filename*=UTF-8''log.txt"
        );
        let hostile = content_disposition("../../x\"; evil=1\r\n.txt");
        assert!(
            !hostile.contains('\r') && !hostile.contains('\n'),
            "{hostile}"
        );
        assert!(
            hostile.starts_with("attachment; filename=\"x_; evil=1__.txt\""),
            "{hostile}"
        );
        assert!(
            content_disposition("résumé.pdf").ends_with("filename*=UTF-8''r%C3%A9sum%C3%A9.pdf")
        );
        assert!(content_disposition("").starts_with("attachment; filename=\"attachment\""));
    }
}
