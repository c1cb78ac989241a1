//! The rollout keys of a route: `shadow*` (compare both backends on live requests),
//! `guard` (roll native back when it misbehaves) and `ramp` (walk native up on a clock),
//! validated and compiled. What they do at run time is in `src/shadow/` and `src/rollout/`.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

use http::Method;

use super::model::RouteSpec;
use crate::routes::MethodSet;

/// How a route is shadowed.
#[derive(Debug, Clone, PartialEq)]
pub struct ShadowSettings {
    /// Methods whose requests get a copy (GET, HEAD, OPTIONS unless named).
    pub methods: MethodSet,
    /// JSON pointers left out of the comparison.
    pub ignore: Vec<String>,
    /// Learn noise from a second legacy answer on a sample of requests.
    pub noise: bool,
    /// `shadow_methods` is in the file (else `methods` is its default, derived from the
    /// route's methods: the audit log does not list a value nobody wrote).
    pub methods_written: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GuardSettings {
    pub window_secs: u64,
    pub min_requests: u64,
    pub max_error_rate: f64,
    pub max_p99_ms: Option<f64>,
    pub max_mismatch_rate: Option<f64>,
    /// This many native 5xx answers in a row trip the guard on the last of them (0: off).
    pub consecutive_errors: u32,
}

/// A guarded route's run of native 5xx answers, counted on the request path without a
/// lock: the request that makes it `limit` long trips the route at once (`tripped`, which
/// the decision reads), and the once-a-second judgement then writes the rollback.
#[derive(Debug)]
pub struct Streak {
    pub limit: u32,
    failures: AtomicU32,
    tripped: AtomicBool,
}

impl Streak {
    pub fn new(limit: u32) -> Streak {
        Streak { limit, failures: AtomicU32::new(0), tripped: AtomicBool::new(false) }
    }

    /// Counts a native answer; true for the one that trips the route.
    pub fn answered(&self, status: u16) -> bool {
        if status < 500 {
            // A write only when there is a run to end: the counter's line stays shared.
            if self.failures.load(Ordering::Relaxed) != 0 {
                self.failures.store(0, Ordering::Relaxed);
            }
            return false;
        }
        let run = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        run == self.limit && !self.tripped.swap(true, Ordering::Release)
    }

    pub fn tripped(&self) -> bool {
        self.tripped.load(Ordering::Acquire)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RampSettings {
    pub steps: Vec<f64>,
    pub interval_secs: u64,
    /// Why a guard stopped this ramp (written by the guard; delete it to resume).
    pub stopped: Option<String>,
}

/// The shadow settings (when on), the guard, the ramp, and the pointers comparisons leave
/// out (`shadow_ignore`, for shadow and replay alike).
pub type Compiled = (Option<Arc<ShadowSettings>>, Option<GuardSettings>, Option<RampSettings>, Arc<[String]>);
type Error = (Option<Range<usize>>, String);

/// The rollout keys of route `name`, which claims `methods` and has a native handler or not.
pub fn compile(name: &str, spec: &RouteSpec, methods: MethodSet, has_handler: bool) -> Result<Compiled, Error> {
    let needs_handler = |what: &str, span: Range<usize>| -> Result<(), Error> {
        if has_handler {
            Ok(())
        } else {
            Err((
                Some(span),
                format!("route `{name}`: {what} needs a native handler for this route's path and methods"),
            ))
        }
    };

    // Validated and kept whether or not the route shadows: `banyan replay` compares by it too.
    let mut ignore = Vec::new();
    for p in spec.shadow_ignore.iter().flat_map(|l| l.get_ref()) {
        if !(p.get_ref().is_empty() || p.get_ref().starts_with('/')) {
            return Err((
                Some(p.span()),
                format!("route `{name}`: shadow_ignore: {:?} is not a JSON pointer (they start with '/')", p.get_ref()),
            ));
        }
        ignore.push(p.get_ref().clone());
    }

    let shadow = match &spec.shadow {
        Some(on) if *on.get_ref() => {
            needs_handler("shadow = true", on.span())?;
            let shadow_methods = match &spec.shadow_methods {
                None => MethodSet::from_methods(
                    [Method::GET, Method::HEAD, Method::OPTIONS].iter().filter(|m| methods.contains(m)),
                ),
                Some(list) => {
                    let mut set = MethodSet::default();
                    for m in list.get_ref() {
                        let one =
                            MethodSet::parse(m.get_ref()).filter(|one| one.is_subset_of(methods)).ok_or_else(|| {
                                (
                                    Some(m.span()),
                                    format!(
                                        "route `{name}`: shadow_methods: {:?} is not one of the route's methods",
                                        m.get_ref()
                                    ),
                                )
                            })?;
                        set = set.union(one);
                    }
                    set
                }
            };
            if shadow_methods == MethodSet::default() {
                return Err((
                    Some(on.span()),
                    format!(
                        "route `{name}`: shadow = true shadows none of its methods: only GET, HEAD and OPTIONS are \
                         shadowed unless named; name the others in shadow_methods on purpose (a copy runs them twice)"
                    ),
                ));
            }
            let ignore = ignore.clone();
            let noise = spec.shadow_noise.as_ref().is_some_and(|n| *n.get_ref());
            let methods_written = spec.shadow_methods.is_some();
            Some(Arc::new(ShadowSettings { methods: shadow_methods, ignore, noise, methods_written }))
        }
        _ => None,
    };

    let guard = match &spec.guard {
        None => None,
        Some(g) => {
            needs_handler("a guard", g.span())?;
            let g = g.get_ref();
            let rate = |v: &Option<toml::Spanned<f64>>, key: &str| -> Result<Option<f64>, Error> {
                match v {
                    Some(r) if !(0.0..=1.0).contains(r.get_ref()) => Err((
                        Some(r.span()),
                        format!("route `{name}`: guard.{key} = {} must be a share from 0 to 1", r.get_ref()),
                    )),
                    Some(r) => Ok(Some(*r.get_ref())),
                    None => Ok(None),
                }
            };
            let window_secs = g.window_secs.as_ref().map_or(60, |w| *w.get_ref());
            if !(10..=900).contains(&window_secs) {
                let span = g.window_secs.as_ref().map(|w| w.span());
                return Err((span, format!("route `{name}`: guard.window_secs = {window_secs} must be 10 to 900")));
            }
            let max_p99_ms = match &g.max_p99_ms {
                // (NaN included.)
                Some(p) if !p.get_ref().is_finite() || *p.get_ref() <= 0.0 => {
                    return Err((Some(p.span()), format!("route `{name}`: guard.max_p99_ms must be above 0")));
                }
                p => p.as_ref().map(|p| *p.get_ref()),
            };
            let min_requests = g.min_requests.as_ref().map_or(20, |m| *m.get_ref()).max(1);
            Some(GuardSettings {
                window_secs,
                min_requests,
                max_error_rate: rate(&g.max_error_rate, "max_error_rate")?.unwrap_or(0.02),
                max_p99_ms,
                max_mismatch_rate: rate(&g.max_mismatch_rate, "max_mismatch_rate")?,
                // By default, a window's worth of answers all failing: the error-rate rule's own
                // evidence, judged on the request that completes it.
                consecutive_errors: g.consecutive_errors.as_ref().map_or(min_requests as u32, |c| *c.get_ref()),
            })
        }
    };

    let ramp = match &spec.ramp {
        None => None,
        Some(r) => {
            if guard.is_none() {
                return Err((
                    Some(r.span()),
                    format!("route `{name}`: a ramp needs a [routes.{name}.guard] to stop it when native misbehaves"),
                ));
            }
            let steps = r.get_ref().steps.get_ref();
            if steps.is_empty() {
                return Err((Some(r.get_ref().steps.span()), format!("route `{name}`: ramp.steps is empty")));
            }
            let mut last = 0.0;
            for s in steps {
                let v = *s.get_ref();
                let in_order = v.is_finite() && v > last && v <= 100.0;
                if !in_order || ((v * 100.0).round() - v * 100.0).abs() > 1e-6 {
                    return Err((
                        Some(s.span()),
                        format!("route `{name}`: ramp step {v} must be above the one before, at most 100, with two decimals at most"),
                    ));
                }
                last = v;
            }
            let interval = r.get_ref().interval_secs.get_ref();
            if *interval == 0 {
                return Err((
                    Some(r.get_ref().interval_secs.span()),
                    format!("route `{name}`: ramp.interval_secs must be above 0"),
                ));
            }
            Some(RampSettings {
                steps: steps.iter().map(|s| *s.get_ref()).collect(),
                interval_secs: *interval,
                stopped: r.get_ref().stopped.as_ref().map(|s| s.get_ref().clone()),
            })
        }
    };
    Ok((shadow, guard, ramp, ignore.into()))
}

#[cfg(test)]
mod tests {
    use crate::native::Registry;

    #[test]
    fn a_run_of_5xx_trips_on_its_last_answer_and_a_good_one_ends_it() {
        let s = super::Streak::new(3);
        assert!(!s.answered(500) && !s.answered(502) && !s.answered(200), "a good answer ends the run");
        assert!(!s.answered(500) && !s.answered(503) && !s.tripped());
        assert!(s.answered(500) && s.tripped(), "the third in a row trips");
        assert!(!s.answered(500), "only once");
    }

    fn check(extra: &str) -> Result<crate::flags::Snapshot, String> {
        let text = format!("[routes.info]\npath = \"/api/1/info\"\nmethods = [\"GET\"]\n{extra}");
        crate::flags::compile("flags.toml".as_ref(), &text, &Registry::builtin(), 1).map_err(|e| e.to_string())
    }

    #[test]
    fn rollout_keys_compile_with_their_defaults() {
        let s = check(
            "shadow = true\nshadow_ignore = [\"/result/data_directory\"]\nshadow_noise = true\n\
             [routes.info.guard]\nmax_p99_ms = 250\n[routes.info.ramp]\nsteps = [1, 5, 25, 50, 100]\ninterval_secs = 300\n",
        )
        .unwrap();
        let r = &s.routes[0];
        let shadow = r.shadow.as_ref().unwrap();
        assert_eq!(shadow.methods.names(), ["GET", "HEAD"]);
        assert!(shadow.noise);
        let guard = r.guard.as_ref().unwrap();
        assert_eq!((guard.window_secs, guard.min_requests, guard.max_error_rate), (60, 20, 0.02));
        assert_eq!(guard.max_p99_ms, Some(250.0));
        assert_eq!(r.ramp.as_ref().unwrap().steps, [1.0, 5.0, 25.0, 50.0, 100.0]);
        assert!(check("shadow = false\nshadow_noise = true\n").unwrap().routes[0].shadow.is_none());
    }

    #[test]
    fn mistakes_are_located() {
        for (extra, line, says) in [
            ("shadow = true\nshadow_methods = [\"POST\"]\n", 5, "not one of the route's methods"),
            ("shadow = true\nshadow_ignore = [\"result\"]\n", 5, "not a JSON pointer"),
            ("[routes.info.guard]\nmax_error_rate = 2\n", 5, "from 0 to 1"),
            ("[routes.info.guard]\nwindow_secs = 1\n", 5, "10 to 900"),
            ("[routes.info.guard]\n[routes.info.ramp]\nsteps = [5, 1]\ninterval_secs = 1\n", 6, "above the one before"),
            ("[routes.info.guard]\n[routes.info.ramp]\nsteps = [10]\ninterval_secs = 0\n", 7, "above 0"),
        ] {
            let e = check(extra).unwrap_err();
            assert!(e.starts_with(&format!("flags.toml:{line}:")) && e.contains(says), "{extra}: {e}");
        }
        assert!(check("[routes.info.ramp]\nsteps = [10]\ninterval_secs = 60\n").unwrap_err().contains("needs a"));
        let post = "[routes.m]\npath = \"/api/1/assets/locationmappings\"\nmethods = [\"POST\"]\nshadow = true\n";
        let e = crate::flags::compile("f.toml".as_ref(), post, &Registry::builtin(), 1).unwrap_err();
        assert!(e.message.contains("shadows none of its methods") && e.position == Some((4, 10)), "{e}");
        let listed = format!("{post}shadow_methods = [\"POST\"]\n");
        assert!(crate::flags::compile("f.toml".as_ref(), &listed, &Registry::builtin(), 1).is_ok());
        let no_handler = "[routes.x]\npath = \"/api/1/settings\"\nshadow = true\n";
        let e = crate::flags::compile("f.toml".as_ref(), no_handler, &Registry::builtin(), 1).unwrap_err();
        assert!(e.message.contains("needs a native handler"), "{e}");
    }
}
