//! Stages that do not depend on each other build at the same time, as BuildKit's solver runs
//! them: each needed stage gets a thread that waits for its base stage, then runs its steps;
//! a step that uses another stage (`COPY --from`, `RUN --mount=from=`) waits for that one
//! there, so what comes before it overlaps with the other stage. The first failure stops the
//! others before their next step.
//!
//! Front ends that print the classic builder's text expect one step after another, so by
//! default [`EventOrder`] hands on a stage's events only once every stage before it (in
//! Dockerfile order) is done, holding them meanwhile; hosts that show steps live (BuildKit's
//! display) ask for events as they come (`BuildHost::live_events`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};

use berth_dockerfile::instructions::Command;

use super::{Builder, Scope, State, DEFAULT_PATH};
use crate::build_events::{BuildEvent, HeldEvent};
use crate::error::{Error, Result};
use crate::stages::{step_error, Stages};
use crate::BuildHost;

/// Where the stages' events go: straight to the host, or in stage order.
#[derive(Default)]
pub(super) struct EventOrder {
    inner: Mutex<OrderState>,
}

#[derive(Default)]
struct OrderState {
    /// Events as they come.
    live: bool,
    /// Each stage's first and last step number, in build order.
    ranges: Vec<(usize, usize)>,
    /// The stage whose events go straight through (everything before it is done; MAX once
    /// a stage failed).
    head: usize,
    /// Per stage: None while it runs, then whether it succeeded.
    finished: Vec<Option<bool>>,
    held: Vec<Vec<HeldEvent>>,
}

impl EventOrder {
    /// Plans the order: `ranges` are each stage's step numbers, in build order.
    pub(super) fn plan(&self, ranges: Vec<(usize, usize)>, live: bool) {
        if let Ok(mut o) = self.inner.lock() {
            o.live = live;
            o.head = 0;
            o.finished = vec![None; ranges.len()];
            o.held = vec![Vec::new(); ranges.len()];
            o.ranges = ranges;
        }
    }

    /// Hands `e` on now, or holds it until the stages before its own are done.
    pub(super) fn deliver(&self, host: &dyn BuildHost, e: &BuildEvent) {
        let Ok(mut o) = self.inner.lock() else {
            return host.event(e);
        };
        let stage = e
            .step()
            .and_then(|n| o.ranges.iter().position(|(a, b)| (*a..=*b).contains(&n)));
        match stage {
            Some(_) if !o.live && o.head == usize::MAX => {}
            Some(i) if !o.live && i > o.head => o.held[i].push(HeldEvent::of(e)),
            // Under the lock, so that what is handed on keeps its order.
            _ => host.event(e),
        }
    }

    /// Stage `i` (in build order) is done (`ok`: it succeeded): the stages after it whose
    /// turn has come hand on what they held. After a stage that failed nothing more is told
    /// (a build one stage after another would have stopped there).
    pub(super) fn finished(&self, host: &dyn BuildHost, i: usize, ok: bool) {
        let Ok(mut o) = self.inner.lock() else {
            return;
        };
        if let Some(f) = o.finished.get_mut(i) {
            *f = Some(ok);
        }
        while let Some(Some(ok)) = o.finished.get(o.head).copied() {
            if !ok {
                o.head = usize::MAX;
                o.held.clear();
                return;
            }
            o.head += 1;
            let head = o.head;
            if head < o.held.len() {
                let held = std::mem::take(&mut o.held[head]);
                for e in &held {
                    host.event(&e.event());
                }
            }
        }
    }
}

impl super::StageResults for Progress {
    fn stage_state(&self, i: usize) -> Option<State> {
        self.wait_for(&[i])?.remove(&i)
    }
}

/// The stages a build runs at once, and what each has given.
struct Progress {
    /// Stage index → its final state (Err: it failed or was stopped).
    done: Mutex<BTreeMap<usize, std::result::Result<State, ()>>>,
    changed: Condvar,
    failed: AtomicBool,
}

impl Builder<'_> {
    /// Builds the `needed` stages, each once everything it uses is built, independent ones at
    /// the same time; their final states by stage index.
    pub(super) fn build_stages(
        &self,
        stages: &Stages,
        needed: &BTreeSet<usize>,
        meta: &[(String, String)],
    ) -> Result<BTreeMap<usize, State>> {
        let expand_meta = |s: &str| {
            self.lex
                .process_word(s, &meta.to_vec())
                .unwrap_or_else(|_| s.to_string())
        };
        let order: Vec<usize> = needed.iter().copied().collect();
        let total: usize = order.iter().map(|i| 1 + stages.stages[*i].body.len()).sum();
        let mut first = 1;
        let mut ranges = Vec::new();
        for i in &order {
            let n = 1 + stages.stages[*i].body.len();
            ranges.push((first, first + n - 1));
            first += n;
        }
        self.order.plan(ranges.clone(), self.host.live_events());
        let progress = Progress {
            done: Mutex::new(BTreeMap::new()),
            changed: Condvar::new(),
            failed: AtomicBool::new(false),
        };
        let errors: Mutex<Vec<(usize, Error)>> = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for (pos, &i) in order.iter().enumerate() {
                // A stage starts once its base stage (if any) is built; the others it uses
                // are waited for by the step that uses them.
                let base: Vec<usize> = stages
                    .find_before(&expand_meta(&stages.stages[i].base), i)
                    .filter(|d| needed.contains(d))
                    .into_iter()
                    .collect();
                let (progress, errors, first_step) = (&progress, &errors, ranges[pos].0);
                scope.spawn(move || {
                    // Even if this thread panics, the stages waiting for it must hear.
                    let _told = TellOnExit { progress, stage: i };
                    let outcome = match progress.wait_for(&base) {
                        Some(_) => {
                            let numbers = StepNumbers {
                                first: first_step,
                                total,
                            };
                            self.build_stage(stages, i, meta, progress, numbers, &progress.failed)
                        }
                        None => Err(None),
                    };
                    self.order.finished(self.host, pos, outcome.is_ok());
                    let result = match outcome {
                        Ok(state) => Ok(state),
                        Err(e) => {
                            progress.failed.store(true, Ordering::SeqCst);
                            if let (Some(e), Ok(mut errs)) = (e, errors.lock()) {
                                errs.push((pos, e));
                            }
                            Err(())
                        }
                    };
                    if let Ok(mut done) = progress.done.lock() {
                        done.insert(i, result);
                    }
                    progress.changed.notify_all();
                });
            }
        });
        let mut errors = errors.into_inner().unwrap_or_default();
        // The earliest stage's error, as a build one stage after another would have met it.
        errors.sort_by_key(|(pos, _)| *pos);
        if let Some((_, e)) = errors.into_iter().next() {
            return Err(e);
        }
        let done = progress.done.into_inner().unwrap_or_default();
        Ok(done
            .into_iter()
            .filter_map(|(i, r)| r.ok().map(|s| (i, s)))
            .collect())
    }

    /// One stage, its FROM and body. Err(None): stopped because another stage failed.
    fn build_stage(
        &self,
        stages: &Stages,
        i: usize,
        meta: &[(String, String)],
        built: &dyn super::StageResults,
        numbers: StepNumbers,
        stop: &AtomicBool,
    ) -> std::result::Result<State, Option<Error>> {
        let st = &stages.stages[i];
        let base = self
            .lex
            .process_word(&st.base, &meta.to_vec())
            .map_err(|e| step_error(&self.file, &st.from, &e.to_string()))?;
        let stage_label = match (&st.name, stages.stages.len()) {
            (_, 1) => String::new(),
            (Some(n), _) => n.clone(),
            (None, _) => format!("stage-{i}"),
        };
        let stage_steps = 1 + st.body.len();
        self.emit(&BuildEvent::Step {
            number: numbers.first,
            total: numbers.total,
            instruction: st.from.original.trim(),
            stage: &stage_label,
            stage_step: 1,
            stage_steps,
        });
        let mut state = match stages.find_before(&base, i) {
            Some(d) => {
                let mut s = built
                    .stage_state(d)
                    .ok_or_else(|| step_error(&self.file, &st.from, "stage not built"))?;
                s.args.clear();
                s.cmd_set = false;
                s
            }
            None => self.base_state(&base, st.platform.as_deref(), &st.from, meta)?,
        };
        state.step = numbers.first;
        if let Some(img) = &state.image {
            self.emit(&BuildEvent::StepImage {
                step: state.step,
                id: &img.id().to_string(),
            });
        }
        // BuildKit gives a stage whose base sets no PATH the default one (so that
        // `ENV PATH=/x:$PATH` keeps the system directories).
        let env = state.cc().env.get_or_insert_with(Vec::new);
        if !env.iter().any(|e| e.starts_with("PATH=")) {
            env.insert(0, format!("PATH={DEFAULT_PATH}"));
            state.image = None;
            state.key = self.key(&state, "default PATH");
        }
        let scope = Scope {
            meta,
            stages,
            done: built,
            stage: i,
        };
        // The base image's ONBUILD triggers run first, then are dropped.
        let triggers = state
            .config
            .config
            .as_mut()
            .and_then(|c| c.on_build.take())
            .unwrap_or_default();
        if !triggers.is_empty() {
            state.image = None;
            state.key = self.key(&state, "ONBUILD triggers taken");
        }
        for t in triggers {
            let bad = |m: &str| {
                step_error(
                    &self.file,
                    &st.from,
                    &format!("ONBUILD trigger {t:?} of the base image: {m}"),
                )
            };
            let parsed = berth_dockerfile::parse(&t).map_err(|e| bad(&e.message))?;
            for inst in parsed.instructions {
                let command = Command::parse(&inst).map_err(|e| bad(&e.message))?;
                self.emit(&BuildEvent::Trigger {
                    step: state.step,
                    instruction: inst.original.trim(),
                });
                state = self.step(state, &inst, &command, &scope)?;
            }
        }
        for (n, step) in st.body.iter().enumerate() {
            if stop.load(Ordering::SeqCst) {
                return Err(None);
            }
            let inst = &step.instruction;
            let number = numbers.first + 1 + n;
            self.emit(&BuildEvent::Step {
                number,
                total: numbers.total,
                instruction: inst.original.trim(),
                stage: &stage_label,
                stage_step: n + 2,
                stage_steps,
            });
            state.step = number;
            state = self.step(state, inst, &step.command, &scope)?;
            if let Some(img) = &state.image {
                self.emit(&BuildEvent::StepImage {
                    step: number,
                    id: &img.id().to_string(),
                });
            }
        }
        Ok(state)
    }
}

/// Marks a stage failed unless it recorded its result: a stage thread that panics must not
/// leave the stages that wait for it waiting forever.
struct TellOnExit<'p> {
    progress: &'p Progress,
    stage: usize,
}

impl Drop for TellOnExit<'_> {
    fn drop(&mut self) {
        let mut done = match self.progress.done.lock() {
            Ok(d) => d,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let std::collections::btree_map::Entry::Vacant(e) = done.entry(self.stage) {
            self.progress.failed.store(true, Ordering::SeqCst);
            e.insert(Err(()));
        }
        drop(done);
        self.progress.changed.notify_all();
    }
}

/// A stage's first step number and the build's step count.
#[derive(Clone, Copy)]
struct StepNumbers {
    first: usize,
    total: usize,
}

impl Progress {
    /// The states of `deps` once all are built; None if one of them failed or another stage
    /// did (nothing more should start).
    fn wait_for(&self, deps: &[usize]) -> Option<BTreeMap<usize, State>> {
        let mut done = self.done.lock().ok()?;
        loop {
            if self.failed.load(Ordering::SeqCst) {
                return None;
            }
            if deps.iter().all(|d| done.contains_key(d)) {
                let mut built = BTreeMap::new();
                for d in deps {
                    built.insert(*d, done.get(d)?.clone().ok()?);
                }
                return Some(built);
            }
            done = self.changed.wait(done).ok()?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A host that keeps the classic lines it is told.
    #[derive(Default)]
    struct Lines(Mutex<Vec<String>>);

    impl BuildHost for Lines {
        fn base_image(
            &self,
            _: &str,
            _: Option<&str>,
            _: bool,
        ) -> std::result::Result<berth_image::Image, String> {
            Err("none".into())
        }
        fn event(&self, e: &BuildEvent) {
            if let Some(l) = e.classic_line() {
                self.0.lock().unwrap().push(l);
            }
        }
        fn download(
            &self,
            _: &str,
            _: &std::path::Path,
        ) -> std::result::Result<Option<i64>, String> {
            Err("none".into())
        }
    }

    fn step(number: usize) -> BuildEvent<'static> {
        BuildEvent::Step {
            number,
            total: 4,
            instruction: "RUN x",
            stage: "",
            stage_step: 1,
            stage_steps: 2,
        }
    }

    #[test]
    fn a_later_stage_is_told_once_the_earlier_ones_are_done() {
        let host = Lines::default();
        let order = EventOrder::default();
        order.plan(vec![(1, 2), (3, 4)], false);
        order.deliver(&host, &step(3));
        order.deliver(&host, &BuildEvent::Cached { step: 3 });
        order.deliver(&host, &step(1));
        order.deliver(&host, &BuildEvent::Warning { text: "build-wide" });
        assert_eq!(
            *host.0.lock().unwrap(),
            ["Step 1/4 : RUN x", "build-wide"],
            "stage 2 waits"
        );
        order.finished(&host, 1, true);
        order.deliver(&host, &step(2));
        order.finished(&host, 0, true);
        order.deliver(&host, &step(4));
        assert_eq!(
            *host.0.lock().unwrap(),
            [
                "Step 1/4 : RUN x",
                "build-wide",
                "Step 2/4 : RUN x",
                "Step 3/4 : RUN x",
                " ---> Using cache",
                "Step 4/4 : RUN x"
            ]
        );
    }

    #[test]
    fn nothing_after_a_failed_stage_is_told_and_live_hosts_get_everything_at_once() {
        let host = Lines::default();
        let order = EventOrder::default();
        order.plan(vec![(1, 2), (3, 4)], false);
        order.deliver(&host, &step(3));
        order.finished(&host, 0, false);
        order.deliver(&host, &step(4));
        assert!(host.0.lock().unwrap().is_empty());

        let live = Lines::default();
        order.plan(vec![(1, 2), (3, 4)], true);
        order.deliver(&live, &step(3));
        order.deliver(&live, &step(1));
        assert_eq!(
            *live.0.lock().unwrap(),
            ["Step 3/4 : RUN x", "Step 1/4 : RUN x"]
        );
    }
}
