//! A build context that arrives as a stream (`berth build -`, `POST /build`) or from a git
//! repository (`berth build https://host/repo.git#REF:SUBDIR`): spooled or checked out in
//! the store's scratch space (a stream is unpacked there when it is a tar, plain or
//! compressed, or kept as the Dockerfile when it is not). Removed when dropped, so a failed
//! build leaves nothing.

use std::io::Read;
use std::path::PathBuf;

use berth_image::Store;

use crate::error::{Error, IoContext, Result};

pub struct StreamedContext {
    scratch: PathBuf,
    /// The context directory (empty when the stream was a Dockerfile).
    pub dir: PathBuf,
    /// The stream itself, when it was not a tar: the Dockerfile.
    pub dockerfile: Option<PathBuf>,
}

impl StreamedContext {
    /// Reads `input` to its end. `what` names it in errors ("standard input").
    pub fn receive(store: &Store, mut input: impl Read, what: &str) -> Result<StreamedContext> {
        let scratch = store.tmp_path("build-context");
        let mut ctx = StreamedContext {
            dir: scratch.join("context"),
            dockerfile: None,
            scratch,
        };
        std::fs::create_dir_all(&ctx.dir).ctx("create directory", &ctx.dir)?;
        // Spooled to disk, not memory: a context can be large.
        let spool = ctx.scratch.join("stream.data");
        let mut f = std::fs::File::create(&spool).ctx("create", &spool)?;
        std::io::copy(&mut input, &mut f).map_err(|source| Error::Read {
            what: "the build context from",
            path: what.into(),
            source,
        })?;
        drop(f);
        let open = || std::fs::File::open(&spool).ctx("open", &spool);
        if berth_image::layer::is_tar(open()?) {
            let (r, _) = berth_image::layer::decompressed(open()?, what)?;
            berth_image::layer::apply_layer(
                r,
                &ctx.dir,
                berth_image::layer::WhiteoutMode::Literal,
            )?;
            let _ = std::fs::remove_file(&spool);
            Ok(ctx)
        } else {
            let dockerfile = ctx.scratch.join("Dockerfile");
            std::fs::rename(&spool, &dockerfile).ctx("rename", &dockerfile)?;
            ctx.dockerfile = Some(dockerfile);
            Ok(ctx)
        }
    }

    /// A git repository as the context (`berth build https://host/repo.git#REF:SUBDIR`):
    /// the ref's commit checked out in the store's scratch space, `.git` removed.
    pub fn from_git(
        store: &Store,
        source: &crate::git_source::GitSource,
    ) -> Result<StreamedContext> {
        let scratch = store.tmp_path("build-context");
        std::fs::create_dir_all(&scratch).ctx("create directory", &scratch)?;
        let fail = |e: String| {
            let _ = berth_image::store::remove_tree(&scratch);
            Error::Option(format!(
                "unable to prepare context: unable to 'git clone' to temporary context directory: {e}"
            ))
        };
        let commit = source.resolve().map_err(fail)?;
        let dir = source
            .checkout(&commit, &scratch.join("repo"), source.keep_git_dir)
            .map_err(fail)?;
        Ok(StreamedContext {
            dir,
            dockerfile: None,
            scratch,
        })
    }

    /// Keeps the spooled stream as the Dockerfile (`build -f - DIR`).
    pub fn receive_dockerfile(store: &Store, mut input: impl Read) -> Result<StreamedContext> {
        let scratch = store.tmp_path("build-context");
        std::fs::create_dir_all(&scratch).ctx("create directory", &scratch)?;
        let dockerfile = scratch.join("Dockerfile");
        let mut f = std::fs::File::create(&dockerfile).ctx("create", &dockerfile)?;
        std::io::copy(&mut input, &mut f).map_err(|source| Error::Read {
            what: "the Dockerfile from",
            path: "standard input".into(),
            source,
        })?;
        Ok(StreamedContext {
            dir: scratch.join("context"),
            dockerfile: Some(dockerfile),
            scratch,
        })
    }
}

impl Drop for StreamedContext {
    fn drop(&mut self) {
        let _ = berth_image::store::remove_tree(&self.scratch);
    }
}
