//! The SQL tail rotki's `DBFilterQuery.prepare` builds for its list endpoints: filters
//! joined with AND into a `WHERE`, an `ORDER BY` and a `LIMIT`/`OFFSET`, with the same
//! text and the same bound values, so SQLite picks the same plan and returns rows in the
//! same order as it does for rotki.

use rusqlite::types::Value;

#[derive(Debug, Default, Clone)]
pub struct FilterQuery {
    /// Each filter's fragments, already joined and parenthesized as rotki does.
    conditions: Vec<String>,
    params: Vec<Value>,
    /// `(attribute, ascending)`; rotki checked each attribute is a plain column name.
    order: Vec<(String, bool)>,
    order_case_sensitive: bool,
    page: Option<Page>,
}

/// Decimal integers as marshmallow loaded them (Python's are unbounded: SQLite judges
/// one too large, as it does for rotki).
#[derive(Debug, Clone)]
pub struct Page {
    pub limit: String,
    pub offset: String,
}

impl FilterQuery {
    /// rotki's `create`: pagination only when both halves are given.
    pub fn new(limit: Option<String>, offset: Option<String>) -> FilterQuery {
        let page = match (limit, offset) {
            (Some(limit), Some(offset)) => Some(Page { limit, offset }),
            _ => None,
        };
        FilterQuery { page, order_case_sensitive: true, ..FilterQuery::default() }
    }

    pub fn order_by(mut self, rules: Vec<(String, bool)>, case_sensitive: bool) -> FilterQuery {
        self.order = rules;
        self.order_case_sensitive = case_sensitive;
        self
    }

    /// A filter of one fragment.
    pub fn filter(&mut self, fragment: impl Into<String>, params: impl IntoIterator<Item = Value>) {
        self.conditions.push(format!("({})", fragment.into()));
        self.params.extend(params);
    }

    /// `DBSubStringFilter`: `field LIKE '%s%'`.
    pub fn substring(&mut self, field: &str, search: &str) {
        self.filter(format!("{field} LIKE ?"), [Value::Text(format!("%{search}%"))]);
    }

    /// `DBEqualsFilter`.
    pub fn equals(&mut self, column: &str, value: Value) {
        self.filter(format!("{column}=?"), [value]);
    }

    /// `DBMultiStringFilter` with `IN`.
    pub fn one_of(&mut self, column: &str, values: &[String]) {
        let marks = vec!["?"; values.len()].join(", ");
        self.filter(format!("{column} IN ({marks})"), values.iter().cloned().map(Value::Text));
    }

    pub fn params(&self) -> &[Value] {
        &self.params
    }

    pub fn page(&self) -> Option<&Page> {
        self.page.as_ref()
    }

    /// The SQL tail: rotki's parts joined with single spaces (empty parts left out).
    pub fn prepare(&self, with_pagination: bool) -> String {
        let mut parts = Vec::new();
        if !self.conditions.is_empty() {
            parts.push(format!("WHERE {}", self.conditions.join(" AND ")));
        }
        if !self.order.is_empty() {
            let rules: Vec<String> = self
                .order
                .iter()
                .map(|(attribute, ascending)| {
                    let direction = if *ascending { "ASC" } else { "DESC" };
                    let column = if NUMERIC_TEXT.contains(&attribute.as_str()) {
                        format!("CAST({attribute} AS REAL)")
                    } else {
                        attribute.clone()
                    };
                    match self.order_case_sensitive {
                        true => format!("{column} {direction}"),
                        false => format!("{column} COLLATE NOCASE {direction}"),
                    }
                })
                .collect();
            parts.push(format!("ORDER BY {}", rules.join(",")));
        }
        if let (true, Some(page)) = (with_pagination, &self.page) {
            parts.push(page.prepare());
        }
        parts.join(" ")
    }
}

/// Attributes rotki stores as text but orders as numbers.
const NUMERIC_TEXT: [&str; 8] =
    ["amount", "fee", "rate", "last_price", "last_price_asset", "manual_price", "pnl_taxable", "pnl_free"];

impl Page {
    /// `LIMIT {limit or -1}` and ` OFFSET {offset}` unless the offset is 0.
    pub fn prepare(&self) -> String {
        let limit = if self.limit == "0" { "-1" } else { &self.limit };
        match self.offset.as_str() {
            "0" => format!("LIMIT {limit}"),
            offset => format!("LIMIT {limit} OFFSET {offset}"),
        }
    }
}

/// rotki's check on an ORDER BY attribute, which it pastes into the SQL: a plain,
/// optionally table-qualified, column name.
pub fn is_column_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_rotkis_text() {
        let mut q = FilterQuery::new(Some("10".into()), Some("0".into()))
            .order_by(vec![("name".into(), true), ("amount".into(), false)], false);
        q.substring("name", "eth");
        q.equals("type", Value::Text("C".into()));
        q.one_of("identifier", &["a".into(), "b".into()]);
        assert_eq!(
            q.prepare(true),
            "WHERE (name LIKE ?) AND (type=?) AND (identifier IN (?, ?)) \
             ORDER BY name COLLATE NOCASE ASC,CAST(amount AS REAL) COLLATE NOCASE DESC LIMIT 10"
        );
        assert_eq!(q.params().len(), 4);
        assert_eq!(FilterQuery::new(Some("0".into()), Some("5".into())).prepare(true), "LIMIT -1 OFFSET 5");
        assert_eq!(FilterQuery::new(Some("3".into()), None).prepare(true), "");
    }

    #[test]
    fn column_names() {
        assert!(is_column_name("name"));
        assert!(is_column_name("A.symbol_2"));
        assert!(!is_column_name("1name"));
        assert!(!is_column_name("name; DROP"));
        assert!(!is_column_name(""));
    }
}
