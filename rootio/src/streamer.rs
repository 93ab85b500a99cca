//! The TStreamerInfo list: which classes (and which versions of them) wrote the file, and the
//! members of each. The reader uses it to describe a file and to find the range of
//! Double32_t/Float16_t members, which lives in the member's title.

use crate::cursor::{Cursor, Origin};
use crate::error::Result;
use crate::objects::{self, Ptr, Refs};

/// One class as the file describes it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StreamerInfo {
    pub class: String,
    pub version: i32,
    pub checksum: u32,
    pub elements: Vec<StreamerElement>,
}

/// One member of a class.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StreamerElement {
    pub name: String,
    pub title: String,
    /// ROOT's type code (TStreamerInfo::EReadWrite), e.g. 5 for float, 9 for Double32_t.
    pub type_code: i32,
    pub type_name: String,
    pub array_length: i32,
}

#[derive(Clone)]
enum Item {
    Info(Box<StreamerInfo>),
    Element(Box<StreamerElement>),
    Array(Vec<Item>),
    Other,
}

pub(crate) fn parse_list(bytes: &[u8], keylen: usize, file: &str) -> Result<Vec<StreamerInfo>> {
    let mut c = Cursor::new(
        bytes,
        Origin {
            file,
            what: "streamer info list",
            file_offset: None,
        },
    )
    .with_displacement(keylen);
    let mut refs = Refs::new();
    let items = objects::tlist(&mut c, &mut refs, &mut read_item)?;
    Ok(items
        .into_iter()
        .filter_map(|i| match i {
            Some(Item::Info(s)) => Some(*s),
            _ => None,
        })
        .collect())
}

fn read_item(class: &str, c: &mut Cursor<'_>, refs: &mut Refs<Item>) -> Result<Item> {
    match class {
        "TStreamerInfo" => {
            let (_v, end) = c.version()?;
            let (name, _title) = objects::tnamed(c)?;
            let checksum = c.u32()?;
            let version = c.i32()?;
            // fElements is a pointer to a TObjArray.
            let elements = match objects::read_object_any(c, refs, &mut read_item)? {
                Ptr::Obj(Item::Array(items)) => items
                    .into_iter()
                    .filter_map(|e| match e {
                        Item::Element(e) => Some(*e),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            c.skip_to(end, "TStreamerInfo")?;
            Ok(Item::Info(Box::new(StreamerInfo {
                class: name,
                version,
                checksum,
                elements,
            })))
        }
        k if k.starts_with("TStreamer") => {
            // Every TStreamerXxx starts with its TStreamerElement base; the rest is skipped by
            // the object's byte count.
            let (_v, _end) = c.version()?;
            if k == "TStreamerSTLstring" {
                // Derives from TStreamerSTL, which derives from TStreamerElement: one more
                // version header before the element's (ATLAS xAOD files have these).
                c.version()?;
            }
            let (_bv, bend) = c.version()?;
            let (name, title) = objects::tnamed(c)?;
            let type_code = c.i32()?;
            let _size = c.i32()?;
            let array_length = c.i32()?;
            let _array_dim = c.i32()?;
            c.skip(20)?; // fMaxIndex[5]
            let type_name = c.tstring()?;
            c.skip_to(bend, "TStreamerElement")?;
            Ok(Item::Element(Box::new(StreamerElement {
                name,
                title,
                type_code,
                type_name,
                array_length,
            })))
        }
        "TObjArray" => Ok(Item::Array(
            objects::objarray(c, refs, &mut read_item)?
                .into_iter()
                .flatten()
                .collect(),
        )),
        _ => Ok(Item::Other),
    }
}
