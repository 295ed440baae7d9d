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

/// Events of one step carry its number (`step`), the `number` of its `Step` event: stages
/// build concurrently, so a front end that shows them live tells steps apart by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildEvent<'a> {
    /// A step begins: `number` of `total` in the build, the instruction as written; it is
    /// step `stage_step` of `stage_steps` of its stage (`stage`: the stage's name, `stage-N`
    /// for an unnamed one, empty when the Dockerfile has a single stage).
    Step {
        number: usize,
        total: usize,
        instruction: &'a str,
        stage: &'a str,
        stage_step: usize,
        stage_steps: usize,
    },
    /// One of the base image's ONBUILD triggers runs (within the FROM step).
    Trigger { step: usize, instruction: &'a str },
    /// The step's result came from the build cache.
    Cached { step: usize },
    /// A RUN step runs in this container (its full ID).
    Running { step: usize, container: &'a str },
    /// Output of a RUN step's process, as it came.
    Output {
        step: usize,
        stream: OutputStream,
        chunk: &'a [u8],
    },
    /// A RUN step's process ended with this exit code.
    RunEnded { step: usize, code: i32 },
    /// The step (or a stage's base) gave this image (its full ID).
    StepImage { step: usize, id: &'a str },
    /// A warning line (build checks, build args nobody used).
    Warning { text: &'a str },
    /// `--cache-to`: this many steps' cache went to `place`.
    CacheExported { place: &'a str, entries: usize },
    /// The image is built (its full ID).
    Built { id: &'a str },
    /// The built image got this tag.
    Tagged { name: &'a str },
}

/// A [`BuildEvent`] kept for later, owning what it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HeldEvent {
    Step {
        number: usize,
        total: usize,
        instruction: String,
        stage: String,
        stage_step: usize,
        stage_steps: usize,
    },
    Trigger {
        step: usize,
        instruction: String,
    },
    Cached {
        step: usize,
    },
    Running {
        step: usize,
        container: String,
    },
    Output {
        step: usize,
        stream: OutputStream,
        chunk: Vec<u8>,
    },
    RunEnded {
        step: usize,
        code: i32,
    },
    StepImage {
        step: usize,
        id: String,
    },
    Warning {
        text: String,
    },
    CacheExported {
        place: String,
        entries: usize,
    },
    Built {
        id: String,
    },
    Tagged {
        name: String,
    },
}

impl HeldEvent {
    pub(crate) fn of(e: &BuildEvent) -> HeldEvent {
        match *e {
            BuildEvent::Step {
                number,
                total,
                instruction,
                stage,
                stage_step,
                stage_steps,
            } => HeldEvent::Step {
                number,
                total,
                instruction: instruction.into(),
                stage: stage.into(),
                stage_step,
                stage_steps,
            },
            BuildEvent::Trigger { step, instruction } => HeldEvent::Trigger {
                step,
                instruction: instruction.into(),
            },
            BuildEvent::Cached { step } => HeldEvent::Cached { step },
            BuildEvent::Running { step, container } => HeldEvent::Running {
                step,
                container: container.into(),
            },
            BuildEvent::Output {
                step,
                stream,
                chunk,
            } => HeldEvent::Output {
                step,
                stream,
                chunk: chunk.to_vec(),
            },
            BuildEvent::RunEnded { step, code } => HeldEvent::RunEnded { step, code },
            BuildEvent::StepImage { step, id } => HeldEvent::StepImage {
                step,
                id: id.into(),
            },
            BuildEvent::Warning { text } => HeldEvent::Warning { text: text.into() },
            BuildEvent::CacheExported { place, entries } => HeldEvent::CacheExported {
                place: place.into(),
                entries,
            },
            BuildEvent::Built { id } => HeldEvent::Built { id: id.into() },
            BuildEvent::Tagged { name } => HeldEvent::Tagged { name: name.into() },
        }
    }

    pub(crate) fn event(&self) -> BuildEvent<'_> {
        match self {
            HeldEvent::Step {
                number,
                total,
                instruction,
                stage,
                stage_step,
                stage_steps,
            } => BuildEvent::Step {
                number: *number,
                total: *total,
                instruction,
                stage,
                stage_step: *stage_step,
                stage_steps: *stage_steps,
            },
            HeldEvent::Trigger { step, instruction } => BuildEvent::Trigger {
                step: *step,
                instruction,
            },
            HeldEvent::Cached { step } => BuildEvent::Cached { step: *step },
            HeldEvent::Running { step, container } => BuildEvent::Running {
                step: *step,
                container,
            },
            HeldEvent::Output {
                step,
                stream,
                chunk,
            } => BuildEvent::Output {
                step: *step,
                stream: *stream,
                chunk,
            },
            HeldEvent::RunEnded { step, code } => BuildEvent::RunEnded {
                step: *step,
                code: *code,
            },
            HeldEvent::StepImage { step, id } => BuildEvent::StepImage { step: *step, id },
            HeldEvent::Warning { text } => BuildEvent::Warning { text },
            HeldEvent::CacheExported { place, entries } => BuildEvent::CacheExported {
                place,
                entries: *entries,
            },
            HeldEvent::Built { id } => BuildEvent::Built { id },
            HeldEvent::Tagged { name } => BuildEvent::Tagged { name },
        }
    }
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
                ..
            } => Some(format!("Step {number}/{total} : {instruction}")),
            BuildEvent::Trigger { instruction, .. } => {
                Some(format!("# Executing ONBUILD trigger: {instruction}"))
            }
            BuildEvent::Cached { .. } => Some(" ---> Using cache".into()),
            BuildEvent::Running { container, .. } => {
                Some(format!(" ---> Running in {}", short(container)))
            }
            BuildEvent::StepImage { id, .. } => Some(format!(" ---> {}", short(id))),
            BuildEvent::Warning { text } => Some(text.to_string()),
            BuildEvent::CacheExported { place, entries } => Some(format!(
                "Exported the cache of {entries} step{} to {place}",
                if entries == 1 { "" } else { "s" }
            )),
            BuildEvent::Built { id } => Some(format!("Successfully built {}", short(id))),
            BuildEvent::Tagged { name } => Some(format!("Successfully tagged {name}")),
            BuildEvent::Output { .. } | BuildEvent::RunEnded { .. } => None,
        }
    }

    /// The number of the step this event belongs to; None for the build's own.
    pub fn step(&self) -> Option<usize> {
        match *self {
            BuildEvent::Step { number, .. } => Some(number),
            BuildEvent::Trigger { step, .. }
            | BuildEvent::Cached { step }
            | BuildEvent::Running { step, .. }
            | BuildEvent::Output { step, .. }
            | BuildEvent::RunEnded { step, .. }
            | BuildEvent::StepImage { step, .. } => Some(step),
            BuildEvent::Warning { .. }
            | BuildEvent::CacheExported { .. }
            | BuildEvent::Built { .. }
            | BuildEvent::Tagged { .. } => None,
        }
    }

    /// Whether `build -q` still tells it: the steps, cache hits and the result (for the
    /// build history and the API's image ID), not the text around them.
    pub(crate) fn told_when_quiet(&self) -> bool {
        matches!(
            self,
            BuildEvent::Step { .. } | BuildEvent::Cached { .. } | BuildEvent::Built { .. }
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
                stage: "",
                stage_step: 2,
                stage_steps: 5,
            },
            BuildEvent::Cached { step: 2 },
            BuildEvent::Running {
                step: 2,
                container: "fedcba9876543210aa",
            },
            BuildEvent::StepImage { step: 2, id },
            BuildEvent::Built { id },
            BuildEvent::Tagged { name: "app:latest" },
            BuildEvent::RunEnded { step: 2, code: 0 },
        ]
        .iter()
        // A held event gives back the event it holds.
        .map(|e| HeldEvent::of(e).event().classic_line())
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
