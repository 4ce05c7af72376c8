//! Sentry's pagination header: `Link` with a previous and a next page, each saying whether it
//! has results and its cursor, which clients pass back as `?cursor=`.

/// The cursor of a page that is not there (Sentry sends one anyway, with results="false").
const NO_PAGE: &str = "0:0:0";

/// The `Link` header of a page of `url_base` (the request's URL without its query) whose other
/// query parameters were `query` (cursor left out). `next` is the cursor of the next page, if
/// there is one; going back is not offered.
pub fn link_header(url_base: &str, query: &[(String, String)], next: Option<&str>) -> String {
    let page = |cursor: &str| {
        let mut pairs = form_urlencoded::Serializer::new(String::new());
        for (key, value) in query.iter().filter(|(key, _)| key != "cursor") {
            pairs.append_pair(key, value);
        }
        pairs.append_pair("cursor", cursor);
        format!("{url_base}?{}", pairs.finish())
    };
    // Commas would split the header for clients that parse it by hand: cursors have none, and
    // the serializer escapes them in the query.
    format!(
        "<{}>; rel=\"previous\"; results=\"false\"; cursor=\"{NO_PAGE}\", <{}>; rel=\"next\"; results=\"{}\"; cursor=\"{}\"",
        page(NO_PAGE),
        page(next.unwrap_or(NO_PAGE)),
        next.is_some(),
        next.unwrap_or(NO_PAGE)
    )
}

#[cfg(test)]
mod tests {
    use super::link_header;

    #[test]
    fn next_page_with_the_other_parameters() {
        let query = vec![
            (
                "query".to_string(),
                "is:unresolved level:error, x".to_string(),
            ),
            ("cursor".to_string(), "1:2:0".to_string()),
        ];
        let header = link_header(
            "http://h/api/0/projects/o/p/issues/",
            &query,
            Some("170:42:0"),
        );
        assert_eq!(
            header,
            "<http://h/api/0/projects/o/p/issues/?query=is%3Aunresolved+level%3Aerror%2C+x&cursor=0%3A0%3A0>; \
             rel=\"previous\"; results=\"false\"; cursor=\"0:0:0\", \
             <http://h/api/0/projects/o/p/issues/?query=is%3Aunresolved+level%3Aerror%2C+x&cursor=170%3A42%3A0>; \
             rel=\"next\"; results=\"true\"; cursor=\"170:42:0\""
        );
        // Two links, split where clients split: no other comma.
        assert_eq!(header.matches(',').count(), 1);
    }

    #[test]
    fn last_page() {
        let header = link_header("http://h/api/0/organizations/", &[], None);
        assert!(
            header.ends_with("rel=\"next\"; results=\"false\"; cursor=\"0:0:0\""),
            "{header}"
        );
    }
}
