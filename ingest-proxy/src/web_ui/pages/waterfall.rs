//! The geometry of a transaction's span waterfall: spans nested under their parents (by
//! parent span id), in start order, each bar placed by its start offset and duration as a
//! share of the transaction's duration. Pure, so that it is tested without a page.

use std::collections::HashMap;

/// A span as the waterfall reads it (ui_transaction_spans()).
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    /// Its id, which its children name as their parent.
    pub id: String,
    /// Its parent's span id; a span whose parent is not in the transaction hangs on the root.
    pub parent: Option<String>,
    /// Milliseconds from the transaction's start to the span's.
    pub offset_ms: f64,
    /// Its duration in milliseconds.
    pub duration_ms: f64,
}

/// One row of the waterfall: which span (index into the spans given; None for the
/// transaction itself), how deep it is nested, and its bar in percent of the whole width.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The span's index in the input, None for the transaction's own row.
    pub span: Option<usize>,
    /// 0 for the transaction, 1 for its direct children, and so on.
    pub depth: usize,
    /// Where the bar starts, 0 to 100.
    pub left: f64,
    /// How wide the bar is, at least [`MIN_WIDTH`] so that a 0 ms span stays visible.
    pub width: f64,
}

/// The narrowest bar, in percent.
pub const MIN_WIDTH: f64 = 0.3;

/// How deep nesting is drawn; deeper spans are shown at this depth (and a loop of parents,
/// which a broken SDK could send, ends here too).
pub const MAX_DEPTH: usize = 32;

/// The rows of the waterfall of a transaction with id `root` lasting `total_ms`: its own row,
/// then its spans depth-first, children in start order. Every span appears exactly once.
pub fn rows(root: Option<&str>, total_ms: f64, spans: &[Span]) -> Vec<Row> {
    // The scale: the transaction's duration, or the spans' end when they outlast it.
    let end = spans
        .iter()
        .map(|s| s.offset_ms.max(0.0) + s.duration_ms.max(0.0))
        .fold(total_ms.max(0.0), f64::max);
    let bar = |offset: f64, duration: f64| {
        if end <= 0.0 {
            return (0.0, 100.0);
        }
        let left = (offset.max(0.0) / end * 100.0).clamp(0.0, 100.0 - MIN_WIDTH);
        let width = (duration.max(0.0) / end * 100.0).clamp(MIN_WIDTH, 100.0 - left);
        (left, width)
    };
    let ids: HashMap<&str, usize> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let mut children: HashMap<Option<usize>, Vec<usize>> = HashMap::new();
    for (i, span) in spans.iter().enumerate() {
        let parent = span
            .parent
            .as_deref()
            .filter(|p| Some(*p) != root)
            .and_then(|p| ids.get(p).copied())
            .filter(|p| *p != i);
        children.entry(parent).or_default().push(i);
    }
    for list in children.values_mut() {
        list.sort_by(|a, b| {
            spans[*a]
                .offset_ms
                .total_cmp(&spans[*b].offset_ms)
                .then(a.cmp(b))
        });
    }
    let (left, width) = bar(0.0, total_ms);
    let mut out = vec![Row {
        span: None,
        depth: 0,
        left,
        width,
    }];
    let mut placed = vec![false; spans.len()];
    let mut stack: Vec<(usize, usize)> = children
        .get(&None)
        .map_or_else(Vec::new, |c| c.iter().rev().map(|i| (*i, 1)).collect());
    loop {
        while let Some((i, depth)) = stack.pop() {
            if placed[i] {
                continue;
            }
            placed[i] = true;
            let (left, width) = bar(spans[i].offset_ms, spans[i].duration_ms);
            out.push(Row {
                span: Some(i),
                depth,
                left,
                width,
            });
            if let Some(kids) = children.get(&Some(i)) {
                stack.extend(kids.iter().rev().map(|k| (*k, (depth + 1).min(MAX_DEPTH))));
            }
        }
        // Spans in a loop of parents are reached from no root: hang the first on the root.
        match placed.iter().position(|p| !p) {
            Some(i) => stack.push((i, 1)),
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{rows, Row, Span, MIN_WIDTH};

    fn span(id: &str, parent: Option<&str>, offset_ms: f64, duration_ms: f64) -> Span {
        Span {
            id: id.into(),
            parent: parent.map(Into::into),
            offset_ms,
            duration_ms,
        }
    }

    fn shape(rows: &[Row]) -> Vec<(Option<usize>, usize)> {
        rows.iter().map(|r| (r.span, r.depth)).collect()
    }

    #[test]
    fn spans_nest_under_their_parents_in_start_order() {
        let spans = [
            span("c", Some("root"), 60.0, 40.0),
            span("a", Some("root"), 0.0, 50.0),
            span("a1", Some("a"), 10.0, 20.0),
        ];
        let rows = rows(Some("root"), 100.0, &spans);
        assert_eq!(
            shape(&rows),
            vec![(None, 0), (Some(1), 1), (Some(2), 2), (Some(0), 1)]
        );
        assert_eq!((rows[0].left, rows[0].width), (0.0, 100.0));
        assert_eq!((rows[2].left, rows[2].width), (10.0, 20.0));
        assert_eq!((rows[3].left, rows[3].width), (60.0, 40.0));
    }

    #[test]
    fn orphans_loops_and_zero_durations_still_show() {
        let spans = [
            span("x", Some("unknown"), 5.0, 0.0),
            span("l1", Some("l2"), 1.0, 1.0),
            span("l2", Some("l1"), 2.0, 1.0),
            span("self", Some("self"), 3.0, 1.0),
        ];
        let rows = rows(Some("root"), 10.0, &spans);
        assert_eq!(rows.len(), 5, "every span exactly once: {rows:?}");
        let mut seen: Vec<_> = rows.iter().filter_map(|r| r.span).collect();
        seen.sort_unstable();
        assert_eq!(seen, vec![0, 1, 2, 3]);
        let orphan = rows.iter().find(|r| r.span == Some(0)).unwrap();
        assert_eq!(
            (orphan.depth, orphan.left, orphan.width),
            (1, 50.0, MIN_WIDTH)
        );
    }

    #[test]
    fn spans_past_the_end_widen_the_scale() {
        let spans = [span("late", None, 50.0, 150.0)];
        let rows = rows(None, 100.0, &spans);
        assert_eq!((rows[0].left, rows[0].width), (0.0, 50.0));
        assert_eq!((rows[1].left, rows[1].width), (25.0, 75.0));
        // A transaction without any duration: one full bar, no division by zero.
        let empty = super::rows(None, 0.0, &[]);
        assert_eq!((empty[0].left, empty[0].width), (0.0, 100.0));
    }
}
