//! `berth build --output`: where a build's result goes besides the image store, as BuildKit's
//! exporters put it — `type=local,dest=DIR` (the image's files in a directory), `type=tar,
//! dest=FILE` (the same as one tar), `type=docker|oci,dest=FILE` (the image as an archive
//! `docker load` reads; berth's archives are both formats), `type=image[,push=true]` (the
//! image in the store, pushed when asked). `-o DIR` is `type=local`, `-o -` a tar on
//! standard output.

use std::io::Write;
use std::path::{Path, PathBuf};

use berth_image::{Image, Store};

use crate::error::{Error, IoContext, Result};
use crate::scratch::ScratchRoot;

/// One `--output` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildOutput {
    /// The files of the image into a directory.
    Local { dest: PathBuf },
    /// The files of the image as a tar (`dest` None: standard output).
    Tar { dest: Option<PathBuf> },
    /// The image as a docker-archive / OCI-layout tar (`dest` None: standard output).
    Archive { dest: Option<PathBuf> },
    /// The image in the store (always there), pushed to its registry when `push`.
    Image { push: bool },
}

impl BuildOutput {
    /// Parses a `--output` value as the docker CLI reads it; errors name what was expected.
    pub fn parse(value: &str) -> std::result::Result<BuildOutput, String> {
        let bad = |m: String| format!("invalid argument {value:?} for \"-o, --output\" flag: {m}");
        if !value.contains('=') {
            // The shorthands: a directory, or `-` for a tar on stdout.
            return Ok(match value {
                "" => return Err(bad("expected a destination".into())),
                "-" => BuildOutput::Tar { dest: None },
                dir => BuildOutput::Local { dest: dir.into() },
            });
        }
        let mut kind = None;
        let mut dest = None;
        let mut push = false;
        for part in value.split(',') {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            match k.trim() {
                "type" => kind = Some(v.to_string()),
                "dest" => dest = Some(v.to_string()),
                "push" => {
                    push = match v {
                        "" | "true" => true,
                        "false" => false,
                        _ => return Err(bad(format!("push={v}: expected true or false"))),
                    }
                }
                // What berth's image exporter always does, or names it takes from -t.
                "name" | "compression" | "oci-mediatypes" | "unpack" | "store" => {}
                other => return Err(bad(format!("unknown field {other:?}"))),
            }
        }
        let to = |dest: Option<String>| match dest.as_deref() {
            None | Some("-") => None,
            Some(d) => Some(PathBuf::from(d)),
        };
        match kind.as_deref() {
            Some("local") => match dest {
                Some(d) if !d.is_empty() && d != "-" => Ok(BuildOutput::Local { dest: d.into() }),
                _ => Err(bad("type=local needs dest=DIRECTORY".into())),
            },
            Some("tar") => Ok(BuildOutput::Tar { dest: to(dest) }),
            Some("docker" | "oci") => Ok(BuildOutput::Archive { dest: to(dest) }),
            Some("image" | "registry") => Ok(BuildOutput::Image {
                push: push || kind.as_deref() == Some("registry"),
            }),
            Some(other) => Err(bad(format!(
                "unsupported type {other:?} (expected local, tar, docker, oci, image or registry)"
            ))),
            None => Err(bad("expected type=local|tar|docker|oci|image".into())),
        }
    }
}

/// Writes the files of `img` as a tar to `out` (owners, modes and links kept).
pub fn write_files_tar<W: Write>(store: &Store, img: &Image, out: W) -> Result<W> {
    let chain = berth_image::layers::chain_ids(&img.config.rootfs.diff_ids);
    let scratch = ScratchRoot::mount(store, &chain)?;
    Ok(berth_image::layer::write_layer_tar(
        scratch.root(),
        berth_image::layer::DiffSource::Full,
        out,
    )?)
}

/// Puts the files of `img` into `dest` (created if missing; what is there already stays
/// unless the image has a file of the same name).
pub fn write_files_to_dir(store: &Store, img: &Image, dest: &Path) -> Result<()> {
    std::fs::create_dir_all(dest).ctx("create directory", dest)?;
    let (reader, writer) = std::io::pipe().ctx("pipe", dest)?;
    std::thread::scope(|s| {
        let writing = s.spawn(|| write_files_tar(store, img, writer).map(drop));
        let applied = berth_image::layer::apply_layer(
            reader,
            dest,
            berth_image::layer::WhiteoutMode::Literal,
        );
        let written = writing.join().unwrap_or_else(|_| {
            Err(Error::Io {
                op: "export files",
                path: dest.to_path_buf(),
                source: std::io::Error::other("the writer failed"),
            })
        });
        written?;
        applied.map(drop).map_err(Error::from)
    })
}
