//! A user's service selection (`inputs::ServiceSelection`, the grammar of
//! what was typed) resolved against the services the manifest declares: the
//! one place a name is checked, so `inputs` needs no manifest.

use super::Manifest;
use crate::inputs::ServiceSelection;
use crate::text::quote;

impl ServiceSelection {
    /// The manifest's names of the selection, in the order given (`All`:
    /// the manifest's order); an unknown name is refused, with the names
    /// the manifest declares.
    pub fn resolve(&self, manifest: &Manifest) -> Result<Vec<String>, String> {
        match self {
            Self::All => Ok(manifest.services.keys().cloned().collect()),
            Self::Named(names) => {
                if let Some(unknown) = names.iter().find(|n| !manifest.services.contains_key(*n)) {
                    let declared: Vec<&str> =
                        manifest.services.keys().map(String::as_str).collect();
                    return Err(format!(
                        "unknown service {}: {} declares {}",
                        quote(unknown),
                        manifest.file.display(),
                        declared.join(", ")
                    ));
                }
                Ok(names.clone())
            }
        }
    }
}
