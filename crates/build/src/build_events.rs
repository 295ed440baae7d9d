//! What a build tells its front end as it goes. The builder never prints: the CLI renders
//! these events as the classic builder's text (`BuildEvent::classic_line`), the API server
//! as Docker's JSON stream, the build history keeps them.

/// Which stream of a RUN step's process some output came on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputStream {
    Stdout,
    Stderr,
}

impl OutputStream {
    pub fn as_str(self) -> &'static str {
        match self {
            OutputStream::Stdout => "stdout",
            OutputStream::Stderr => "stderr",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildEvent<'a> {
    /// A step begins: `number` of `total`, the instruction as written.
    Step {
        number: usize,
        total: usize,
        instruction: &'a str,
    },
    /// One of the base image's ONBUILD triggers runs (within the FROM step).
    Trigger { instruction: &'a str },
    /// The step's result came from the build cache.
    Cached,
    /// A RUN step runs in this container (its full ID).
    Running { container: &'a str },
    /// Output of a RUN step's process, as it came.
    Output {
        stream: OutputStream,
        chunk: &'a [u8],
    },
    /// A RUN step's process ended with this exit code.
    RunEnded { code: i32 },
    /// The step (or a stage's base) gave this image (its full ID).
    StepImage { id: &'a str },
    /// A warning line (build checks, build args nobody used).
    Warning { text: &'a str },
    /// The image is built (its full ID).
    Built { id: &'a str },
    /// The built image got this tag.
    Tagged { name: &'a str },
}

impl BuildEvent<'_> {
    /// The line Docker's classic builder prints for the event; None for what it prints
    /// otherwise (RUN output, as it came) or not at all.
    pub fn classic_line(&self) -> Option<String> {
        match *self {
            BuildEvent::Step {
                number,
                total,
                instruction,
            } => Some(format!("Step {number}/{total} : {instruction}")),
            BuildEvent::Trigger { instruction } => {
                Some(format!("# Executing ONBUILD trigger: {instruction}"))
            }
            BuildEvent::Cached => Some(" ---> Using cache".into()),
            BuildEvent::Running { container } => {
                Some(format!(" ---> Running in {}", short(container)))
            }
            BuildEvent::StepImage { id } => Some(format!(" ---> {}", short(id))),
            BuildEvent::Warning { text } => Some(text.to_string()),
            BuildEvent::Built { id } => Some(format!("Successfully built {}", short(id))),
            BuildEvent::Tagged { name } => Some(format!("Successfully tagged {name}")),
            BuildEvent::Output { .. } | BuildEvent::RunEnded { .. } => None,
        }
    }

    /// Whether `build -q` still tells it: the steps, cache hits and the result (for the
    /// build history and the API's image ID), not the text around them.
    pub(crate) fn told_when_quiet(&self) -> bool {
        matches!(
            self,
            BuildEvent::Step { .. } | BuildEvent::Cached | BuildEvent::Built { .. }
        )
    }
}

/// The 12 characters of an ID Docker shows, without its `sha256:`.
fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

/// Cuts chunks of output into whole lines, for front ends that show lines (the API's JSON
/// stream, the build history); what is left of a line comes out with `finish`.
#[derive(Default)]
pub struct LineSplitter {
    pending: [Vec<u8>; 2],
}

impl LineSplitter {
    /// The whole lines (each with its `\n`) this chunk completes.
    pub fn push(&mut self, stream: OutputStream, chunk: &[u8]) -> Vec<String> {
        let pending = &mut self.pending[stream as usize];
        pending.extend_from_slice(chunk);
        let mut lines = Vec::new();
        while let Some(i) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=i).collect();
            lines.push(String::from_utf8_lossy(&line).into_owned());
        }
        lines
    }

    /// What is left of each stream's last line (without a `\n`), emptied.
    pub fn finish(&mut self) -> Vec<(OutputStream, String)> {
        [OutputStream::Stdout, OutputStream::Stderr]
            .into_iter()
            .filter_map(|s| {
                let rest = std::mem::take(&mut self.pending[s as usize]);
                (!rest.is_empty()).then(|| (s, String::from_utf8_lossy(&rest).into_owned()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_lines_are_dockers() {
        let id = "sha256:0123456789abcdef0123";
        let lines: Vec<Option<String>> = [
            BuildEvent::Step {
                number: 2,
                total: 5,
                instruction: "RUN make",
            },
            BuildEvent::Cached,
            BuildEvent::Running {
                container: "fedcba9876543210aa",
            },
            BuildEvent::StepImage { id },
            BuildEvent::Built { id },
            BuildEvent::Tagged { name: "app:latest" },
            BuildEvent::RunEnded { code: 0 },
        ]
        .iter()
        .map(BuildEvent::classic_line)
        .collect();
        assert_eq!(
            lines,
            [
                Some("Step 2/5 : RUN make".to_string()),
                Some(" ---> Using cache".into()),
                Some(" ---> Running in fedcba987654".into()),
                Some(" ---> 0123456789ab".into()),
                Some("Successfully built 0123456789ab".into()),
                Some("Successfully tagged app:latest".into()),
                None,
            ]
        );
    }

    #[test]
    fn output_is_cut_into_lines_per_stream() {
        let mut s = LineSplitter::default();
        assert!(s.push(OutputStream::Stdout, b"par").is_empty());
        assert_eq!(s.push(OutputStream::Stderr, b"e1\ne"), ["e1\n"]);
        assert_eq!(
            s.push(OutputStream::Stdout, b"tial\nnext\nla"),
            ["partial\n", "next\n"]
        );
        assert_eq!(
            s.finish(),
            [
                (OutputStream::Stdout, "la".to_string()),
                (OutputStream::Stderr, "e".to_string())
            ]
        );
        assert!(s.finish().is_empty());
    }
}
