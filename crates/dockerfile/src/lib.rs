//! berth's Dockerfile front end: a parser that accepts what BuildKit accepts (with line spans
//! on every instruction), typed instructions (each with its flags checked once, for the
//! builder and `--check` alike), BuildKit's word expansion for ARG/ENV substitution, Docker's
//! `.dockerignore` matching, and the checks behind `berth build --check`.
//!
//! Pure library: it reads text it is given and does no other I/O.

pub mod ast;
pub mod check;
pub mod dockerignore;
pub mod instructions;
pub mod parser;
pub mod run_mount;
pub mod shell;

pub use ast::{Directives, Dockerfile, Heredoc, Instruction};
pub use dockerignore::DockerIgnore;
pub use instructions::{Command, InstructionError};
pub use parser::{parse, ParseError};
pub use shell::Lex;
