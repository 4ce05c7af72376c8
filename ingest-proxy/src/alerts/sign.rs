//! The webhook signature: HMAC-SHA256 of `"<unix seconds>.<body>"` with the channel's secret.
//!
//! Header: `X-Crashcache-Signature: t=<unix seconds>,v1=<lowercase hex>`. Signing the timestamp
//! with the body lets a receiver reject replays (an old `t`) as well as forgeries; the `v1`
//! label leaves room for another scheme later without breaking receivers. The README shows how
//! to verify it.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "X-Crashcache-Signature";

/// The header's value for `body` sent at `timestamp` (unix seconds).
pub fn signature(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    // HMAC takes a key of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::signature;

    #[test]
    fn matches_a_signature_computed_elsewhere() {
        // python3 -c 'import hmac,hashlib; print(hmac.new(b"whsec_test",
        //   b"1764640800.{\"a\":1}", hashlib.sha256).hexdigest())'
        assert_eq!(
            signature(b"whsec_test", 1_764_640_800, br#"{"a":1}"#),
            "t=1764640800,v1=be78ae9b21753be37ebb1471bb390fd4d3bef276d1ed27e848e7ab60966036b0"
        );
    }

    #[test]
    fn depends_on_time_body_and_secret() {
        let base = signature(b"s", 1, b"body");
        assert_ne!(base, signature(b"s", 2, b"body"));
        assert_ne!(base, signature(b"s", 1, b"bodY"));
        assert_ne!(base, signature(b"t", 1, b"body"));
        assert_ne!(signature(b"", 1, b""), "");
    }
}
