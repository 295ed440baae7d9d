//! The parse tree: one [`Instruction`] per Dockerfile instruction, with its source lines.

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    pub directives: Directives,
    pub instructions: Vec<Instruction>,
    /// Non-fatal parser findings (empty continuation lines, as BuildKit warns).
    pub warnings: Vec<Warning>,
}

/// Parser directives from the top of the file (`# syntax=`, `# escape=`, `# check=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directives {
    pub syntax: Option<String>,
    pub escape: char,
    pub check: Option<String>,
}

impl Default for Directives {
    fn default() -> Self {
        Directives {
            syntax: None,
            escape: '\\',
            check: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub line: usize,
    pub message: String,
}

/// One instruction. `args` holds the arguments as BuildKit's parser leaves them: quotes kept
/// for later word expansion; ENV/LABEL as (key, value, separator) triples; HEALTHCHECK as the
/// type followed by the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// Lower-cased keyword (`run`, `copy`, …), also for unknown instructions.
    pub keyword: String,
    /// The keyword as written (for messages and casing checks).
    pub keyword_as_written: String,
    /// `--name=value` flags before the arguments, quotes removed.
    pub flags: Vec<String>,
    pub args: Vec<String>,
    /// The arguments were a JSON array (exec form).
    pub json: bool,
    /// For ONBUILD: the instruction it wraps.
    pub sub: Option<Box<Instruction>>,
    pub heredocs: Vec<Heredoc>,
    /// The instruction text with continuations joined.
    pub original: String,
    /// First and last source line (1-based, inclusive), heredoc bodies included.
    pub start_line: usize,
    pub end_line: usize,
    /// Comment lines directly above the instruction.
    pub comments: Vec<String>,
}

impl Instruction {
    /// The value of `--name` / `--name=value`, if given (last one wins).
    pub fn flag(&self, name: &str) -> Option<&str> {
        self.flags.iter().rev().find_map(|f| {
            let f = f.strip_prefix("--")?;
            match f.split_once('=') {
                Some((k, v)) if k == name => Some(v),
                None if f == name => Some(""),
                _ => None,
            }
        })
    }

    /// Every value of a repeatable flag (`--mount`, `--exclude`).
    pub fn flag_values(&self, name: &str) -> Vec<&str> {
        self.flags
            .iter()
            .filter_map(|f| {
                let (k, v) = f.strip_prefix("--")?.split_once('=')?;
                (k == name).then_some(v)
            })
            .collect()
    }

    /// Flag names given (`from`, `chown`, …).
    pub fn flag_names(&self) -> impl Iterator<Item = &str> {
        self.flags
            .iter()
            .map(|f| f.trim_start_matches("--").split('=').next().unwrap_or(""))
    }
}

/// A here-document attached to RUN, COPY or ADD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The delimiter word, quotes removed.
    pub name: String,
    /// Body lines exactly as written, each ending in `\n`.
    pub content: String,
    /// The delimiter was quoted: no variable expansion in the body.
    pub expand: bool,
    /// `<<-`: leading tabs are stripped from body lines and the delimiter line.
    pub chomp: bool,
    /// `3<<EOF`: the file descriptor, if one was given.
    pub file_descriptor: Option<u32>,
}

impl Heredoc {
    /// The body as the instruction sees it (leading tabs removed for `<<-`).
    pub fn body(&self) -> String {
        if !self.chomp {
            return self.content.clone();
        }
        self.content
            .split_inclusive('\n')
            .map(|l| l.trim_start_matches('\t'))
            .collect()
    }
}
