//! ROOT's object serialisation: version headers, TObject/TNamed, TObjArray and the tagged
//! pointers (`ReadObjectAny`) through which classes and shared objects are referenced by their
//! position in the buffer.

use std::collections::{HashMap, HashSet};

use crate::cursor::{Cursor, BYTE_COUNT_MASK, CLASS_MASK, MAP_OFFSET, NEW_CLASS_TAG};
use crate::error::Result;

/// The bit of TObject::fBits that says a process id follows.
const IS_REFERENCED: u32 = 1 << 4;

/// Per-buffer tables for class and object references.
#[derive(Default)]
pub(crate) struct Refs<T: Clone> {
    classes: HashMap<u32, String>,
    objects: HashMap<u32, T>,
    /// Objects whose members are being read: ROOT registers an object before streaming its
    /// members, so a member may point back at it (a sub-branch's fBranchCount at its parent).
    reading: HashSet<u32>,
}

impl<T: Clone> Refs<T> {
    pub fn new() -> Self {
        Refs {
            classes: HashMap::new(),
            objects: HashMap::new(),
            reading: HashSet::new(),
        }
    }
}

pub(crate) fn tobject(c: &mut Cursor<'_>) -> Result<()> {
    let (_v, end) = c.version()?;
    if let Some(end) = end {
        // Written with a byte count (rare for TObject): trust it.
        c.seek(end)?;
        return Ok(());
    }
    let _unique_id = c.u32()?;
    let bits = c.u32()?;
    if bits & IS_REFERENCED != 0 {
        c.skip(2)?;
    }
    Ok(())
}

/// TNamed: returns (name, title).
pub(crate) fn tnamed(c: &mut Cursor<'_>) -> Result<(String, String)> {
    let (_v, end) = c.version()?;
    tobject(c)?;
    let name = c.tstring()?;
    let title = c.tstring()?;
    if end.is_some() {
        c.skip_to(end, "TNamed")?;
    }
    Ok((name, title))
}

/// Skip a versioned object that carries a byte count (TAttLine, TIOFeatures, ...).
pub(crate) fn skip_versioned(c: &mut Cursor<'_>, class: &str) -> Result<()> {
    let (_v, end) = c.version()?;
    c.skip_to(end, class)
}

/// The caller's reader for one object: given the class name, consume the members and say what
/// the object is.
pub(crate) type ReadFn<'r, T> = dyn FnMut(&str, &mut Cursor<'_>, &mut Refs<T>) -> Result<T> + 'r;

/// What a tagged pointer resolved to.
pub(crate) enum Ptr<T> {
    Null,
    /// An object read (now or earlier) and turned into `T` by the caller's reader.
    Obj(T),
    /// A reference to an object that encloses this one and is still being read, so it has no
    /// `T` yet.
    Enclosing,
}

/// Read a tagged pointer. `read` is called with the class name for a new object and must
/// consume its members; the object's byte count then positions the cursor after it, so
/// classes `read` does not understand are skipped whole.
pub(crate) fn read_object_any<T: Clone>(
    c: &mut Cursor<'_>,
    refs: &mut Refs<T>,
    read: &mut ReadFn<'_, T>,
) -> Result<Ptr<T>> {
    let beg = c.ref_pos() as u32;
    let start_pos = c.pos();
    let bcnt = c.u32()?;
    let (tag, end, start) = if bcnt & BYTE_COUNT_MASK == 0 || bcnt == NEW_CLASS_TAG {
        (bcnt, None, 0)
    } else {
        let end = start_pos + 4 + (bcnt & !BYTE_COUNT_MASK) as usize;
        if end > c.len() {
            return Err(c.error(format!(
                "object byte count {} runs past the end of the buffer",
                bcnt & !BYTE_COUNT_MASK
            )));
        }
        let start = c.ref_pos() as u32;
        (c.u32()?, Some(end), start)
    };
    if tag & CLASS_MASK == 0 {
        // A reference to an object already read (or null).
        if tag == 0 {
            return Ok(Ptr::Null);
        }
        return match refs.objects.get(&tag) {
            Some(o) => Ok(Ptr::Obj(o.clone())),
            None if refs.reading.contains(&tag) => Ok(Ptr::Enclosing),
            None => Err(c.error(format!("reference to unknown object (tag {tag})"))),
        };
    }
    let class = if tag == NEW_CLASS_TAG {
        let name = c.cstring()?;
        if end.is_some() {
            refs.classes.insert(start + MAP_OFFSET, name.clone());
        }
        name
    } else {
        let r = tag & !CLASS_MASK;
        match refs.classes.get(&r) {
            Some(n) => n.clone(),
            None => return Err(c.error(format!("reference to unknown class (tag {r})"))),
        }
    };
    let tag = beg + MAP_OFFSET;
    if end.is_some() {
        refs.reading.insert(tag);
    }
    let obj = read(&class, c, refs);
    refs.reading.remove(&tag);
    let obj = obj?;
    if let Some(end) = end {
        if c.pos() > end {
            return Err(c.error(format!("{class} object read past its byte count")));
        }
        c.seek(end)?;
        refs.objects.insert(tag, obj.clone());
    }
    Ok(Ptr::Obj(obj))
}

/// A TObjArray of tagged pointers.
pub(crate) fn objarray<T: Clone>(
    c: &mut Cursor<'_>,
    refs: &mut Refs<T>,
    read: &mut ReadFn<'_, T>,
) -> Result<Vec<Option<T>>> {
    collection(c, refs, read, false)
}

/// A TList: like a TObjArray without the lower bound, and each entry followed by an option
/// string.
pub(crate) fn tlist<T: Clone>(
    c: &mut Cursor<'_>,
    refs: &mut Refs<T>,
    read: &mut ReadFn<'_, T>,
) -> Result<Vec<Option<T>>> {
    collection(c, refs, read, true)
}

fn collection<T: Clone>(
    c: &mut Cursor<'_>,
    refs: &mut Refs<T>,
    read: &mut ReadFn<'_, T>,
    is_list: bool,
) -> Result<Vec<Option<T>>> {
    let (_v, end) = c.version()?;
    tobject(c)?;
    let _name = c.tstring()?;
    let n = c.count(if is_list { 5 } else { 4 }, "collection size")?;
    if !is_list {
        let _lower_bound = c.i32()?;
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(match read_object_any(c, refs, read)? {
            Ptr::Null => None,
            Ptr::Obj(o) => Some(o),
            Ptr::Enclosing => {
                return Err(c.error("a collection holds an object that encloses it"));
            }
        });
        if is_list {
            let _option = c.tstring()?;
        }
    }
    if end.is_some() {
        c.skip_to(end, if is_list { "TList" } else { "TObjArray" })?;
    }
    Ok(out)
}
