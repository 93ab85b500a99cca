//! Event selections by name, and cutflows.
//!
//! [`PackedSelection`] keeps up to 64 named boolean cuts per event in one `u64` each, like
//! coffea's `PackedSelection`; [`Cutflow`] counts the events and sums their weights after each
//! cut in order, per dataset, in histograms (so `casa-merge` merges them exactly, as any other
//! histogram, and they appear in the results).

use crate::{Fill, Hist, HistId, Output, Result};

/// Named boolean cuts, one bit per cut and event.
///
/// ```
/// use casa_plugin::PackedSelection;
/// let n_lep = [1usize, 1, 2, 1];
/// let n_jet = [4usize, 3, 5, 6];
/// let mut sel = PackedSelection::new(4);
/// sel.add("exactly_1l", |i| n_lep[i] == 1).unwrap();
/// sel.add("atleast_4j", |i| n_jet[i] >= 4).unwrap();
/// assert_eq!(sel.all(&["exactly_1l", "atleast_4j"]).unwrap(), [true, false, false, true]);
/// assert_eq!(sel.any(&["exactly_1l", "atleast_4j"]).unwrap(), [true, true, true, true]);
/// assert_eq!(
///     sel.require(&[("exactly_1l", false), ("atleast_4j", true)]).unwrap(),
///     [false, false, true, false]
/// );
/// // Per event, without building a mask:
/// let m = sel.bits(&["exactly_1l", "atleast_4j"]).unwrap();
/// assert!(sel.passes(3, m) && !sel.passes(1, m));
/// ```
#[derive(Debug, Clone, Default)]
pub struct PackedSelection {
    names: Vec<String>,
    bits: Vec<u64>,
}

impl PackedSelection {
    /// No cuts yet, for `n_events` events.
    pub fn new(n_events: usize) -> PackedSelection {
        PackedSelection {
            names: Vec::new(),
            bits: vec![0; n_events],
        }
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.bits.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bits.is_empty()
    }

    /// The cut names, in the order added.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    fn new_bit(&mut self, name: &str) -> Result<u64> {
        if self.names.iter().any(|n| n == name) {
            return Err(format!("selection '{name}' is added twice").into());
        }
        if self.names.len() == 64 {
            return Err(format!("selection '{name}': at most 64 cuts").into());
        }
        self.names.push(name.to_string());
        Ok(1 << (self.names.len() - 1))
    }

    /// Add the cut `name`: `pass(i)` for every event `i`.
    pub fn add(&mut self, name: &str, mut pass: impl FnMut(usize) -> bool) -> Result<()> {
        let bit = self.new_bit(name)?;
        for (i, b) in self.bits.iter_mut().enumerate() {
            if pass(i) {
                *b |= bit;
            }
        }
        Ok(())
    }

    /// Add the cut `name` from one boolean per event.
    ///
    /// ```
    /// use casa_plugin::PackedSelection;
    /// let mut sel = PackedSelection::new(2);
    /// sel.add_mask("trigger", &[true, false]).unwrap();
    /// assert!(sel.add_mask("short", &[true]).is_err());
    /// assert!(sel.add_mask("trigger", &[true, true]).is_err()); // names are unique
    /// ```
    pub fn add_mask(&mut self, name: &str, mask: &[bool]) -> Result<()> {
        if mask.len() != self.bits.len() {
            return Err(format!(
                "selection '{name}': {} values for {} events",
                mask.len(),
                self.bits.len()
            )
            .into());
        }
        self.add(name, |i| mask[i])
    }

    fn bit(&self, name: &str) -> Result<u64> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|p| 1u64 << p)
            .ok_or_else(|| {
                format!("no selection '{name}' (have: {})", self.names.join(", ")).into()
            })
    }

    /// The bits of `names`, for [`PackedSelection::passes`].
    pub fn bits(&self, names: &[&str]) -> Result<u64> {
        names.iter().try_fold(0, |m, n| Ok(m | self.bit(n)?))
    }

    /// Whether event `i` passes every cut in `bits`.
    #[inline]
    #[track_caller]
    pub fn passes(&self, i: usize, bits: u64) -> bool {
        self.bits[i] & bits == bits
    }

    /// Whether event `i` passes the cut `name`.
    ///
    /// ```
    /// use casa_plugin::PackedSelection;
    /// let mut sel = PackedSelection::new(2);
    /// sel.add_mask("trigger", &[true, false]).unwrap();
    /// assert!(sel.get(0, "trigger").unwrap() && !sel.get(1, "trigger").unwrap());
    /// assert!(sel.get(0, "trigeer").is_err()); // names the cuts it has
    /// assert_eq!(sel.names(), ["trigger"]);
    /// ```
    pub fn get(&self, i: usize, name: &str) -> Result<bool> {
        Ok(self.passes(i, self.bit(name)?))
    }

    /// Events passing every cut in `names`.
    pub fn all(&self, names: &[&str]) -> Result<Vec<bool>> {
        let m = self.bits(names)?;
        Ok(self.bits.iter().map(|b| b & m == m).collect())
    }

    /// The events passing every cut in `names`, as indices (the events of a region).
    ///
    /// ```
    /// use casa_plugin::PackedSelection;
    /// let mut sel = PackedSelection::new(4);
    /// sel.add_mask("a", &[true, false, true, true]).unwrap();
    /// sel.add_mask("b", &[true, true, false, true]).unwrap();
    /// assert_eq!(sel.indices(&["a", "b"]).unwrap(), [0, 3]);
    /// assert_eq!(sel.indices(&[]).unwrap(), [0, 1, 2, 3]);
    /// ```
    pub fn indices(&self, names: &[&str]) -> Result<Vec<usize>> {
        let m = self.bits(names)?;
        Ok((0..self.len()).filter(|&i| self.passes(i, m)).collect())
    }

    /// Events passing at least one cut in `names`.
    pub fn any(&self, names: &[&str]) -> Result<Vec<bool>> {
        let m = self.bits(names)?;
        Ok(self.bits.iter().map(|b| b & m != 0).collect())
    }

    /// Events where each named cut has the given value (`false`: must fail it).
    pub fn require(&self, cuts: &[(&str, bool)]) -> Result<Vec<bool>> {
        let (mut m, mut want) = (0u64, 0u64);
        for &(n, v) in cuts {
            let b = self.bit(n)?;
            m |= b;
            if v {
                want |= b;
            }
        }
        Ok(self.bits.iter().map(|b| b & m == want).collect())
    }

    /// For each event, how many of `cuts` it passes in a row from the first (the cutflow
    /// position it reaches).
    ///
    /// ```
    /// use casa_plugin::PackedSelection;
    /// let mut sel = PackedSelection::new(3);
    /// sel.add_mask("a", &[true, true, false]).unwrap();
    /// sel.add_mask("b", &[false, true, true]).unwrap();
    /// assert_eq!(sel.reached(&["a", "b"]).unwrap(), [1, 2, 0]);
    /// ```
    pub fn reached(&self, cuts: &[&str]) -> Result<Vec<u8>> {
        let bits: Vec<u64> = cuts.iter().map(|c| self.bit(c)).collect::<Result<_>>()?;
        Ok(self
            .bits
            .iter()
            .map(|&b| bits.iter().take_while(|&&c| b & c != 0).count() as u8)
            .collect())
    }
}

/// Events and sums of weights after each cut, per dataset: two one-dimensional histograms
/// over a `cut` axis (`"all"`, then the cuts in order), `{name}` (Double: events, exact integer
/// counts) and `{name}_weighted` (Weight: sum of weights and of their squares). The bin of a
/// cut holds the events passing it and every cut before it. Histograms merge exactly,
/// whatever the chunking, and are plotted as bar charts.
///
/// ```no_run
/// # use casa_plugin::{Cutflow, Events, Output, PackedSelection, Result};
/// # struct A { cutflow: Cutflow }
/// # impl A {
/// // In init:
/// fn init(out: &mut Output) -> Result<A> {
///     Ok(A { cutflow: Cutflow::declare(out, "cutflow", &["exactly_1l", "atleast_4j", "4j1b"])? })
/// }
/// // In process, once the cuts are in `sel`:
/// fn process(&self, sel: &PackedSelection, weights: &[f64], out: &mut Output) -> Result<()> {
///     self.cutflow.fill(out, sel, Some(weights))
/// }
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Cutflow {
    events: HistId,
    weighted: HistId,
    labels: Vec<String>,
    /// The cuts each step requires (step 0, "all", none).
    steps: Vec<Vec<String>>,
}

impl Cutflow {
    /// Declare the cutflow `name` over `cuts` (names of [`PackedSelection`] cuts, in order:
    /// step `c` requires the first `c` cuts).
    pub fn declare(out: &mut Output<'_>, name: &str, cuts: &[&str]) -> Result<Cutflow> {
        let steps: Vec<(&str, &[&str])> = (1..=cuts.len())
            .map(|c| (cuts[c - 1], &cuts[..c]))
            .collect();
        Cutflow::declare_steps(out, name, &steps)
    }

    /// Declare a cutflow whose steps are any combinations of cuts: `(label, cuts it
    /// requires)`, after the step `"all"`. Regions that branch off a common preselection
    /// (exclusive ones, such as one and two b-tags) are steps of one cutflow this way.
    ///
    /// ```no_run
    /// # use casa_plugin::{Cutflow, Output, Result};
    /// # fn init(out: &mut Output) -> Result<Cutflow> {
    /// Cutflow::declare_steps(out, "cutflow", &[
    ///     ("exactly_1l", &["exactly_1l"]),
    ///     ("atleast_4j", &["exactly_1l", "atleast_4j"]),
    ///     ("4j1b", &["exactly_1l", "atleast_4j", "exactly_1b"]),
    ///     ("4j2b", &["exactly_1l", "atleast_4j", "atleast_2b"]),
    /// ])
    /// # }
    /// ```
    pub fn declare_steps(
        out: &mut Output<'_>,
        name: &str,
        steps: &[(&str, &[&str])],
    ) -> Result<Cutflow> {
        let mut labels = vec!["all".to_string()];
        labels.extend(steps.iter().map(|(l, _)| l.to_string()));
        let mut required = vec![Vec::new()];
        required.extend(
            steps
                .iter()
                .map(|(_, cuts)| cuts.iter().map(|c| c.to_string()).collect()),
        );
        let cats: Vec<&str> = labels.iter().map(String::as_str).collect();
        let h = || Hist::new().str_cat(&cats, "cut");
        // Double, not Int64: a fill's entry count comes from its weights (the cut is one
        // label for all entries), and Int64 takes no weights. Sums of ones are exact.
        let events = out.hist(name, h().double())?;
        let weighted = out.hist(&format!("{name}_weighted"), h().weight())?;
        Ok(Cutflow {
            events,
            weighted,
            labels,
            steps: required,
        })
    }

    /// The cut labels of the `cut` axis: `"all"`, then the cuts.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// Count this batch: `weights` (one per event; `None`: 1 each) go to the weighted
    /// histogram.
    pub fn fill(
        &self,
        out: &mut Output<'_>,
        sel: &PackedSelection,
        weights: Option<&[f64]>,
    ) -> Result<()> {
        let unit;
        let w = match weights {
            Some(w) if w.len() != sel.len() => {
                return Err(format!("cutflow: {} weights for {} events", w.len(), sel.len()).into())
            }
            Some(w) => w,
            None => {
                unit = vec![1.0; sel.len()];
                &unit
            }
        };
        let ones = vec![1.0; sel.len()];
        let mut passing: Vec<f64> = Vec::with_capacity(sel.len());
        for (label, cuts) in self.labels.iter().zip(&self.steps) {
            let cuts: Vec<&str> = cuts.iter().map(String::as_str).collect();
            let bits = sel.bits(&cuts)?;
            passing.clear();
            passing.extend(
                (0..sel.len())
                    .filter(|&i| sel.passes(i, bits))
                    .map(|i| w[i]),
            );
            let args = [Fill::OneStr(label)];
            out.fill_weighted(self.events, &args, &ones[..passing.len()])?;
            out.fill_weighted(self.weighted, &args, &passing)?;
        }
        Ok(())
    }
}
