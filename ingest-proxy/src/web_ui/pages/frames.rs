//! Which frames of a stack trace the issue page shows open and which it folds: in-app frames
//! each on their own, runs of system frames (libraries, the runtime) folded into one
//! collapsible group. Pure, so that it is tested without a page.

/// A run of frames shown together, by index into the frames as displayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Group {
    /// One in-app frame (or any frame, when the trace has no in-app frame at all).
    Shown(usize),
    /// Consecutive system frames, folded.
    Folded {
        /// The first frame of the run.
        start: usize,
        /// One past the last frame of the run.
        end: usize,
    },
}

/// The groups of frames whose in-app flags are `in_app`, in the same order. A trace without
/// any in-app frame shows every frame: folding all of it would hide the whole trace.
pub fn groups(in_app: &[bool]) -> Vec<Group> {
    if !in_app.contains(&true) {
        return (0..in_app.len()).map(Group::Shown).collect();
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < in_app.len() {
        if in_app[i] {
            out.push(Group::Shown(i));
            i += 1;
            continue;
        }
        let start = i;
        while i < in_app.len() && !in_app[i] {
            i += 1;
        }
        out.push(Group::Folded { start, end: i });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{groups, Group};

    #[test]
    fn system_runs_fold_between_in_app_frames() {
        let flags = [false, false, true, false, true, true, false];
        assert_eq!(
            groups(&flags),
            vec![
                Group::Folded { start: 0, end: 2 },
                Group::Shown(2),
                Group::Folded { start: 3, end: 4 },
                Group::Shown(4),
                Group::Shown(5),
                Group::Folded { start: 6, end: 7 },
            ]
        );
    }

    #[test]
    fn a_trace_without_in_app_frames_shows_them_all() {
        assert_eq!(
            groups(&[false, false]),
            vec![Group::Shown(0), Group::Shown(1)]
        );
        assert_eq!(groups(&[]), vec![]);
    }
}
