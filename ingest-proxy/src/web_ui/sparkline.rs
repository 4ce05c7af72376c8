//! Sparkline geometry: counts per bucket as the bars of a small chart, scaled to its box.

/// One bar: where it starts and how tall it is, in the chart's units (y grows downwards).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Width.
    pub width: f64,
    /// Height (0 for an empty bucket).
    pub height: f64,
}

/// The bars of `counts` in a `width` x `height` box, the largest count reaching the top. A
/// bucket with events is at least one unit tall, so that a single event still shows; the gap
/// between bars is a fifth of a slot.
pub fn bars(counts: &[i64], width: f64, height: f64) -> Vec<Bar> {
    if counts.is_empty() {
        return Vec::new();
    }
    let max = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let slot = width / counts.len() as f64;
    let bar_width = slot * 0.8;
    counts
        .iter()
        .enumerate()
        .map(|(i, &count)| {
            let tall = if count <= 0 {
                0.0
            } else {
                (count as f64 / max * height).max(1.0)
            };
            Bar {
                x: round(i as f64 * slot + (slot - bar_width) / 2.0),
                y: round(height - tall),
                width: round(bar_width),
                height: round(tall),
            }
        })
        .collect()
}

/// Two decimals are plenty for an SVG a few dozen pixels wide.
fn round(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::{bars, Bar};

    #[test]
    fn scales_to_the_largest() {
        let got = bars(&[0, 5, 10], 30.0, 20.0);
        assert_eq!(got.len(), 3);
        assert_eq!(
            got[0],
            Bar {
                x: 1.0,
                y: 20.0,
                width: 8.0,
                height: 0.0
            }
        );
        assert_eq!(got[1].height, 10.0);
        assert_eq!(got[1].y, 10.0);
        assert_eq!(got[2].height, 20.0);
        assert_eq!(got[2].y, 0.0);
        assert_eq!(got[2].x, 21.0);
    }

    #[test]
    fn a_single_event_still_shows() {
        let got = bars(&[1, 10_000], 20.0, 10.0);
        assert_eq!(got[0].height, 1.0);
        assert_eq!(got[1].height, 10.0);
    }

    #[test]
    fn empty_and_all_zero() {
        assert!(bars(&[], 10.0, 10.0).is_empty());
        assert!(bars(&[0, 0], 10.0, 10.0).iter().all(|b| b.height == 0.0));
    }
}
