//! `?before=&limit=` paging of newest-first lists (the audit log, a webhook
//! endpoint's deliveries): ids below `before`, at most `limit`.

use super::error::ApiError;

/// A page asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Ids below this.
    pub before: i64,
    /// At most this many.
    pub limit: i64,
}

impl Page {
    /// Reads `query`, with `limit` from 1 to `max` (default `default`); any other
    /// parameter is refused, naming `list`.
    ///
    /// # Errors
    /// [`ApiError::InvalidField`] naming the parameter and its rule.
    pub fn parse(query: Option<&str>, default: i64, max: i64, list: &str) -> Result<Page, ApiError> {
        let mut page = Page { before: i64::MAX, limit: default };
        for (name, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            let number = |field: &str, min: i64, max: i64| {
                value.parse::<i64>().ok().filter(|n| (min..=max).contains(n)).ok_or_else(|| ApiError::InvalidField {
                    field: field.to_owned(),
                    rule: format!("must be a whole number from {min} to {max} (got `{value}`)"),
                })
            };
            match name.as_ref() {
                "before" => page.before = number("before", 1, i64::MAX)?,
                "limit" => page.limit = number("limit", 1, max)?,
                other => {
                    return Err(ApiError::InvalidField {
                        field: other.to_owned(),
                        rule: format!("is not a parameter of {list}; use before and limit"),
                    })
                }
            }
        }
        Ok(page)
    }

    /// The `before` of the next page, if `ids` (this page's, in order) filled it.
    pub fn next_before(self, ids: impl DoubleEndedIterator<Item = i64> + ExactSizeIterator) -> Option<i64> {
        let full = i64::try_from(ids.len()).is_ok_and(|len| len == self.limit);
        ids.last().filter(|_| full)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_read_and_checked() {
        assert_eq!(Page::parse(None, 100, 500, "x").unwrap(), Page { before: i64::MAX, limit: 100 });
        assert_eq!(Page::parse(Some("before=9&limit=2"), 100, 500, "x").unwrap(), Page { before: 9, limit: 2 });
        let err = Page::parse(Some("limit=501"), 100, 500, "x").unwrap_err();
        assert_eq!(err.to_string(), "limit: must be a whole number from 1 to 500 (got `501`)");
        let err = Page::parse(Some("after=1"), 100, 500, "the audit log").unwrap_err();
        assert_eq!(err.to_string(), "after: is not a parameter of the audit log; use before and limit");
        let page = Page { before: i64::MAX, limit: 2 };
        assert_eq!(page.next_before([5, 4].into_iter()), Some(4));
        assert_eq!(page.next_before([5].into_iter()), None);
    }
}
