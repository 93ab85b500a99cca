//! Collections of NanoAOD objects (`Jet`, `Muon`, `Electron`, `GenPart`, ...): fields by name
//! and type, four-vectors, selections as index lists, sorting, argmax, combinations, cross
//! references and ΔR matching — what coffea's NanoEvents and awkward give, over the host's
//! arrays and without allocating per event.
//!
//! Objects are addressed by their *global* index in the batch (`k` below): the fields of a
//! collection are flat arrays, event `i` owns the objects `collection.range(i)`. A selection
//! ([`Subset`]) is a list of such indices per event, built once per batch.
//!
//! ```
//! # use casa_plugin::testing::TestBatch;
//! use casa_plugin::collection::{max_by, triples};
//!
//! let b = TestBatch::new(1)
//!     .jagged("Jet_pt", &[&[80.0f32, 60.0, 40.0, 35.0, 20.0][..]])
//!     .jagged("Jet_eta", &[&[0.1f32, -1.0, 2.0, 0.5, 3.0][..]])
//!     .jagged("Jet_phi", &[&[0.0f32, 2.0, -2.0, 1.0, 0.3][..]])
//!     .jagged("Jet_mass", &[&[10.0f32, 8.0, 6.0, 5.0, 4.0][..]])
//!     .jagged("Jet_btagCSVV2", &[&[0.1f32, 0.9, 0.2, 0.3, 0.95][..]]);
//! let ev = b.events();
//! let jets = ev.collection("Jet").unwrap();
//! let p4 = jets.p4().unwrap();
//! let btag = jets.field::<f32>("btagCSVV2").unwrap();
//! // jets[(jets.pt > 30) & (abs(jets.eta) < 2.4)]
//! let good = jets.select(|k| p4.pt[k] > 30.0 && p4.eta[k].abs() < 2.4);
//! for i in 0..ev.len() {
//!     let js = good.event(i);
//!     // The highest-pT trijet with at least one b-tag, and its mass (the AGC's observable).
//!     let best = max_by(
//!         triples(js).filter(|t| t.iter().any(|&k| btag[k as usize] > 0.5)).map(|t| p4.sum(&t)),
//!         |v| v.pt(),
//!     );
//!     assert!(best.unwrap().mass() > 0.0);
//! }
//! ```

use std::borrow::Cow;
use std::ops::{Deref, Range};

use crate::vec4::{delta_r, LorentzVector, PtEtaPhiM};
use crate::{Column, Element, Events, Result};

/// One NanoAOD collection of a batch: the jagged columns `{name}_*`, which share their counts.
#[derive(Clone)]
pub struct Collection<'a> {
    name: String,
    offsets: &'a [u64],
    columns: Vec<Column<'a>>,
}

impl<'a> Events<'a> {
    /// The collection `name` (`"Jet"`, `"Muon"`...): every jagged column `{name}_*` of the
    /// batch. An error if the batch has none (list the fields you need in COLUMNS).
    ///
    /// ```
    /// # use casa_plugin::testing::TestBatch;
    /// let b = TestBatch::new(2).jagged("Jet_pt", &[&[40.0f32, 25.0][..], &[]]);
    /// let ev = b.events();
    /// let jets = ev.collection("Jet").unwrap();
    /// assert_eq!((jets.len(), jets.count(0), jets.count(1)), (2, 2, 0));
    /// assert!(ev.collection("Muon").is_err());
    /// ```
    pub fn collection(&self, name: &str) -> Result<Collection<'a>> {
        self.collection_opt(name).ok_or_else(|| {
            format!(
                "no column {name}_* in this batch (list the fields you read, e.g. {name}_pt, in COLUMNS)"
            )
            .into()
        })
    }

    /// The collection `name`, or `None` when the batch has none of its columns (an optional
    /// collection such as `GenPart` in data).
    ///
    /// ```
    /// # use casa_plugin::testing::TestBatch;
    /// let data = TestBatch::new(1).jagged("Jet_pt", &[&[40.0f32][..]]);
    /// assert!(data.events().collection_opt("GenPart").is_none());
    /// ```
    pub fn collection_opt(&self, name: &str) -> Option<Collection<'a>> {
        let columns: Vec<Column<'a>> = self
            .columns()
            .iter()
            .filter(|c| {
                c.offsets().is_some()
                    && c.name.len() > name.len() + 1
                    && c.name.starts_with(name)
                    && c.name.as_bytes()[name.len()] == b'_'
            })
            .copied()
            .collect();
        let offsets = columns.first()?.offsets()?;
        Some(Collection {
            name: name.to_string(),
            offsets,
            columns,
        })
    }
}

impl<'a> Collection<'a> {
    /// The collection's name (`"Jet"`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of objects in event `i`.
    #[inline]
    #[track_caller]
    pub fn count(&self, i: usize) -> usize {
        (self.offsets[i + 1] - self.offsets[i]) as usize
    }

    /// The global indices of the objects of event `i`.
    ///
    /// ```
    /// # use casa_plugin::testing::TestBatch;
    /// let b = TestBatch::new(2).jagged("Jet_pt", &[&[40.0f32, 25.0][..], &[30.0]]);
    /// let ev = b.events();
    /// let jets = ev.collection("Jet").unwrap();
    /// assert_eq!(jets.range(1), 2..3);
    /// assert_eq!(jets.n_objects(), 3);
    /// assert_eq!(jets.offsets(), &[0, 2, 3]);
    /// ```
    #[inline]
    #[track_caller]
    pub fn range(&self, i: usize) -> Range<usize> {
        self.offsets[i] as usize..self.offsets[i + 1] as usize
    }

    /// Number of objects in the batch.
    pub fn n_objects(&self) -> usize {
        self.offsets.last().copied().unwrap_or(0) as usize
    }

    /// The offsets: event `i` owns objects `offsets[i]..offsets[i+1]`.
    pub fn offsets(&self) -> &'a [u64] {
        self.offsets
    }

    fn column(&self, field: &str) -> Option<Column<'a>> {
        self.columns
            .iter()
            .copied()
            .find(|c| c.name.len() == self.name.len() + 1 + field.len() && c.name.ends_with(field))
    }

    /// The field `{name}_{field}` as `T` (converted if the file stores another number type:
    /// `jetId` is int32 in NanoAOD v9 and uint8 later).
    ///
    /// ```
    /// # use casa_plugin::testing::TestBatch;
    /// let b = TestBatch::new(1)
    ///     .jagged("Jet_pt", &[&[40.0f32, 25.0][..]])
    ///     .jagged("Jet_jetId", &[&[6i32, 2][..]]);
    /// let ev = b.events();
    /// let jets = ev.collection("Jet").unwrap();
    /// let id = jets.field::<u8>("jetId").unwrap();
    /// assert_eq!((id[0], id[1]), (6, 2));
    /// assert_eq!(jets.field::<f32>("pt").unwrap().row(0), &[40.0, 25.0]);
    /// assert!(jets.field::<f32>("btagCSVV2").is_err());
    /// ```
    pub fn field<T: Element>(&self, field: &str) -> Result<Field<'a, T>> {
        self.field_opt(field)?.ok_or_else(|| {
            format!(
                "no column {}_{field} in this batch (list it in COLUMNS)",
                self.name
            )
            .into()
        })
    }

    /// Several fields of one type at once.
    ///
    /// ```
    /// # use casa_plugin::testing::TestBatch;
    /// use casa_plugin::Field;
    /// let b = TestBatch::new(1)
    ///     .jagged("Muon_pt", &[&[40.0f32, 25.0][..]])
    ///     .jagged("Muon_sip3d", &[&[1.5f32, 6.0][..]]);
    /// let ev = b.events();
    /// let mu = ev.collection("Muon").unwrap();
    /// let [pt, sip]: [Field<f64>; 2] = mu.fields(["pt", "sip3d"]).unwrap();
    /// assert_eq!(mu.select(|k| pt[k] > 30.0 && sip[k] < 4.0).event(0), &[0]);
    /// ```
    pub fn fields<T: Element, const N: usize>(
        &self,
        fields: [&str; N],
    ) -> Result<[Field<'a, T>; N]> {
        let v: Vec<Field<'a, T>> = fields
            .iter()
            .map(|f| self.field(f))
            .collect::<Result<_>>()?;
        Ok(v.try_into()
            .map_err(|_| "field count")
            .expect("one field per name"))
    }

    /// The field `{name}_{field}`, or `None` when the batch lacks it.
    ///
    /// ```
    /// # use casa_plugin::testing::TestBatch;
    /// let b = TestBatch::new(1).jagged("Jet_pt", &[&[40.0f32][..]]);
    /// let ev = b.events();
    /// let jets = ev.collection("Jet").unwrap();
    /// assert!(jets.field_opt::<i32>("hadronFlavour").unwrap().is_none());
    /// ```
    pub fn field_opt<T: Element>(&self, field: &str) -> Result<Option<Field<'a, T>>> {
        let Some(c) = self.column(field) else {
            return Ok(None);
        };
        let offsets = c.offsets().expect("collection columns are jagged");
        if offsets.as_ptr() != self.offsets.as_ptr() && offsets != self.offsets {
            return Err(format!(
                "{} has other counts than {}_{}: not one collection",
                c.name,
                self.name,
                self.columns[0].name.rsplit('_').next().unwrap_or("")
            )
            .into());
        }
        if c.inner != 1 {
            return Err(format!("{} holds {} values per object", c.name, c.inner).into());
        }
        Ok(Some(Field {
            values: c.values_as()?,
            offsets: self.offsets,
        }))
    }

    /// Four-vectors from `pt`, `eta`, `phi` and `mass` (read as f32). The charge is another
    /// field: `field_opt::<i32>("charge")`.
    ///
    /// ```
    /// # use casa_plugin::testing::TestBatch;
    /// let b = TestBatch::new(1)
    ///     .jagged("Jet_pt", &[&[40.0f32, 30.0][..]])
    ///     .jagged("Jet_eta", &[&[0.0f32, 0.0][..]])
    ///     .jagged("Jet_phi", &[&[0.0f32, std::f32::consts::PI][..]])
    ///     .jagged("Jet_mass", &[&[0.0f32, 0.0][..]]);
    /// let ev = b.events();
    /// let p4 = ev.collection("Jet").unwrap().p4().unwrap();
    /// let dijet = p4.vec(0) + p4.vec(1);
    /// assert!((dijet.mass() - 2.0 * (40.0f64 * 30.0).sqrt()).abs() < 1e-4);
    /// ```
    pub fn p4(&self) -> Result<P4<'a>> {
        self.p4_as()
    }

    /// Four-vectors with the fields read as `T`: `p4_as::<f64>()` to combine them with a
    /// varied pT computed in f64 ([`P4::with_pt`]).
    ///
    /// ```
    /// # use casa_plugin::testing::TestBatch;
    /// let b = TestBatch::new(1)
    ///     .jagged("Jet_pt", &[&[40.0f32][..]]).jagged("Jet_eta", &[&[0.5f32][..]])
    ///     .jagged("Jet_phi", &[&[0.0f32][..]]).jagged("Jet_mass", &[&[5.0f32][..]]);
    /// let ev = b.events();
    /// let p4 = ev.collection("Jet").unwrap().p4_as::<f64>().unwrap();
    /// let up = p4.pt.map(|x| x * 1.03);
    /// assert_eq!(p4.with_pt(&up).get(0).pt, 40.0 * 1.03);
    /// ```
    pub fn p4_as<T: Element>(&self) -> Result<P4<'a, T>> {
        Ok(P4 {
            pt: self.field("pt")?,
            eta: self.field("eta")?,
            phi: self.field("phi")?,
            mass: self.field("mass")?,
        })
    }

    /// Every object, as a selection.
    pub fn all(&self) -> Subset {
        self.select(|_| true)
    }

    /// The objects for which `keep(k)` holds, per event (`jets[mask]` in awkward).
    ///
    /// ```
    /// # use casa_plugin::testing::TestBatch;
    /// let b = TestBatch::new(2).jagged("Muon_pt", &[&[35.0f32, 10.0, 31.0][..], &[5.0]]);
    /// let ev = b.events();
    /// let mu = ev.collection("Muon").unwrap();
    /// let pt = mu.field::<f32>("pt").unwrap();
    /// let good = mu.select(|k| pt[k] > 30.0);
    /// assert_eq!(good.event(0), &[0, 2]);
    /// assert_eq!(good.count(1), 0);
    /// ```
    pub fn select(&self, mut keep: impl FnMut(usize) -> bool) -> Subset {
        let mut s = Subset::with_capacity(self.len(), self.n_objects());
        for i in 0..self.len() {
            for k in self.range(i) {
                if keep(k) {
                    s.idx.push(k as u32);
                }
            }
            s.offsets.push(s.idx.len() as u32);
        }
        s
    }

    /// The objects whose entry of `mask` (one per object) is true.
    ///
    /// ```
    /// # use casa_plugin::testing::TestBatch;
    /// let b = TestBatch::new(1).jagged("Muon_tightId", &[&[true, false, true][..]]);
    /// let ev = b.events();
    /// let mu = ev.collection("Muon").unwrap();
    /// let tight = mu.field::<bool>("tightId").unwrap();
    /// assert_eq!(mu.select_mask(&tight).unwrap().event(0), &[0, 2]);
    /// ```
    pub fn select_mask(&self, mask: &[bool]) -> Result<Subset> {
        if mask.len() != self.n_objects() {
            return Err(format!(
                "mask of {} entries for {} {} objects",
                mask.len(),
                self.n_objects(),
                self.name
            )
            .into());
        }
        Ok(self.select(|k| mask[k]))
    }

    /// A per-object mask: `pred(k)` for every object (awkward's `jets.pt > 30`).
    ///
    /// ```
    /// # use casa_plugin::testing::TestBatch;
    /// let b = TestBatch::new(1).jagged("Jet_pt", &[&[40.0f32, 25.0][..]]);
    /// let ev = b.events();
    /// let jets = ev.collection("Jet").unwrap();
    /// let pt = jets.field::<f32>("pt").unwrap();
    /// assert_eq!(jets.mask(|k| pt[k] > 30.0), [true, false]);
    /// ```
    pub fn mask(&self, pred: impl FnMut(usize) -> bool) -> Vec<bool> {
        (0..self.n_objects()).map(pred).collect()
    }

    /// Follow an index field (`Jet_muonIdx1`, `Muon_jetIdx`: an index into `target` within the
    /// same event, -1 for none) to global indices of `target`.
    ///
    /// ```
    /// # use casa_plugin::testing::TestBatch;
    /// let b = TestBatch::new(2)
    ///     .jagged("Jet_muonIdx1", &[&[-1i16, 1][..], &[0, 3]])
    ///     .jagged("Muon_pt", &[&[20.0f32, 30.0][..], &[40.0]]);
    /// let ev = b.events();
    /// let (jets, muons) = (ev.collection("Jet").unwrap(), ev.collection("Muon").unwrap());
    /// let mu_of_jet = jets.xref("muonIdx1", &muons).unwrap();
    /// let mu_pt = muons.field::<f32>("pt").unwrap();
    /// assert_eq!(mu_of_jet.get(0), None);
    /// assert_eq!(mu_of_jet.get(1).map(|m| mu_pt[m]), Some(30.0));
    /// assert_eq!(mu_of_jet.get(2).map(|m| mu_pt[m]), Some(40.0));
    /// assert_eq!(mu_of_jet.get(3), None); // index 3 of an event with one muon
    /// ```
    pub fn xref(&self, field: &str, target: &Collection<'_>) -> Result<XRef> {
        if target.len() != self.len() {
            return Err(format!(
                "{} and {} have different numbers of events",
                self.name, target.name
            )
            .into());
        }
        let idx = self.field::<i64>(field)?;
        let mut out = Vec::with_capacity(self.n_objects());
        for i in 0..self.len() {
            let (base, n) = (target.offsets[i], target.count(i) as i64);
            for k in self.range(i) {
                let l = idx[k];
                out.push(if (0..n).contains(&l) {
                    (base + l as u64) as u32
                } else {
                    u32::MAX
                });
            }
        }
        Ok(XRef { target: out })
    }
}

/// One field of a collection: a value per object (index with the global object index `k`),
/// borrowed from the host when the type matches, converted otherwise.
#[derive(Clone, Debug)]
pub struct Field<'a, T: Element> {
    values: Cow<'a, [T]>,
    offsets: &'a [u64],
}

impl<'a, T: Element> Field<'a, T> {
    /// The values of event `i`.
    #[track_caller]
    pub fn row(&self, i: usize) -> &[T] {
        &self.values[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    /// A new field with `f` applied to every value (a varied jet pT: `pt.map(|x| x * 1.03)`).
    ///
    /// ```
    /// # use casa_plugin::testing::TestBatch;
    /// let b = TestBatch::new(1).jagged("Jet_pt", &[&[40.0f32, 25.0][..]]);
    /// let ev = b.events();
    /// let pt = ev.collection("Jet").unwrap().field::<f32>("pt").unwrap();
    /// let up = pt.map(|x| x * 1.5);
    /// assert_eq!(up.row(0), &[60.0, 37.5]);
    /// ```
    pub fn map<U: Element>(&self, f: impl FnMut(T) -> U) -> Field<'a, U> {
        Field {
            values: Cow::Owned(self.values.iter().copied().map(f).collect()),
            offsets: self.offsets,
        }
    }

    /// The same field, borrowed from this one (no copy).
    pub fn view(&self) -> Field<'_, T> {
        Field {
            values: Cow::Borrowed(&self.values),
            offsets: self.offsets,
        }
    }

    /// A new field from one value per object (`values.len()` must be the number of objects).
    pub fn with_values<U: Element>(&self, values: Vec<U>) -> Result<Field<'a, U>> {
        if values.len() != self.values.len() {
            return Err(format!(
                "{} values for a field of {} objects",
                values.len(),
                self.values.len()
            )
            .into());
        }
        Ok(Field {
            values: Cow::Owned(values),
            offsets: self.offsets,
        })
    }
}

impl<T: Element> Deref for Field<'_, T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.values
    }
}

/// Four-vectors of a collection: `pt`, `eta`, `phi`, `mass` fields (f32 as NanoAOD stores
/// them, or another [`Element`] type; replace `pt` by a varied one with [`P4::with_pt`] to
/// propagate a jet energy scale). The arithmetic is in f64 whatever `T` is.
#[derive(Clone, Debug)]
pub struct P4<'a, T: Element = f32> {
    pub pt: Field<'a, T>,
    pub eta: Field<'a, T>,
    pub phi: Field<'a, T>,
    pub mass: Field<'a, T>,
}

impl<T: Element> P4<'_, T> {
    /// These four-vectors with another pT (a varied one), borrowing everything (no copy).
    pub fn with_pt<'b>(&'b self, pt: &'b Field<'_, T>) -> P4<'b, T> {
        P4 {
            pt: pt.view(),
            eta: self.eta.view(),
            phi: self.phi.view(),
            mass: self.mass.view(),
        }
    }

    /// Object `k` in (pt, eta, phi, m), in f64.
    #[inline]
    #[track_caller]
    pub fn get(&self, k: usize) -> PtEtaPhiM {
        PtEtaPhiM::new(
            self.pt[k].to_f64(),
            self.eta[k].to_f64(),
            self.phi[k].to_f64(),
            self.mass[k].to_f64(),
        )
    }

    /// Object `k` as a Cartesian four-vector.
    #[inline]
    #[track_caller]
    pub fn vec(&self, k: usize) -> LorentzVector {
        self.get(k).to_cartesian()
    }

    /// The Cartesian four-vectors of `objects` (one event's selection), each computed once,
    /// into `out` (cleared first; reuse it across events): for combinatorics, where each
    /// object enters many sums.
    ///
    /// ```
    /// # use casa_plugin::testing::TestBatch;
    /// use casa_plugin::collection::{max_by, triples};
    /// # let b = TestBatch::new(1)
    /// #     .jagged("Jet_pt", &[&[40.0f32, 30.0, 20.0, 10.0][..]])
    /// #     .jagged("Jet_eta", &[&[0.0f32, 1.0, -1.0, 0.5][..]])
    /// #     .jagged("Jet_phi", &[&[0.0f32, 3.0, 1.5, -1.0][..]])
    /// #     .jagged("Jet_mass", &[&[5.0f32, 0.0, 2.0, 1.0][..]])
    /// #     .jagged("Jet_btagCSVV2", &[&[0.1f32, 0.2, 0.3, 0.9][..]]);
    /// # let ev = b.events();
    /// let jets = ev.collection("Jet").unwrap();
    /// let (p4, btag) = (jets.p4().unwrap(), jets.field::<f32>("btagCSVV2").unwrap());
    /// let mut jv = Vec::new(); // outside the event loop
    /// p4.vectors(jets.all().event(0), &mut jv);
    /// // The highest-pT trijet with a b-tagged jet:
    /// let top = max_by(
    ///     triples(&jv).filter(|t| t.iter().any(|j| btag[j.k] > 0.5)).map(|[a, b, c]| a.v + b.v + c.v),
    ///     |t| t.pt(),
    /// ).unwrap();
    /// // The same by brute force: only jet 3 is b-tagged.
    /// let sums = [[0, 1, 3], [0, 2, 3], [1, 2, 3]].map(|t| p4.sum(&t));
    /// let want = sums.into_iter().reduce(|a, b| if b.pt() > a.pt() { b } else { a }).unwrap();
    /// assert_eq!(top, want);
    /// ```
    pub fn vectors(&self, objects: &[u32], out: &mut Vec<ObjVec>) {
        out.clear();
        out.extend(objects.iter().map(|&k| ObjVec {
            k: k as usize,
            v: self.vec(k as usize),
        }));
    }

    /// Every object of the batch as a Cartesian four-vector (index it with the global object
    /// index). Prefer [`P4::vectors`] when only some events' objects are combined.
    ///
    /// ```
    /// # use casa_plugin::testing::TestBatch;
    /// # let b = TestBatch::new(1)
    /// #     .jagged("Jet_pt", &[&[40.0f32, 30.0][..]]).jagged("Jet_eta", &[&[0.0f32, 1.0][..]])
    /// #     .jagged("Jet_phi", &[&[0.0f32, 3.0][..]]).jagged("Jet_mass", &[&[5.0f32, 0.0][..]]);
    /// # let ev = b.events();
    /// let p4 = ev.collection("Jet").unwrap().p4().unwrap();
    /// let v = p4.cartesian();
    /// assert_eq!(v[1], p4.vec(1));
    /// assert_eq!(v[0] + v[1], p4.sum(&[0, 1]));
    /// ```
    pub fn cartesian(&self) -> Vec<LorentzVector> {
        (0..self.pt.len()).map(|k| self.vec(k)).collect()
    }

    /// The sum of the four-vectors of `objects` (a dijet, a trijet).
    ///
    /// ```
    /// # use casa_plugin::testing::TestBatch;
    /// # let b = TestBatch::new(1)
    /// #     .jagged("Jet_pt", &[&[40.0f32, 30.0][..]]).jagged("Jet_eta", &[&[0.0f32, 0.0][..]])
    /// #     .jagged("Jet_phi", &[&[0.0f32, 3.0][..]]).jagged("Jet_mass", &[&[0.0f32, 0.0][..]]);
    /// # let ev = b.events();
    /// let p4 = ev.collection("Jet").unwrap().p4().unwrap();
    /// assert_eq!(p4.sum(&[0, 1]), p4.vec(0) + p4.vec(1));
    /// ```
    #[inline]
    pub fn sum(&self, objects: &[u32]) -> LorentzVector {
        objects
            .iter()
            .fold(LorentzVector::default(), |s, &k| s + self.vec(k as usize))
    }

    /// ΔR between object `k` of this collection and object `l` of `other`.
    ///
    /// ```
    /// # use casa_plugin::testing::TestBatch;
    /// # let b = TestBatch::new(1)
    /// #     .jagged("Jet_pt", &[&[40.0f32][..]]).jagged("Jet_eta", &[&[0.5f32][..]])
    /// #     .jagged("Jet_phi", &[&[3.0f32][..]]).jagged("Jet_mass", &[&[0.0f32][..]])
    /// #     .jagged("Muon_pt", &[&[20.0f32][..]]).jagged("Muon_eta", &[&[0.5f32][..]])
    /// #     .jagged("Muon_phi", &[&[-3.0f32][..]]).jagged("Muon_mass", &[&[0.1f32][..]]);
    /// # let ev = b.events();
    /// let jets = ev.collection("Jet").unwrap().p4().unwrap();
    /// let muons = ev.collection("Muon").unwrap().p4().unwrap();
    /// // Δφ wraps around: 3 and -3 are 2π - 6 apart.
    /// let dr = jets.delta_r(0, &muons, 0);
    /// assert!((dr - (2.0 * std::f64::consts::PI - 6.0)).abs() < 1e-6);
    /// ```
    #[inline]
    pub fn delta_r<U: Element>(&self, k: usize, other: &P4<'_, U>, l: usize) -> f64 {
        delta_r(
            self.eta[k].to_f64(),
            self.phi[k].to_f64(),
            other.eta[l].to_f64(),
            other.phi[l].to_f64(),
        )
    }

    /// The object among `candidates` (global indices of `other`) nearest to object `k` in ΔR,
    /// if it is closer than `max_dr`, with its ΔR (coffea's `nearest(other, threshold)`; the
    /// first one on ties).
    ///
    /// ```
    /// # use casa_plugin::testing::TestBatch;
    /// # let b = TestBatch::new(1)
    /// #     .jagged("Jet_pt", &[&[40.0f32][..]]).jagged("Jet_eta", &[&[0.0f32][..]])
    /// #     .jagged("Jet_phi", &[&[0.0f32][..]]).jagged("Jet_mass", &[&[0.0f32][..]])
    /// #     .jagged("GenJet_pt", &[&[20.0f32, 38.0, 41.0][..]])
    /// #     .jagged("GenJet_eta", &[&[0.3f32, 0.05, 2.0][..]])
    /// #     .jagged("GenJet_phi", &[&[0.0f32, 0.0, 0.0][..]])
    /// #     .jagged("GenJet_mass", &[&[0.0f32, 0.0, 0.0][..]]);
    /// # let ev = b.events();
    /// let jets = ev.collection("Jet").unwrap();
    /// let gen = ev.collection("GenJet").unwrap();
    /// let (jp4, gp4) = (jets.p4().unwrap(), gen.p4().unwrap());
    /// let gen_all = gen.all();
    /// let (g, dr) = jp4.nearest(0, &gp4, gen_all.event(0), 0.4).unwrap();
    /// assert_eq!(g, 1);
    /// assert!((dr - 0.05).abs() < 1e-6);
    /// assert!(jp4.nearest(0, &gp4, &[2], 0.4).is_none());
    /// ```
    pub fn nearest<U: Element>(
        &self,
        k: usize,
        other: &P4<'_, U>,
        candidates: &[u32],
        max_dr: f64,
    ) -> Option<(usize, f64)> {
        let mut best: Option<(usize, f64)> = None;
        for &l in candidates {
            let dr = self.delta_r(k, other, l as usize);
            if dr < max_dr && best.is_none_or(|(_, b)| dr < b) {
                best = Some((l as usize, dr));
            }
        }
        best
    }
}

/// An object's global index and Cartesian four-vector (see [`P4::vectors`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ObjVec {
    pub k: usize,
    pub v: LorentzVector,
}

/// Global indices of a target collection, one per object of the source (see
/// [`Collection::xref`]).
#[derive(Clone, Debug)]
pub struct XRef {
    target: Vec<u32>,
}

impl XRef {
    /// The target object of source object `k`, or `None` (index -1 or out of range).
    #[inline]
    #[track_caller]
    pub fn get(&self, k: usize) -> Option<usize> {
        match self.target[k] {
            u32::MAX => None,
            t => Some(t as usize),
        }
    }
}

/// A selection of objects: for each event, a list of global object indices (in the
/// collection's order, or sorted with [`Subset::sort_desc_by`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subset {
    offsets: Vec<u32>,
    idx: Vec<u32>,
}

impl Subset {
    fn with_capacity(events: usize, objects: usize) -> Subset {
        let mut offsets = Vec::with_capacity(events + 1);
        offsets.push(0);
        Subset {
            offsets,
            idx: Vec::with_capacity(objects),
        }
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The selected objects of event `i` (global indices).
    #[inline]
    #[track_caller]
    pub fn event(&self, i: usize) -> &[u32] {
        &self.idx[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    /// Number of selected objects in event `i` (`ak.num`).
    #[inline]
    #[track_caller]
    pub fn count(&self, i: usize) -> usize {
        (self.offsets[i + 1] - self.offsets[i]) as usize
    }

    /// The selected objects for which `keep(k)` also holds.
    ///
    /// ```
    /// # use casa_plugin::testing::TestBatch;
    /// let b = TestBatch::new(1).jagged("Jet_pt", &[&[50.0f32, 35.0, 20.0][..]]);
    /// let ev = b.events();
    /// let jets = ev.collection("Jet").unwrap();
    /// let pt = jets.field::<f32>("pt").unwrap();
    /// let good = jets.select(|k| pt[k] > 30.0);
    /// assert_eq!(good.filter(|k| pt[k] > 40.0).event(0), &[0]);
    /// ```
    pub fn filter(&self, mut keep: impl FnMut(usize) -> bool) -> Subset {
        let mut s = Subset::with_capacity(self.len(), self.idx.len());
        for i in 0..self.len() {
            s.idx
                .extend(self.event(i).iter().filter(|&&k| keep(k as usize)));
            s.offsets.push(s.idx.len() as u32);
        }
        s
    }

    /// Sort each event's objects by `key`, largest first (stable: equal keys keep their
    /// order, as `ak.argsort(..., ascending=False)`).
    ///
    /// ```
    /// # use casa_plugin::testing::TestBatch;
    /// let b = TestBatch::new(1).jagged("Jet_pt", &[&[20.0f32, 50.0, 35.0][..]]);
    /// let ev = b.events();
    /// let jets = ev.collection("Jet").unwrap();
    /// let pt = jets.field::<f32>("pt").unwrap();
    /// let mut by_pt = jets.all();
    /// by_pt.sort_desc_by(|k| pt[k] as f64);
    /// assert_eq!(by_pt.event(0), &[1, 2, 0]);
    /// by_pt.sort_asc_by(|k| pt[k] as f64);
    /// assert_eq!(by_pt.event(0), &[0, 2, 1]);
    /// ```
    pub fn sort_desc_by(&mut self, key: impl Fn(usize) -> f64) {
        self.sort_by(|a, b| key(b).partial_cmp(&key(a)));
    }

    /// Sort each event's objects by `key`, smallest first (stable).
    pub fn sort_asc_by(&mut self, key: impl Fn(usize) -> f64) {
        self.sort_by(|a, b| key(a).partial_cmp(&key(b)));
    }

    fn sort_by(&mut self, cmp: impl Fn(usize, usize) -> Option<std::cmp::Ordering>) {
        for i in 0..self.len() {
            let (a, b) = (self.offsets[i] as usize, self.offsets[i + 1] as usize);
            self.idx[a..b]
                .sort_by(|&x, &y| cmp(x as usize, y as usize).unwrap_or(std::cmp::Ordering::Equal));
        }
    }

    /// The object of event `i` with the largest `key` (the first of equal ones, as
    /// `ak.argmax`), or `None` for an event without objects.
    ///
    /// ```
    /// # use casa_plugin::testing::TestBatch;
    /// let b = TestBatch::new(2).jagged("Jet_btagCSVV2", &[&[0.2f32, 0.9, 0.9][..], &[]]);
    /// let ev = b.events();
    /// let jets = ev.collection("Jet").unwrap();
    /// let btag = jets.field::<f32>("btagCSVV2").unwrap();
    /// let all = jets.all();
    /// assert_eq!(all.argmax(0, |k| btag[k] as f64), Some(1));
    /// assert_eq!(all.argmin(0, |k| btag[k] as f64), Some(0));
    /// assert_eq!(all.argmax(1, |k| btag[k] as f64), None);
    /// ```
    pub fn argmax(&self, i: usize, key: impl Fn(usize) -> f64) -> Option<usize> {
        max_by(self.event(i).iter().map(|&k| k as usize), |&k| key(k))
    }

    /// The object of event `i` with the smallest `key` (the first of equal ones).
    pub fn argmin(&self, i: usize, key: impl Fn(usize) -> f64) -> Option<usize> {
        min_by(self.event(i).iter().map(|&k| k as usize), |&k| key(k))
    }

    /// The sum of `value` over the objects of event `i` (HT: `sum(i, |k| pt[k] as f64)`).
    ///
    /// ```
    /// # use casa_plugin::testing::TestBatch;
    /// let b = TestBatch::new(1).jagged("Jet_pt", &[&[50.0f32, 35.0][..]]);
    /// let ev = b.events();
    /// let jets = ev.collection("Jet").unwrap();
    /// let pt = jets.field::<f32>("pt").unwrap();
    /// assert_eq!(jets.all().sum(0, |k| pt[k] as f64), 85.0);
    /// ```
    pub fn sum(&self, i: usize, value: impl Fn(usize) -> f64) -> f64 {
        self.event(i).iter().map(|&k| value(k as usize)).sum()
    }

    /// The number of objects of event `i` for which `pred` holds (`ak.sum(mask, axis=1)`).
    ///
    /// ```
    /// # use casa_plugin::testing::TestBatch;
    /// let b = TestBatch::new(1).jagged("Jet_btagCSVV2", &[&[0.7f32, 0.1, 0.6][..]]);
    /// let ev = b.events();
    /// let jets = ev.collection("Jet").unwrap();
    /// let btag = jets.field::<f32>("btagCSVV2").unwrap();
    /// assert_eq!(jets.all().count_if(0, |k| btag[k] > 0.5), 2);
    /// ```
    pub fn count_if(&self, i: usize, pred: impl Fn(usize) -> bool) -> usize {
        self.event(i).iter().filter(|&&k| pred(k as usize)).count()
    }
}

/// The item with the largest key, the first of equal ones (`Iterator::max_by` returns the
/// last); NaN keys are never chosen.
///
/// ```
/// use casa_plugin::collection::max_by;
/// assert_eq!(max_by([(0, 1.0), (1, 3.0), (2, 3.0)], |p| p.1), Some((1, 3.0)));
/// assert_eq!(max_by(Vec::<f64>::new(), |&x| x), None);
/// ```
pub fn max_by<I: IntoIterator>(items: I, mut key: impl FnMut(&I::Item) -> f64) -> Option<I::Item> {
    let mut best: Option<(I::Item, f64)> = None;
    for it in items {
        let k = key(&it);
        if best.as_ref().is_none_or(|(_, b)| k > *b) && !k.is_nan() {
            best = Some((it, k));
        }
    }
    best.map(|(it, _)| it)
}

/// The item with the smallest key, the first of equal ones; NaN keys are never chosen.
///
/// ```
/// use casa_plugin::collection::min_by;
/// assert_eq!(min_by([3.0, 1.0, 1.0, 2.0].into_iter().enumerate(), |p| p.1), Some((1, 1.0)));
/// ```
pub fn min_by<I: IntoIterator>(items: I, mut key: impl FnMut(&I::Item) -> f64) -> Option<I::Item> {
    max_by(items, move |it| -key(it))
}

/// The unordered pairs of `objects` (indices, or anything `Copy`: per-object values computed
/// once), in `ak.combinations(x, 2)` order.
///
/// ```
/// use casa_plugin::collection::pairs;
/// let v: Vec<[u32; 2]> = pairs(&[4, 5, 6]).collect();
/// assert_eq!(v, [[4, 5], [4, 6], [5, 6]]);
/// ```
pub fn pairs<T: Copy>(objects: &[T]) -> Combinations<'_, T, 2> {
    Combinations::new(objects)
}

/// The unordered triples of `objects` (indices, or anything `Copy`), in
/// `ak.combinations(x, 3)` order.
///
/// ```
/// use casa_plugin::collection::triples;
/// let v: Vec<[u32; 3]> = triples(&[1, 2, 3, 4]).collect();
/// assert_eq!(v, [[1, 2, 3], [1, 2, 4], [1, 3, 4], [2, 3, 4]]);
/// // Over values: the jets' four-vectors and b-tags of one event, computed once.
/// let jets = [(1.0, true), (2.0, false), (3.0, false)];
/// let tagged: Vec<f64> = triples(&jets)
///     .filter(|t| t.iter().any(|j| j.1))
///     .map(|t| t[0].0 + t[1].0 + t[2].0)
///     .collect();
/// assert_eq!(tagged, [6.0]);
/// ```
pub fn triples<T: Copy>(objects: &[T]) -> Combinations<'_, T, 3> {
    Combinations::new(objects)
}

/// The `K`-element combinations of a list (object indices, or [`ObjVec`]s), in lexicographic
/// order of positions (as `ak.combinations`); no allocation.
#[derive(Debug, Clone)]
pub struct Combinations<'s, T, const K: usize> {
    objects: &'s [T],
    /// Positions of the next combination, or `None` when done.
    pos: Option<[usize; K]>,
}

impl<'s, T: Copy, const K: usize> Combinations<'s, T, K> {
    fn new(objects: &'s [T]) -> Self {
        let mut pos = [0; K];
        for (i, p) in pos.iter_mut().enumerate() {
            *p = i;
        }
        Combinations {
            objects,
            pos: (objects.len() >= K && K > 0).then_some(pos),
        }
    }
}

impl<T: Copy, const K: usize> Iterator for Combinations<'_, T, K> {
    type Item = [T; K];

    #[inline]
    fn next(&mut self) -> Option<[T; K]> {
        let pos = self.pos.as_mut()?;
        let n = self.objects.len();
        let out = std::array::from_fn(|i| self.objects[pos[i]]);
        // Advance: the rightmost position that can move, then the ones after it follow.
        let mut i = K;
        loop {
            if i == 0 {
                self.pos = None;
                break;
            }
            i -= 1;
            if pos[i] < n - K + i {
                pos[i] += 1;
                for j in i + 1..K {
                    pos[j] = pos[j - 1] + 1;
                }
                break;
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestBatch;

    #[test]
    fn counts_must_agree_within_a_collection() {
        let b = TestBatch::new(1)
            .jagged("Jet_pt", &[&[1.0f32, 2.0][..]])
            .jagged("Jet_eta", &[&[1.0f32][..]]);
        let ev = b.events();
        let jets = ev.collection("Jet").unwrap();
        let e = jets.field::<f32>("eta").unwrap_err().to_string();
        assert!(e.contains("Jet_eta") && e.contains("other counts"), "{e}");
    }

    #[test]
    fn prefix_must_end_at_an_underscore() {
        let b = TestBatch::new(1)
            .jagged("JetX_pt", &[&[1.0f32][..]])
            .jagged("FatJet_pt", &[&[1.0f32][..]]);
        let ev = b.events();
        assert!(ev.collection_opt("Jet").is_none());
        let fj = ev.collection("FatJet").unwrap();
        assert_eq!(fj.field::<f32>("pt").unwrap().row(0), &[1.0]);
        assert!(fj.field_opt::<f32>("t").unwrap().is_none());
    }

    #[test]
    fn combinations_of_short_lists_are_empty() {
        assert_eq!(triples(&[1u32, 2]).count(), 0);
        assert_eq!(pairs(&[1u32]).count(), 0);
        assert_eq!(triples(&[0u32, 1, 2, 3, 4, 5]).count(), 20);
    }

    #[test]
    fn selections_cover_events_without_objects() {
        let b = TestBatch::new(3).jagged("Jet_pt", &[&[][..], &[40.0f32], &[]]);
        let ev = b.events();
        let jets = ev.collection("Jet").unwrap();
        let all = jets.all();
        assert_eq!(all.len(), 3);
        assert_eq!(all.event(1), &[0]);
        assert_eq!(all.argmax(0, |_| 1.0), None);
        assert!(jets.select_mask(&[true, false]).is_err());
    }
}
