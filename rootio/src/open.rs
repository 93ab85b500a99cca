//! Opening an event source by name: the one place that knows which ROOT class is read by which
//! model (uproot picks the model from the key's class name the same way): a TTree (`tree` +
//! `read`) or an RNTuple (`ntuple` + `ntuple_read`); anything else is "not a TTree/RNTuple".

use crate::error::{Error, Result};
use crate::event::EventSource;
use crate::file::{Key, RootFile};
use crate::tree::TREE_CLASSES;

/// RNTuple anchors: `ROOT::RNTuple` since ROOT 6.34, `ROOT::Experimental::RNTuple` before
/// (whose epoch-0 format the model refuses by version).
pub(crate) fn is_rntuple(class: &str) -> bool {
    class == "ROOT::RNTuple" || class == "ROOT::Experimental::RNTuple"
}

/// Open the event source stored under `path` (`Events`, `dir/tree`, `tree;2`), whatever its
/// format.
pub fn open_event_source(file: &RootFile, path: &str) -> Result<Box<dyn EventSource>> {
    let key = file.key(path)?;
    let class = key.class.as_str();
    if TREE_CLASSES.contains(&class) {
        return Ok(Box::new(file.tree_at(path, &key, false)?));
    }
    if is_rntuple(class) {
        return Ok(Box::new(file.ntuple_at(path, &key)?));
    }
    Err(Error::WrongClass {
        file: file.name().to_string(),
        name: path.to_string(),
        class: key.class.clone(),
        expected: "TTree/RNTuple",
    })
}

/// The event sources in a file, depth first through its directories, with their keys: the
/// objects [`open_event_source`] opens.
pub fn event_sources(file: &RootFile) -> Result<Vec<(String, Key)>> {
    Ok(file
        .walk()?
        .into_iter()
        .filter(|(_, k)| TREE_CLASSES.contains(&k.class.as_str()) || is_rntuple(&k.class))
        .collect())
}
