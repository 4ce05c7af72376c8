//! Size settings written as integer expressions, such as `20 * 1024 * 1024`.

/// Evaluates a size such as `20 * 1024 * 1024` or `1024 + 512`: whole numbers joined by `*`
/// and `+` (with the usual precedence), spaces anywhere between them. Overflow is an error.
pub fn eval_size(text: &str) -> Result<u64, String> {
    let mut total: u64 = 0;
    for term in text.split('+') {
        let mut product: u64 = 1;
        for factor in term.split('*') {
            let factor = factor.trim();
            if factor.is_empty() {
                return Err("expected a number".into());
            }
            if !factor.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("'{factor}' is not a whole number"));
            }
            let number: u64 = factor
                .parse()
                .map_err(|_| format!("'{factor}' is too large"))?;
            product = product
                .checked_mul(number)
                .ok_or_else(|| "the result is too large".to_owned())?;
        }
        total = total
            .checked_add(product)
            .ok_or_else(|| "the result is too large".to_owned())?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::eval_size;

    #[test]
    fn size_expressions() {
        assert_eq!(eval_size("20 * 1024 * 1024"), Ok(20 * 1024 * 1024));
        assert_eq!(eval_size("200*1024"), Ok(204_800));
        assert_eq!(eval_size(" 1024 + 2 * 3 "), Ok(1030));
        assert_eq!(eval_size("42"), Ok(42));
        assert!(eval_size("").is_err());
        assert!(eval_size("1 +").is_err());
        assert!(eval_size("2 ** 3").is_err());
        assert!(eval_size("1 2").is_err());
        assert!(eval_size("-1").is_err());
        assert!(eval_size("1.5 * 1024").is_err());
        assert!(eval_size("1MB").is_err());
        assert!(eval_size("18446744073709551615 + 1").is_err());
        assert!(eval_size("4294967296 * 4294967296").is_err());
        assert!(eval_size("99999999999999999999999").is_err());
    }
}
