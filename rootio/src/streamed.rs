//! Reading an object by its streamer info, for class versions the hand-written decoders in
//! `tree` do not know. The file describes each class it wrote (TStreamerInfo): bases, basic
//! members, arrays with counters, embedded objects and pointers. Walking that description
//! gives the members we need by name, whatever version wrote them.

use std::collections::HashMap;

use crate::cursor::Cursor;
use crate::error::Result;
use crate::objects::{self, Ptr, ReadFn, Refs};
use crate::streamer::StreamerInfo;

/// One member's value.
#[derive(Clone)]
pub(crate) enum Member<T> {
    Int(i64),
    Float(f64),
    Str(String),
    Ints(Vec<i64>),
    // Float arrays are read to move past them; no member we use is one.
    #[allow(dead_code)]
    Floats(Vec<f64>),
    Obj(Option<T>),
    /// A pointer back to an object still being read (see `objects::Ptr::Enclosing`).
    Enclosing,
    Objs(Vec<Option<T>>),
}

impl<T> Member<T> {
    pub fn int(&self) -> Option<i64> {
        match self {
            Member::Int(v) => Some(*v),
            _ => None,
        }
    }
}

/// The members asked for, and those read so far.
pub(crate) struct Wanted<'w, T> {
    pub names: &'w [&'w str],
    pub got: HashMap<String, Member<T>>,
}

impl<'w, T> Wanted<'w, T> {
    pub fn new(names: &'w [&'w str]) -> Self {
        Wanted {
            names,
            got: HashMap::new(),
        }
    }

    fn complete(&self) -> bool {
        self.names.iter().all(|w| self.got.contains_key(*w))
    }
}

pub(crate) struct Streamed<'i> {
    pub infos: &'i [StreamerInfo],
}

impl Streamed<'_> {
    fn info(&self, class: &str, version: i16) -> Option<&StreamerInfo> {
        self.infos
            .iter()
            .find(|s| s.class == class && s.version == version as i32)
            .or_else(|| {
                // Some writers record a class once; take its only description.
                let mut it = self.infos.iter().filter(|s| s.class == class);
                match (it.next(), it.next()) {
                    (Some(s), None) => Some(s),
                    _ => None,
                }
            })
    }

    /// Read the members of `class` (its version header already consumed) into `out`, stopping
    /// as soon as every name in `want` is present. Returns whether it stopped early; the
    /// caller then skips the rest of the object by its byte count.
    pub fn read<T: Clone>(
        &self,
        c: &mut Cursor<'_>,
        class: &str,
        version: i16,
        refs: &mut Refs<T>,
        read: &mut ReadFn<'_, T>,
        wanted: &mut Wanted<'_, T>,
    ) -> Result<bool> {
        let Some(info) = self.info(class, version) else {
            return Err(c.error(format!(
                "the file has no streamer info for {class} version {version}"
            )));
        };
        for el in &info.elements {
            if wanted.complete() {
                return Ok(true);
            }
            let t = el.type_code;
            let value: Option<Member<T>> = match t {
                0 => {
                    // A base class, with its own version header.
                    if el.name == "TObject" {
                        objects::tobject(c)?;
                    } else if el.name == "TNamed" {
                        // Not always described in the file; its layout never changed.
                        let (name, title) = objects::tnamed(c)?;
                        wanted.got.insert("fName".into(), Member::Str(name));
                        wanted.got.insert("fTitle".into(), Member::Str(title));
                    } else {
                        let (v, end) = c.version()?;
                        if self.info(&el.name, v).is_some() {
                            if self.read(c, &el.name, v, refs, read, wanted)? {
                                // Everything wanted was in the base: the caller skips the
                                // whole object by its byte count.
                                return Ok(true);
                            }
                            if end.is_some() {
                                c.skip_to(end, &el.name)?;
                            }
                        } else {
                            c.skip_to(end, &el.name)?;
                        }
                    }
                    None
                }
                1..=19 => Some(basic(c, t, &el.title)?),
                21..=39 => {
                    let n = usize::try_from(el.array_length).unwrap_or(0);
                    Some(array(c, t - 20, n, &el.title)?)
                }
                41..=59 => {
                    // A pointer to an array whose length is another member: `[fN]`.
                    let flag = c.u8()?;
                    if flag == 0 {
                        Some(Member::Ints(Vec::new()))
                    } else {
                        let counter = el
                            .title
                            .split('[')
                            .nth(1)
                            .and_then(|s| s.split(']').next())
                            .unwrap_or("");
                        let n = wanted
                            .got
                            .get(counter)
                            .and_then(Member::int)
                            .ok_or_else(|| {
                                c.error(format!(
                                    "{class}::{} counts with '{counter}', which was not read",
                                    el.name
                                ))
                            })?;
                        let n = c.check_count(n, 1, &el.name)?;
                        Some(array(c, t - 40, n, &el.title)?)
                    }
                }
                61 | 62 => Some(self.object(c, &el.type_name, refs, read)?),
                63 | 64 | 68 | 69 => Some(match objects::read_object_any(c, refs, read)? {
                    Ptr::Null => Member::Obj(None),
                    Ptr::Obj(o) => Member::Obj(Some(o)),
                    Ptr::Enclosing => Member::Enclosing,
                }),
                65 => Some(Member::Str(c.tstring()?)),
                66 => {
                    objects::tobject(c)?;
                    None
                }
                67 => {
                    // A TNamed base (ROOT marks TObject/TNamed bases with their own codes).
                    let (name, title) = objects::tnamed(c)?;
                    wanted.got.insert("fName".into(), Member::Str(name));
                    wanted.got.insert("fTitle".into(), Member::Str(title));
                    None
                }
                other => {
                    return Err(c.error(format!(
                        "{class}::{} has streamer type {other} ({}), which this reader cannot skip",
                        el.name, el.type_name
                    )))
                }
            };
            if let Some(v) = value {
                wanted.got.insert(el.name.clone(), v);
            }
        }
        Ok(false)
    }

    fn object<T: Clone>(
        &self,
        c: &mut Cursor<'_>,
        class: &str,
        refs: &mut Refs<T>,
        read: &mut ReadFn<'_, T>,
    ) -> Result<Member<T>> {
        match class {
            "TObjArray" => Ok(Member::Objs(objects::objarray(c, refs, read)?)),
            "TList" => Ok(Member::Objs(objects::tlist(c, refs, read)?)),
            "TString" => Ok(Member::Str(c.tstring()?)),
            // TArray* stream as a length and the values, without a version header.
            "TArrayD" | "TArrayF" | "TArrayI" | "TArrayL" | "TArrayL64" | "TArrayS" | "TArrayC" => {
                let code = match class {
                    "TArrayD" => 8,
                    "TArrayF" => 5,
                    "TArrayI" => 3,
                    "TArrayL" | "TArrayL64" => 16,
                    "TArrayS" => 2,
                    _ => 1,
                };
                let n = c.count(1, class)?;
                array(c, code, n, "")
            }
            _ => {
                let (_v, end) = c.version()?;
                c.skip_to(end, class)?;
                Ok(Member::Objs(Vec::new()))
            }
        }
    }
}

fn basic<T>(c: &mut Cursor<'_>, t: i32, title: &str) -> Result<Member<T>> {
    Ok(match t {
        9 | 19 => {
            // Double32_t / Float16_t: packed as the member's title says.
            let p = crate::types::parse_packing(title, t == 19);
            Member::Float(crate::types::unpack(p, c.bytes(p.width())?))
        }
        1 => Member::Int(c.u8()? as i8 as i64),
        11 | 18 => Member::Int(c.u8()? as i64),
        2 => Member::Int(c.i16()? as i64),
        12 => Member::Int(c.i16()? as u16 as i64),
        3 | 6 => Member::Int(c.i32()? as i64),
        13 | 15 => Member::Int(c.u32()? as i64),
        4 | 16 | 14 | 17 => Member::Int(c.i64()?),
        5 => Member::Float(f32::from_bits(c.u32()?) as f64),
        8 => Member::Float(c.f64()?),
        other => return Err(c.error(format!("basic streamer type {other} is not supported"))),
    })
}

fn array<T>(c: &mut Cursor<'_>, t: i32, n: usize, title: &str) -> Result<Member<T>> {
    let width = match t {
        1 | 11 | 18 => 1,
        2 | 12 => 2,
        9 | 19 => crate::types::parse_packing(title, t == 19).width(),
        3 | 5 | 6 | 13 | 15 => 4,
        _ => 8,
    };
    c.check_count(n as i64, width, "array")?;
    let mut ints = Vec::new();
    let mut floats = Vec::new();
    for _ in 0..n {
        match basic::<T>(c, t, title)? {
            Member::Int(v) => ints.push(v),
            Member::Float(v) => floats.push(v),
            _ => unreachable!("basic() gives numbers"),
        }
    }
    Ok(if floats.is_empty() {
        Member::Ints(ints)
    } else {
        Member::Floats(floats)
    })
}
