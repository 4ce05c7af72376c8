//! Sending one alert POST: a client that resolves through the target guard, follows no
//! redirect, and bounds its time and the sizes it sends and keeps.

use std::sync::Arc;
use std::time::Duration;

use reqwest::redirect::Policy;
use reqwest::Client;

use crate::alerts::format::HttpPost;
use crate::alerts::target::{check_url, AllowedTargets, GuardedResolver, TargetError};
use crate::alerts::Outcome;

/// Time to open the connection (TLS included).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time for the whole exchange, the response's body included.
const TOTAL_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes of the response kept for the record (and read at most).
pub const RESPONSE_KEPT: usize = 4096;
/// Largest body sent: the formats cut their texts well below it.
const MAX_REQUEST_BYTES: usize = 256 * 1024;

/// The HTTP side of delivery: one client shared by every POST.
#[derive(Debug, Clone)]
pub struct HttpSender {
    client: Client,
    allowed: Arc<AllowedTargets>,
}

impl HttpSender {
    /// A sender refusing the targets `allowed` does not name (`target`).
    pub fn new(allowed: AllowedTargets) -> Result<Self, String> {
        let allowed = Arc::new(allowed);
        let client = Client::builder()
            .dns_resolver(Arc::new(GuardedResolver::new(allowed.clone())))
            // A redirect would reach an address nobody checked; the status is recorded instead.
            .redirect(Policy::none())
            // A proxy would connect on our behalf to addresses our resolver never saw.
            .no_proxy()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(TOTAL_TIMEOUT)
            .user_agent(concat!("crashcache-alerts/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| format!("cannot build the alerts' HTTP client: {err}"))?;
        Ok(HttpSender { client, allowed })
    }

    /// Sends `post`: delivered on a 2xx, with the status and the start of the response.
    pub async fn send(&self, post: &HttpPost) -> Outcome {
        let url = match check_url(&post.url, &self.allowed) {
            Ok(url) => url,
            Err(err) => return Outcome::refused(err.to_string()),
        };
        if post.body.len() > MAX_REQUEST_BYTES {
            return Outcome::refused(format!(
                "the message is {} bytes, more than the {MAX_REQUEST_BYTES} sent at most",
                post.body.len()
            ));
        }
        let mut request = self.client.post(url).body(post.body.clone());
        for (name, value) in &post.headers {
            request = request.header(*name, value);
        }
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(err) => {
                return match refused_target(&err) {
                    // The resolver refused every address: as final as a refused URL.
                    Some(refusal) => Outcome::refused(refusal.to_string()),
                    None => Outcome::failed(describe(err)),
                };
            }
        };
        let status = response.status();
        let mut kept = Vec::new();
        // Read only what is kept: a receiver answering gigabytes costs nothing more.
        while kept.len() < RESPONSE_KEPT {
            match response.chunk().await {
                Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(err) => {
                    kept.extend_from_slice(
                        format!(" [reading the answer: {}]", describe(err)).as_bytes(),
                    );
                    break;
                }
            }
        }
        Outcome::answered(status.as_u16(), kept_text(&kept))
    }
}

/// The target guard's refusal, when that is what failed the request.
fn refused_target(err: &reqwest::Error) -> Option<&TargetError> {
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if let Some(refusal) = cause.downcast_ref::<TargetError>() {
            return Some(refusal);
        }
        source = cause.source();
    }
    None
}

/// The error and its causes, without the URL (its path is often the webhook's secret).
fn describe(err: reqwest::Error) -> String {
    if err.is_timeout() {
        return format!("no answer within {} s", TOTAL_TIMEOUT.as_secs());
    }
    let err = err.without_url();
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// At most `RESPONSE_KEPT` bytes as text, cut on a character boundary.
fn kept_text(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(RESPONSE_KEPT)]).into_owned();
    let mut end = text.len().min(RESPONSE_KEPT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::{kept_text, RESPONSE_KEPT};

    #[test]
    fn keeps_the_start_of_the_answer() {
        assert_eq!(kept_text(b"ok"), "ok");
        let long = "é".repeat(RESPONSE_KEPT);
        let kept = kept_text(long.as_bytes());
        assert!(kept.len() <= RESPONSE_KEPT && kept.chars().all(|c| c == 'é'));
        assert_eq!(kept_text(&[0xff, b'a']), "\u{fffd}a");
    }
}
