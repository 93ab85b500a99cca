//! TTree metadata: branches, leaves, basket locations and cluster boundaries, decoded from the
//! TTree object for the class versions ROOT 6 writes (TTree v19-v20, TBranch v12-v13,
//! TBranchElement v9-v10, TLeaf v2). Base classes we do not need (TAttLine, TAttFill,
//! TAttMarker, TIOFeatures) are skipped by their byte counts, so their version changes do not
//! matter.

use std::collections::HashMap;
use std::sync::Arc;

use crate::cursor::{Cursor, Origin};
use crate::error::{Error, Result};
use crate::file::{Key, RootFile, Uuid};
use crate::objects::{self, Ptr, Refs};
use crate::source::ByteSource;
use crate::streamed::{Member, Streamed, Wanted};
use crate::streamer::StreamerInfo;
use crate::types::{parse_packing, ColumnType, Layout, Primitive};

/// A basket held inside the TBranch object (the last basket of a branch when the writer closed
/// the file without flushing it, or every basket of a small file).
#[derive(Debug, Clone)]
pub struct EmbeddedBasket {
    pub index: usize,
    pub entries: usize,
    pub data: Arc<Vec<u8>>,
}

/// One branch. `leaves` and `children` index into the tree's arenas.
#[derive(Debug, Clone)]
pub struct Branch {
    pub name: String,
    pub title: String,
    pub class: String,
    pub compress: i32,
    pub entry_offset_len: i32,
    pub write_basket: usize,
    pub entries: u64,
    pub basket_bytes: Vec<i32>,
    pub basket_entry: Vec<i64>,
    pub basket_seek: Vec<i64>,
    pub embedded: Vec<EmbeddedBasket>,
    pub leaves: Vec<usize>,
    pub children: Vec<usize>,
    pub parent: Option<usize>,
    pub element: Option<ElementInfo>,
    pub tot_bytes: i64,
    pub zip_bytes: i64,
}

/// TBranchElement-specific fields.
#[derive(Debug, Clone)]
pub struct ElementInfo {
    pub class_name: String,
    pub parent_name: String,
    pub id: i32,
    pub btype: i32,
    pub streamer_type: i32,
}

/// One leaf.
#[derive(Debug, Clone)]
pub struct Leaf {
    pub class: String,
    pub name: String,
    pub title: String,
    pub len: i32,
    pub len_type: i32,
    pub is_unsigned: bool,
    pub leaf_count: Option<usize>,
    /// TLeafElement::fType.
    pub element_type: Option<i32>,
    /// Index of the branch that owns this leaf.
    pub branch: Option<usize>,
}

/// An open TTree.
pub struct Tree {
    pub(crate) source: Arc<dyn ByteSource>,
    pub(crate) file_uuid: Uuid,
    pub path: String,
    pub title: String,
    pub version: i16,
    pub entries: u64,
    pub auto_flush: i64,
    pub cluster_range_end: Vec<i64>,
    pub cluster_size: Vec<i64>,
    pub branches: Vec<Branch>,
    pub leaves: Vec<Leaf>,
    /// Indices of the top-level branches, in file order.
    pub top: Vec<usize>,
    /// Every branch under its bare name (ROOT allows the same name under different parents,
    /// e.g. `fIncrement` of each of several split objects) and under its full path.
    pub(crate) by_name: HashMap<String, Vec<usize>>,
    pub(crate) by_path: HashMap<String, Vec<usize>>,
    pub(crate) streamers: Option<Vec<StreamerInfo>>,
}

impl std::fmt::Debug for Tree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tree")
            .field("file", &self.source.name())
            .field("path", &self.path)
            .field("entries", &self.entries)
            .field("branches", &self.branches.len())
            .finish()
    }
}

#[derive(Clone)]
enum Obj {
    Branch(usize),
    Leaf(usize),
    Basket(Box<EmbeddedBasket>),
    Other,
}

struct Builder {
    branches: Vec<Branch>,
    leaves: Vec<Leaf>,
    /// The file's streamer infos, for class versions the hand-written decoders do not know.
    infos: Arc<Vec<StreamerInfo>>,
    /// Decode every class through the streamer infos (tests compare both paths).
    force_streamers: bool,
}

const TBRANCH_MEMBERS: &[&str] = &[
    "fName",
    "fTitle",
    "fCompress",
    "fEntryOffsetLen",
    "fWriteBasket",
    "fMaxBaskets",
    "fEntries",
    "fTotBytes",
    "fZipBytes",
    "fBranches",
    "fLeaves",
    "fBaskets",
    "fBasketBytes",
    "fBasketEntry",
    "fBasketSeek",
];

/// What a TBranchElement adds to its TBranch base.
const TBRANCHELEMENT_EXTRA: &[&str] =
    &["fClassName", "fParentName", "fID", "fType", "fStreamerType"];

/// The classes read as a TTree (an ntuple is a TTree with float or double branches).
pub(crate) const TREE_CLASSES: &[&str] = &["TTree", "TNtuple", "TNtupleD"];

/// Opening a tree is a TTree matter: the file layer lists keys and reads objects, and knows
/// nothing of the classes stored in them (so `file` never imports `tree`).
impl RootFile {
    /// Open a TTree by path (`Events`, `dir/tree`, `tree;2`).
    pub fn tree(&self, path: &str) -> Result<Tree> {
        self.open_tree(path, false)
    }

    /// Open a TTree decoding TTree, TBranch, TBranchElement and TLeaf through the file's
    /// streamer info, as is done for class versions without a hand-written decoder. For tests
    /// that compare both paths.
    #[doc(hidden)]
    pub fn tree_via_streamer_info(&self, path: &str) -> Result<Tree> {
        self.open_tree(path, true)
    }

    fn open_tree(&self, path: &str, force_streamers: bool) -> Result<Tree> {
        let key = self.key(path)?;
        if !TREE_CLASSES.contains(&key.class.as_str()) {
            return Err(Error::WrongClass {
                file: self.name().to_string(),
                name: path.to_string(),
                class: key.class.clone(),
                expected: "TTree",
            });
        }
        self.tree_at(path, &key, force_streamers)
    }

    /// Read and parse the TTree under `key` (its class already checked).
    pub(crate) fn tree_at(&self, path: &str, key: &Key, force_streamers: bool) -> Result<Tree> {
        let bytes = self.read_object(key)?;
        Tree::parse(self, path, key, &bytes, force_streamers)
    }
}

impl Tree {
    pub(crate) fn parse(
        file: &RootFile,
        path: &str,
        key: &Key,
        bytes: &[u8],
        force: bool,
    ) -> Result<Tree> {
        let what = format!("tree '{path}' (key at byte {})", key.seek_key);
        let mut c = Cursor::new(
            bytes,
            Origin {
                file: file.name(),
                what: &what,
                file_offset: None,
            },
        )
        .with_displacement(key.keylen as usize);
        let (version, end) = c.version()?;
        let infos = Arc::new(file.streamer_infos().unwrap_or_default());
        let mut b = Builder {
            branches: Vec::new(),
            leaves: Vec::new(),
            infos,
            force_streamers: force,
        };
        let mut refs = Refs::new();
        let known = (19..=20).contains(&version) && !force;
        let (title, entries, auto_flush, cluster_range_end, cluster_size, top_objs) = if known {
            let (_name, title) = objects::tnamed(&mut c)?;
            objects::skip_versioned(&mut c, "TAttLine")?;
            objects::skip_versioned(&mut c, "TAttFill")?;
            objects::skip_versioned(&mut c, "TAttMarker")?;
            let entries = c.i64()?;
            let _tot_bytes = c.i64()?;
            let _zip_bytes = c.i64()?;
            let _saved_bytes = c.i64()?;
            let _flushed_bytes = c.i64()?;
            let _weight = c.f64()?;
            let _timer = c.i32()?;
            let _scan = c.i32()?;
            let _update = c.i32()?;
            let _default_offset_len = c.i32()?;
            let n_cluster = c.i32()?;
            let _max_entries = c.i64()?;
            let _max_entry_loop = c.i64()?;
            let _max_virtual = c.i64()?;
            let _auto_save = c.i64()?;
            let auto_flush = c.i64()?;
            let _estimate = c.i64()?;
            let n_cluster = c.check_count(n_cluster as i64, 8, "fNClusterRange")?;
            let cluster_range_end = speedbump_i64s(&mut c, n_cluster)?;
            let cluster_size = speedbump_i64s(&mut c, n_cluster)?;
            if version >= 20 {
                objects::skip_versioned(&mut c, "TIOFeatures")?;
            }
            let top_objs = objects::objarray(&mut c, &mut refs, &mut |cl, c, r| b.read(cl, c, r))?;
            (
                title,
                entries,
                auto_flush,
                cluster_range_end,
                cluster_size,
                top_objs,
            )
        } else {
            // A TTree version we have no decoder for: walk the file's description of it.
            let infos = b.infos.clone();
            let names = [
                "fTitle",
                "fEntries",
                "fAutoFlush",
                "fClusterRangeEnd",
                "fClusterSize",
                "fBranches",
            ];
            let mut wanted = Wanted::new(&names);
            Streamed { infos: &infos }
                .read(
                    &mut c,
                    "TTree",
                    version,
                    &mut refs,
                    &mut |cl, c, r| b.read(cl, c, r),
                    &mut wanted,
                )
                .map_err(|e| version_error(file.name(), "TTree", version, &what, e))?;
            let m = wanted.got;
            let _ = end;
            let get = |k: &str| m.get(k).cloned();
            let title = match get("fTitle") {
                Some(Member::Str(t)) => t,
                _ => String::new(),
            };
            let int = |k: &str| get(k).and_then(|v| v.int());
            let ints = |k: &str| match get(k) {
                Some(Member::Ints(v)) => v,
                _ => Vec::new(),
            };
            let top_objs = match get("fBranches") {
                Some(Member::Objs(o)) => o,
                _ => {
                    return Err(version_error(
                        file.name(),
                        "TTree",
                        version,
                        &what,
                        c.error("no fBranches"),
                    ))
                }
            };
            (
                title,
                int("fEntries").unwrap_or(-1),
                int("fAutoFlush").unwrap_or(0),
                ints("fClusterRangeEnd"),
                ints("fClusterSize"),
                top_objs,
            )
        };
        if entries < 0 {
            return Err(c.error(format!("negative entry count {entries}")));
        }
        let top: Vec<usize> = top_objs
            .into_iter()
            .filter_map(|o| match o {
                Some(Obj::Branch(i)) => Some(i),
                _ => None,
            })
            .collect();
        // fLeaves, fAliases, indices, friends and user info follow; nothing there is needed.
        let Builder {
            mut branches,
            mut leaves,
            infos,
            ..
        } = b;
        for (bi, br) in branches.iter().enumerate() {
            for &li in &br.leaves {
                leaves[li].branch = Some(bi);
            }
        }
        let children: Vec<(usize, Vec<usize>)> = branches
            .iter()
            .enumerate()
            .map(|(i, br)| (i, br.children.clone()))
            .collect();
        for (i, ch) in children {
            for c in ch {
                branches[c].parent = Some(i);
            }
        }
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        let mut by_path: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, br) in branches.iter().enumerate() {
            by_name.entry(br.name.clone()).or_default().push(i);
            by_path.entry(path_of(&branches, i)).or_default().push(i);
        }
        Ok(Tree {
            source: file.source().clone(),
            file_uuid: file.uuid(),
            path: path.to_string(),
            title,
            version,
            entries: entries as u64,
            auto_flush,
            cluster_range_end,
            cluster_size,
            branches,
            leaves,
            top,
            by_name,
            by_path,
            streamers: Some(Arc::unwrap_or_clone(infos)),
        })
    }

    pub fn file_name(&self) -> &str {
        self.source.name()
    }

    pub fn source(&self) -> &Arc<dyn ByteSource> {
        &self.source
    }

    pub fn file_uuid(&self) -> Uuid {
        self.file_uuid
    }

    /// A branch by its full path (`parent/child`, as uproot spells it) or by its bare name
    /// when that names one branch only; a bare name shared by several branches is an error
    /// that lists them, never a silent pick.
    pub fn branch_index(&self, name: &str) -> Result<usize> {
        for table in [&self.by_path, &self.by_name] {
            match table.get(name).map(Vec::as_slice) {
                Some(&[i]) => return Ok(i),
                Some(many) if many.len() > 1 => {
                    return Err(Error::AmbiguousBranch {
                        file: self.file_name().to_string(),
                        tree: self.path.clone(),
                        branch: name.to_string(),
                        candidates: many.iter().map(|&i| self.full_path(i)).collect(),
                    })
                }
                _ => {}
            }
        }
        Err(Error::NoBranch {
            file: self.file_name().to_string(),
            tree: self.path.clone(),
            branch: name.to_string(),
        })
    }

    /// A branch's full path: the names of its parents and its own, joined by `/`.
    pub fn full_path(&self, b: usize) -> String {
        path_of(&self.branches, b)
    }

    /// The shortest name that finds exactly this branch: its bare name when no other branch
    /// shares it, else its full path.
    pub fn address(&self, b: usize) -> String {
        let name = &self.branches[b].name;
        if self.by_name.get(name).is_some_and(|v| v.len() == 1) {
            name.clone()
        } else {
            self.full_path(b)
        }
    }

    pub fn branch(&self, name: &str) -> Result<&Branch> {
        Ok(&self.branches[self.branch_index(name)?])
    }

    /// Number of baskets of a branch, counting an embedded one.
    pub fn num_baskets(&self, b: usize) -> usize {
        let br = &self.branches[b];
        br.write_basket
            + br.embedded
                .iter()
                .filter(|e| e.index >= br.write_basket)
                .count()
    }

    /// Entry ranges `[start, stop)` of a branch's baskets.
    pub fn basket_ranges(&self, b: usize) -> Vec<(u64, u64)> {
        let br = &self.branches[b];
        let n = self.num_baskets(b);
        (0..n)
            .map(|i| {
                let start = br.basket_entry.get(i).copied().unwrap_or(0).max(0) as u64;
                let stop = if i + 1 < n {
                    br.basket_entry.get(i + 1).copied().unwrap_or(0).max(0) as u64
                } else {
                    br.entries
                };
                (start, stop)
            })
            .collect()
    }

    /// The entry boundaries shared by all the given branches: where a chunk can start or stop
    /// without splitting a basket of any of them (uproot's `common_entry_offsets`). Always
    /// contains 0 and the number of entries.
    pub fn common_entry_offsets(&self, branches: &[usize]) -> Vec<u64> {
        let mut common: Option<Vec<u64>> = None;
        for &b in branches {
            let mut offs: Vec<u64> = self.basket_ranges(b).iter().map(|r| r.0).collect();
            offs.push(self.entries);
            offs.retain(|&o| o <= self.entries);
            common = Some(match common {
                None => offs,
                Some(prev) => prev
                    .into_iter()
                    .filter(|o| offs.binary_search(o).is_ok())
                    .collect(),
            });
        }
        let mut out = common.unwrap_or_default();
        if out.first() != Some(&0) {
            out.insert(0, 0);
        }
        if out.last() != Some(&self.entries) {
            out.push(self.entries);
        }
        out.dedup();
        out
    }

    /// The cluster boundaries ROOT itself would report (fAutoFlush, fClusterRangeEnd,
    /// fClusterSize). Only a hint: after `hadd` fast merging they disagree with the baskets.
    pub fn cluster_hint(&self) -> Vec<u64> {
        let mut out = vec![0u64];
        let mut start = 0u64;
        let push_run = |out: &mut Vec<u64>, start: &mut u64, size: i64, end: u64| {
            if size <= 0 {
                *start = end;
                out.push(end);
                return;
            }
            while *start < end {
                *start = (*start + size as u64).min(end);
                out.push(*start);
            }
        };
        for (i, &range_end) in self.cluster_range_end.iter().enumerate() {
            let end = ((range_end + 1).max(0) as u64).min(self.entries);
            let size = self.cluster_size.get(i).copied().unwrap_or(0);
            let size = if size == 0 { self.auto_flush } else { size };
            push_run(&mut out, &mut start, size, end);
        }
        push_run(&mut out, &mut start, self.auto_flush, self.entries);
        out.dedup();
        out
    }

    /// How a branch's values are laid out, or a clear error for what we cannot read.
    pub fn column_type(&self, b: usize) -> Result<ColumnType> {
        column_type(self, b)
    }

    pub(crate) fn unsupported(&self, b: usize, ty: impl Into<String>) -> Error {
        Error::Unsupported {
            file: self.file_name().to_string(),
            tree: self.path.clone(),
            branch: self.address(b),
            ty: ty.into(),
        }
    }

    /// The streamer element of a split-object member branch, if the file describes it.
    pub(crate) fn member_element(&self, b: usize) -> Option<&crate::streamer::StreamerElement> {
        let el = self.branches[b].element.as_ref()?;
        let infos = self.streamers.as_ref()?;
        let info = infos.iter().find(|s| s.class == el.class_name)?;
        info.elements.get(usize::try_from(el.id).ok()?)
    }

    /// A one-line type description, like uproot's `typename`.
    pub fn type_name(&self, b: usize) -> String {
        match self.column_type(b) {
            Ok(t) => t.to_string(),
            Err(_) => {
                let br = &self.branches[b];
                match (&br.element, br.leaves.first()) {
                    (Some(e), _) if !e.class_name.is_empty() => e.class_name.clone(),
                    (_, Some(&l)) => self.leaves[l].class.clone(),
                    _ => br.class.clone(),
                }
            }
        }
    }
}

/// What a branch holds, decided once from its leaves (and, for split objects, the streamer
/// info), so the decoding loop never has to guess.
fn column_type(tree: &Tree, b: usize) -> Result<ColumnType> {
    let br = &tree.branches[b];
    if !br.children.is_empty() {
        return Err(tree.unsupported(
            b,
            format!("{} with sub-branches (read them one by one)", br.class),
        ));
    }
    let [leaf_idx] = br.leaves[..] else {
        return Err(tree.unsupported(b, format!("{} leaves in one branch", br.leaves.len())));
    };
    let leaf = &tree.leaves[leaf_idx];
    let u = leaf.is_unsigned;
    let title_packing = |is_f16: bool| parse_packing(&leaf.title, is_f16);
    let primitive = match leaf.class.as_str() {
        "TLeafO" => Primitive::Bool,
        "TLeafB" => {
            if u {
                Primitive::U8
            } else {
                Primitive::I8
            }
        }
        "TLeafS" => {
            if u {
                Primitive::U16
            } else {
                Primitive::I16
            }
        }
        "TLeafI" => {
            if u {
                Primitive::U32
            } else {
                Primitive::I32
            }
        }
        "TLeafL" | "TLeafG" => {
            if u {
                Primitive::U64
            } else {
                Primitive::I64
            }
        }
        "TLeafF" => Primitive::F32,
        "TLeafD" => Primitive::F64,
        "TLeafF16" => Primitive::Float16(title_packing(true)),
        "TLeafD32" => Primitive::Double32(title_packing(false)),
        "TLeafElement" => return element_type(tree, b, leaf_idx),
        other => {
            let what = if other == "TLeafC" {
                "TLeafC (C string)".to_string()
            } else {
                other.to_string()
            };
            return Err(tree.unsupported(b, what));
        }
    };
    // fLen is the product of the fixed dimensions (`x[3][2]` gives 6; `Muon_pt[nMuon]` gives 1).
    let inner = leaf.len.max(1) as usize;
    let layout = match leaf.leaf_count {
        Some(cl) => {
            let counter = tree.leaves[cl].branch.ok_or_else(|| {
                tree.unsupported(
                    b,
                    format!(
                        "counter leaf '{}' not found in any branch",
                        tree.leaves[cl].name
                    ),
                )
            })?;
            Layout::Counted { counter, inner }
        }
        None => Layout::Fixed { inner },
    };
    Ok(ColumnType { primitive, layout })
}

fn element_type(tree: &Tree, b: usize, leaf_idx: usize) -> Result<ColumnType> {
    let br = &tree.branches[b];
    let leaf = &tree.leaves[leaf_idx];
    let Some(el) = &br.element else {
        return Err(tree.unsupported(b, "TLeafElement outside a TBranchElement"));
    };
    // std::vector<numeric> written as a whole (not split): the class name says it all.
    if el.id < 0 {
        if let Some(inner) = vector_element(&el.class_name) {
            return match Primitive::from_cpp(&inner) {
                Some(p) => Ok(ColumnType {
                    primitive: p,
                    layout: Layout::Vector,
                }),
                None => Err(tree.unsupported(b, el.class_name.clone())),
            };
        }
        return Err(tree.unsupported(b, el.class_name.clone()));
    }
    // A numeric member of a split object: the leaf's type code names the primitive, and the
    // member's title in the streamer info carries any Double32/Float16 range.
    let member = tree.member_element(b);
    let code = leaf.element_type.unwrap_or(-1);
    // A std::vector<numeric> member of an object split into its members (xAOD `*Aux.`
    // stores: `FileMetaDataAux.runNumbers`): each entry holds the member as the object
    // streams it, a byte count, version and size before the elements, as a top-level vector.
    // Members of split collections (btype 31/41, counted by the collection) hold one vector
    // per object, a nesting not read here.
    if code == STL_MEMBER && leaf.leaf_count.is_none() && el.btype == 0 {
        if let Some(p) = member
            .and_then(|m| vector_element(&m.type_name))
            .and_then(|inner| Primitive::from_cpp(&inner))
        {
            return Ok(ColumnType {
                primitive: p,
                layout: Layout::Vector,
            });
        }
    }
    let title = member.map(|m| m.title.as_str()).unwrap_or("");
    // A fixed-size array member (`Int_t a[10]`) has its basic type's code plus kOffsetL (20).
    let (code, array) = match code {
        21..=39 => (code - 20, member.map(|m| m.array_length).filter(|&n| n > 0)),
        _ => (code, None),
    };
    let primitive = (1..=19)
        .contains(&code)
        .then(|| Primitive::from_code(code, |is_f16| parse_packing(title, is_f16)))
        .flatten();
    let inner = array.unwrap_or(leaf.len).max(1) as usize;
    // A numeric member of a split collection of objects (a TClonesArray: btype 31; an STL
    // container: 41): each entry holds the member of every object, one after the other,
    // counted by the collection's own branch (`Tracks_` / `AuxDyn.TruthLink`), whose entries
    // are the number of objects.
    if let (Some(p), Some(cl), 31 | 41) = (primitive, leaf.leaf_count, el.btype) {
        if let Some(counter) = tree.leaves[cl].branch.filter(|&c| is_collection(tree, c)) {
            return Ok(ColumnType {
                primitive: p,
                layout: Layout::Counted { counter, inner },
            });
        }
    }
    let Some(primitive) = primitive.filter(|_| leaf.leaf_count.is_none()) else {
        let ty = member
            .map(|m| m.type_name.clone())
            .unwrap_or_else(|| format!("{} member (streamer type {code})", el.class_name));
        return Err(tree.unsupported(
            b,
            if leaf.leaf_count.is_some() {
                format!("{ty} in each object of a split collection")
            } else {
                ty
            },
        ));
    };
    Ok(ColumnType {
        primitive,
        layout: Layout::Fixed { inner },
    })
}

/// A split collection's own branch (a TClonesArray: btype 3; an STL container: 4): its entries
/// are the number of objects, one Int_t each.
fn is_collection(tree: &Tree, b: usize) -> bool {
    tree.branches[b]
        .element
        .as_ref()
        .is_some_and(|e| matches!(e.btype, 3 | 4))
}

/// The type a counter branch is decoded with: its own column type, or for a split
/// collection's branch (which has sub-branches and is no column itself) one Int_t per entry.
pub(crate) fn counter_type(tree: &Tree, b: usize) -> Result<ColumnType> {
    if is_collection(tree, b) {
        return Ok(ColumnType {
            primitive: Primitive::I32,
            layout: Layout::Fixed { inner: 1 },
        });
    }
    column_type(tree, b)
}

/// TStreamerInfo::kSTL: a member that is an STL container, streamed object-wise.
const STL_MEMBER: i32 = 300;

/// The element type of a `std::vector<T>` class name, spaces normalised (`unsigned int` keeps
/// its one space), or None for another class. The allocator argument old RDataFrame
/// snapshots write (`ROOT::Detail::VecOps::RAdoptAllocator<T>`), or `std::allocator<T>`, is
/// accepted when it allocates `T`.
fn vector_element(class_name: &str) -> Option<String> {
    // One space between words, none next to punctuation.
    let mut norm = String::new();
    for word in class_name.split_whitespace() {
        let joins = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        if joins(norm.chars().last()) && joins(word.chars().next()) {
            norm.push(' ');
        }
        norm.push_str(word);
    }
    let args = norm
        .strip_prefix("std::")
        .unwrap_or(&norm)
        .strip_prefix("vector<")?
        .strip_suffix('>')?;
    // Split at the first comma outside angle brackets.
    let mut depth = 0i32;
    let comma = args.char_indices().find_map(|(i, ch)| {
        match ch {
            '<' => depth += 1,
            '>' => depth -= 1,
            ',' if depth == 0 => return Some(i),
            _ => {}
        }
        None
    });
    let Some(at) = comma else {
        return Some(args.to_string());
    };
    let (elem, alloc) = (&args[..at], &args[at + 1..]);
    let alloc_of = alloc
        .strip_prefix("ROOT::Detail::VecOps::RAdoptAllocator<")
        .or_else(|| alloc.strip_prefix("std::allocator<"))
        .or_else(|| alloc.strip_prefix("allocator<"))?
        .strip_suffix('>')?;
    (alloc_of == elem).then(|| elem.to_string())
}

fn path_of(branches: &[Branch], b: usize) -> String {
    let mut parts = vec![branches[b].name.as_str()];
    let mut at = branches[b].parent;
    // A parent chain is a tree read from the file; the bound guards against a corrupt cycle.
    while let Some(p) = at.filter(|_| parts.len() <= branches.len()) {
        parts.push(branches[p].name.as_str());
        at = branches[p].parent;
    }
    parts.reverse();
    parts.join("/")
}

fn speedbump_i64s(c: &mut Cursor<'_>, n: usize) -> Result<Vec<i64>> {
    let flag = c.u8()?;
    if flag == 0 {
        return Ok(Vec::new());
    }
    let n = c.check_count(n as i64, 8, "array")?;
    (0..n).map(|_| c.i64()).collect()
}

fn speedbump_i32s(c: &mut Cursor<'_>, n: usize) -> Result<Vec<i32>> {
    let flag = c.u8()?;
    if flag == 0 {
        return Ok(Vec::new());
    }
    let n = c.check_count(n as i64, 4, "array")?;
    (0..n).map(|_| c.i32()).collect()
}

impl Builder {
    fn read(&mut self, class: &str, c: &mut Cursor<'_>, refs: &mut Refs<Obj>) -> Result<Obj> {
        match class {
            "TBranch" => self.branch(c, refs, class),
            "TBranchElement" | "TBranchObject" => self.branch_element(c, refs, class),
            "TBasket" => embedded_basket(c).map(|b| Obj::Basket(Box::new(b))),
            k if k.starts_with("TLeaf") => self.leaf(c, refs, class),
            _ => Ok(Obj::Other),
        }
    }

    fn branch(&mut self, c: &mut Cursor<'_>, refs: &mut Refs<Obj>, class: &str) -> Result<Obj> {
        let (version, end) = c.version()?;
        if !(12..=13).contains(&version) || self.force_streamers {
            let raw = self.streamed(c, refs, "TBranch", version, end, TBRANCH_MEMBERS)?;
            return self.push_branch(c, raw, class);
        }
        let (name, title) = objects::tnamed(c)?;
        objects::skip_versioned(c, "TAttFill")?;
        let compress = c.i32()?;
        let _basket_size = c.i32()?;
        let entry_offset_len = c.i32()?;
        let write_basket = c.i32()?;
        let _entry_number = c.i64()?;
        if version >= 13 {
            objects::skip_versioned(c, "TIOFeatures")?;
        }
        let _offset = c.i32()?;
        let max_baskets = c.i32()?;
        let _split = c.i32()?;
        let entries = c.i64()?;
        let _first_entry = c.i64()?;
        let tot_bytes = c.i64()?;
        let zip_bytes = c.i64()?;
        if max_baskets < 0 {
            return Err(c.error(format!("branch '{name}' has fMaxBaskets {max_baskets}")));
        }
        let children = objects::objarray(c, refs, &mut |cl, c, r| self.read(cl, c, r))?;
        let leaves = objects::objarray(c, refs, &mut |cl, c, r| self.read(cl, c, r))?;
        let baskets = objects::objarray(c, refs, &mut |cl, c, r| self.read(cl, c, r))?;
        let max = max_baskets as usize;
        let basket_bytes = speedbump_i32s(c, max)?;
        let basket_entry = speedbump_i64s(c, max)?;
        let basket_seek = speedbump_i64s(c, max)?;
        let _file_name = c.tstring()?;
        c.skip_to(end, "TBranch")?;
        let raw = RawBranch {
            name,
            title,
            compress,
            entry_offset_len,
            write_basket,
            max_baskets,
            entries,
            tot_bytes,
            zip_bytes,
            children,
            leaves,
            baskets,
            basket_bytes,
            basket_entry,
            basket_seek,
            element: None,
        };
        self.push_branch(c, raw, class)
    }

    /// Read a branch class through the file's streamer info (versions without a decoder here).
    fn streamed(
        &mut self,
        c: &mut Cursor<'_>,
        refs: &mut Refs<Obj>,
        streamer_class: &'static str,
        version: i16,
        end: Option<usize>,
        want: &[&str],
    ) -> Result<RawBranch> {
        let infos = self.infos.clone();
        let mut wanted = Wanted::new(want);
        let r = Streamed { infos: &infos }.read(
            c,
            streamer_class,
            version,
            refs,
            &mut |cl, c, r| self.read(cl, c, r),
            &mut wanted,
        );
        let m = wanted.got;
        r.map_err(|e| version_error("", streamer_class, version, &c.at_desc(c.pos()), e))
            .map_err(|e| fill_file(e, c))?;
        c.skip_to(end, streamer_class)?;
        let int = |k: &str| m.get(k).and_then(Member::int);
        let need = |k: &str| {
            int(k).ok_or_else(|| {
                c.error(format!("{streamer_class} without {k} in its streamer info"))
            })
        };
        let text = |k: &str| match m.get(k) {
            Some(Member::Str(s)) => s.clone(),
            _ => String::new(),
        };
        let objs = |k: &str| match m.get(k) {
            Some(Member::Objs(o)) => o.clone(),
            _ => Vec::new(),
        };
        let ints = |k: &str| match m.get(k) {
            Some(Member::Ints(v)) => v.clone(),
            _ => Vec::new(),
        };
        let element = m.contains_key("fClassName").then(|| ElementInfo {
            class_name: text("fClassName"),
            parent_name: text("fParentName"),
            id: int("fID").unwrap_or(-1) as i32,
            btype: int("fType").unwrap_or(0) as i32,
            streamer_type: int("fStreamerType").unwrap_or(-1) as i32,
        });
        Ok(RawBranch {
            name: text("fName"),
            title: text("fTitle"),
            compress: int("fCompress").unwrap_or(0) as i32,
            entry_offset_len: int("fEntryOffsetLen").unwrap_or(0) as i32,
            write_basket: need("fWriteBasket")? as i32,
            max_baskets: need("fMaxBaskets")? as i32,
            entries: need("fEntries")?,
            tot_bytes: int("fTotBytes").unwrap_or(0),
            zip_bytes: int("fZipBytes").unwrap_or(0),
            children: objs("fBranches"),
            leaves: objs("fLeaves"),
            baskets: objs("fBaskets"),
            basket_bytes: ints("fBasketBytes").into_iter().map(|x| x as i32).collect(),
            basket_entry: ints("fBasketEntry"),
            basket_seek: ints("fBasketSeek"),
            element,
        })
    }

    /// Check a branch's basket tables and add it to the arena.
    fn push_branch(&mut self, c: &Cursor<'_>, raw: RawBranch, class: &str) -> Result<Obj> {
        let RawBranch {
            name,
            write_basket,
            max_baskets,
            entries,
            ..
        } = &raw;
        if *write_basket < 0 || *max_baskets < 0 || *entries < 0 || write_basket > max_baskets {
            return Err(c.error(format!(
                "branch '{name}' has impossible basket counts (fWriteBasket {write_basket}, fMaxBaskets {max_baskets}, fEntries {entries})"
            )));
        }
        let wb = *write_basket as usize;
        if raw.basket_entry.len() < wb + 1 && *entries > 0
            || raw.basket_seek.len() < wb
            || raw.basket_bytes.len() < wb
        {
            return Err(c.error(format!(
                "branch '{name}': basket arrays shorter than fWriteBasket {wb}"
            )));
        }
        let mut embedded = Vec::new();
        for (i, b) in raw.baskets.into_iter().enumerate() {
            if let Some(Obj::Basket(mut e)) = b {
                e.index = i;
                embedded.push(*e);
            }
        }
        let idx = self.branches.len();
        self.branches.push(Branch {
            name: raw.name,
            title: raw.title,
            class: class.to_string(),
            compress: raw.compress,
            entry_offset_len: raw.entry_offset_len,
            write_basket: wb,
            entries: raw.entries as u64,
            basket_bytes: raw.basket_bytes,
            basket_entry: raw.basket_entry,
            basket_seek: raw.basket_seek,
            embedded,
            leaves: raw
                .leaves
                .into_iter()
                .filter_map(|o| match o {
                    Some(Obj::Leaf(i)) => Some(i),
                    _ => None,
                })
                .collect(),
            children: raw
                .children
                .into_iter()
                .filter_map(|o| match o {
                    Some(Obj::Branch(i)) => Some(i),
                    _ => None,
                })
                .collect(),
            parent: None,
            element: raw.element,
            tot_bytes: raw.tot_bytes,
            zip_bytes: raw.zip_bytes,
        });
        Ok(Obj::Branch(idx))
    }

    fn branch_element(
        &mut self,
        c: &mut Cursor<'_>,
        refs: &mut Refs<Obj>,
        class: &str,
    ) -> Result<Obj> {
        let (version, end) = c.version()?;
        if class == "TBranchObject" {
            let obj = self.branch(c, refs, class)?;
            c.skip_to(end, class)?;
            return Ok(obj);
        }
        if !(9..=10).contains(&version) || self.force_streamers {
            let want: Vec<&str> = TBRANCH_MEMBERS
                .iter()
                .chain(TBRANCHELEMENT_EXTRA)
                .copied()
                .collect();
            let raw = self.streamed(c, refs, "TBranchElement", version, end, &want)?;
            return self.push_branch(c, raw, class);
        }
        let Obj::Branch(idx) = self.branch(c, refs, class)? else {
            unreachable!("branch() returns a branch")
        };
        let class_name = c.tstring()?;
        let parent_name = c.tstring()?;
        let _clones_name = c.tstring()?;
        let _checksum = c.u32()?;
        let _class_version = if version >= 10 {
            c.i16()? as i32
        } else {
            c.i32()?
        };
        let id = c.i32()?;
        let btype = c.i32()?;
        let streamer_type = c.i32()?;
        let _maximum = c.i32()?;
        let _ = objects::read_object_any(c, refs, &mut |cl, c, r| self.read(cl, c, r))?;
        let _ = objects::read_object_any(c, refs, &mut |cl, c, r| self.read(cl, c, r))?;
        c.skip_to(end, "TBranchElement")?;
        self.branches[idx].element = Some(ElementInfo {
            class_name,
            parent_name,
            id,
            btype,
            streamer_type,
        });
        Ok(Obj::Branch(idx))
    }

    fn leaf(&mut self, c: &mut Cursor<'_>, refs: &mut Refs<Obj>, class: &str) -> Result<Obj> {
        let (outer_version, end) = c.version()?;
        let start = c.pos();
        let (version, base_end) = c.version()?;
        let leaf = if version != 2 || self.force_streamers {
            // Through the streamer info: the leaf class, whose first base is TLeaf.
            c.seek(start)?;
            let infos = self.infos.clone();
            let mut want = vec![
                "fName",
                "fTitle",
                "fLen",
                "fLenType",
                "fIsUnsigned",
                "fLeafCount",
            ];
            if class == "TLeafElement" {
                want.extend(["fID", "fType"]);
            }
            let mut wanted = Wanted::new(&want);
            let r = Streamed { infos: &infos }.read(
                c,
                class,
                outer_version,
                refs,
                &mut |cl, c, r| self.read(cl, c, r),
                &mut wanted,
            );
            let m = wanted.got;
            r.map_err(|e| version_error("", "TLeaf", version, &c.at_desc(c.pos()), e))
                .map_err(|e| fill_file(e, c))?;
            let int = |k: &str| m.get(k).and_then(Member::int);
            let text = |k: &str| match m.get(k) {
                Some(Member::Str(s)) => s.clone(),
                _ => String::new(),
            };
            Leaf {
                class: class.to_string(),
                name: text("fName"),
                title: text("fTitle"),
                len: int("fLen").unwrap_or(1) as i32,
                len_type: int("fLenType").unwrap_or(0) as i32,
                is_unsigned: int("fIsUnsigned").unwrap_or(0) != 0,
                leaf_count: match m.get("fLeafCount") {
                    Some(Member::Obj(Some(Obj::Leaf(i)))) => Some(*i),
                    // A counter we cannot resolve must not make a jagged leaf look flat.
                    Some(Member::Enclosing) => {
                        return Err(c.error("a leaf's fLeafCount points at an enclosing object"))
                    }
                    _ => None,
                },
                element_type: (class == "TLeafElement").then(|| int("fType").unwrap_or(-1) as i32),
                branch: None,
            }
        } else {
            let (name, title) = objects::tnamed(c)?;
            let len = c.i32()?;
            let len_type = c.i32()?;
            let _offset = c.i32()?;
            let _is_range = c.u8()?;
            let is_unsigned = c.u8()? != 0;
            let count = objects::read_object_any(c, refs, &mut |cl, c, r| self.read(cl, c, r))?;
            c.skip_to(base_end, "TLeaf")?;
            let element_type = if class == "TLeafElement" {
                let _id = c.i32()?;
                Some(c.i32()?)
            } else {
                None
            };
            Leaf {
                class: class.to_string(),
                name,
                title,
                len,
                len_type,
                is_unsigned,
                leaf_count: match count {
                    Ptr::Obj(Obj::Leaf(i)) => Some(i),
                    Ptr::Enclosing => {
                        return Err(c.error("a leaf's fLeafCount points at an enclosing object"))
                    }
                    _ => None,
                },
                element_type,
                branch: None,
            }
        };
        if end.is_some() {
            c.skip_to(end, class)?;
        }
        let idx = self.leaves.len();
        self.leaves.push(leaf);
        Ok(Obj::Leaf(idx))
    }
}

/// A branch's fields as read, before checks.
struct RawBranch {
    name: String,
    title: String,
    compress: i32,
    entry_offset_len: i32,
    write_basket: i32,
    max_baskets: i32,
    entries: i64,
    tot_bytes: i64,
    zip_bytes: i64,
    children: Vec<Option<Obj>>,
    leaves: Vec<Option<Obj>>,
    baskets: Vec<Option<Obj>>,
    basket_bytes: Vec<i32>,
    basket_entry: Vec<i64>,
    basket_seek: Vec<i64>,
    element: Option<ElementInfo>,
}

/// A class version neither decoded by hand nor described by the file's streamer info.
fn version_error(file: &str, class: &'static str, version: i16, at: &str, cause: Error) -> Error {
    let detail = match cause {
        Error::Malformed { what, .. } => what,
        other => other.to_string(),
    };
    Error::Version {
        file: file.to_string(),
        class,
        version,
        at: at.to_string(),
        hint: format!("no built-in decoder for it, and reading it by the file's streamer info failed: {detail}"),
    }
}

fn fill_file(e: Error, c: &Cursor<'_>) -> Error {
    match (e, c.error("")) {
        (
            Error::Version {
                class,
                version,
                at,
                hint,
                ..
            },
            Error::Malformed { file, .. },
        ) => Error::Version {
            file,
            class,
            version,
            at,
            hint,
        },
        (e, _) => e,
    }
}

/// A TBasket stored inside its TBranch: its key fields, the TBasket header, optional entry
/// offsets, a second copy of the key, then the data.
fn embedded_basket(c: &mut Cursor<'_>) -> Result<EmbeddedBasket> {
    let start = c.pos();
    let _nbytes = c.i32()?;
    let _key_version = c.i16()?;
    let _objlen = c.i32()?;
    let _datime = c.u32()?;
    let keylen = c.i16()?;
    let _cycle = c.i16()?;
    if keylen < 19 {
        return Err(c.error(format!("embedded basket with key length {keylen}")));
    }
    let keylen = keylen as usize;
    c.seek(start + keylen - 19)?;
    let _version = c.i16()?;
    let _buffer_size = c.i32()?;
    let _nev_buf_size = c.i32()?;
    let nev_buf = c.i32()?;
    let last = c.i32()?;
    let flag = c.u8()?;
    if nev_buf < 0 || (last as i64) < keylen as i64 {
        return Err(c.error(format!(
            "embedded basket with fNevBuf {nev_buf} and fLast {last}"
        )));
    }
    if flag % 10 != 2 {
        let n = c.count(4, "entry offsets")?;
        c.skip(4 * n)?;
        if flag > 40 {
            let n = c.count(4, "displacements")?;
            c.skip(4 * n)?;
        }
    }
    let data = if flag == 1 || flag > 10 {
        c.skip(keylen)?;
        c.bytes(last as usize - keylen)?.to_vec()
    } else {
        Vec::new()
    };
    Ok(EmbeddedBasket {
        index: 0,
        entries: nev_buf as usize,
        data: Arc::new(data),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_element_types_keep_their_spaces_and_drop_known_allocators() {
        let cases = [
            ("vector<unsigned int>", Some("unsigned int")),
            ("std::vector<unsigned  short >", Some("unsigned short")),
            ("vector<float>", Some("float")),
            (
                "vector<double,ROOT::Detail::VecOps::RAdoptAllocator<double> >",
                Some("double"),
            ),
            ("vector<int, std::allocator<int>>", Some("int")),
            (
                "vector<int,ROOT::Detail::VecOps::RAdoptAllocator<float> >",
                None,
            ),
            ("vector<vector<int> >", Some("vector<int>")),
            ("TLorentzVector", None),
        ];
        for (class, want) in cases {
            assert_eq!(vector_element(class).as_deref(), want, "{class}");
        }
    }
}
