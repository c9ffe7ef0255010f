//! Text in any script. egui's own fonts cover Latin, Greek and Cyrillic; for any other character
//! (a Chinese key or file name), the first installed font that has it is loaded when it is first
//! drawn. The font folders are scanned on a background thread from start-up, so that costs the
//! first frame nothing; a character drawn before the scan is done waits for it, once.

use std::sync::{Arc, OnceLock};

use egui::{FallbackRequest, FontData, FontFamily, FontInsert, FontPriority, InsertFontFamily};

/// Tried first, so Chinese text gets a Chinese font (and not, say, a Japanese one that lacks
/// some simplified characters): the usual ones on Linux, Windows and macOS.
const PREFERRED_FAMILIES: &[&str] = &[
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Microsoft YaHei",
    "PingFang SC",
    "Hiragino Sans GB",
    "Noto Sans CJK JP",
    "Droid Sans Fallback",
];

/// Finds installed fonts for characters the egui fonts lack.
pub struct SystemFonts {
    database: Arc<OnceLock<fontdb::Database>>,
}

impl SystemFonts {
    /// Starts scanning the font folders on a background thread.
    pub fn start_scanning() -> Self {
        let database = Arc::new(OnceLock::new());
        let scanning = Arc::clone(&database);
        let spawned = std::thread::Builder::new()
            .name("shmimage-fonts".to_owned())
            .spawn(move || {
                scanning.get_or_init(scan);
            });
        if let Err(err) = spawned {
            log::warn!("cannot scan the system fonts in the background ({err}); will on first use");
        }
        Self { database }
    }
}

fn scan() -> fontdb::Database {
    let started = std::time::Instant::now();
    let mut database = fontdb::Database::new();
    database.load_system_fonts();
    log::info!(
        "found {} system font faces in {:.1} ms",
        database.len(),
        started.elapsed().as_secs_f64() * 1e3
    );
    database
}

impl egui::FontProvider for SystemFonts {
    fn font_for(&self, request: &FallbackRequest<'_>) -> Option<FontInsert> {
        let character = request.cluster.chars().next()?;
        // Waits for the background scan if it is not done (or scans here if it could not start).
        let database = self.database.get_or_init(scan);
        let is_preferred = |face: &fontdb::FaceInfo| {
            face.families
                .iter()
                .any(|(name, _)| PREFERRED_FAMILIES.contains(&name.as_str()))
        };
        let (preferred, others): (Vec<_>, Vec<_>) = database.faces().partition(|f| is_preferred(f));
        let face = preferred
            .into_iter()
            .chain(others)
            .find(|face| has_glyph(database, face.id, character))?;
        let name = face
            .families
            .first()
            .map_or_else(|| face.post_script_name.clone(), |(name, _)| name.clone());
        let (bytes, index) =
            database.with_face_data(face.id, |data, index| (data.to_vec(), index))?;
        log::info!("drawing {character:?} with the system font {name}");
        let mut data = FontData::from_owned(bytes);
        data.index = index;
        let families = [FontFamily::Proportional, FontFamily::Monospace]
            .into_iter()
            .chain([request.family.clone()])
            .map(|family| InsertFontFamily {
                family,
                priority: FontPriority::Lowest,
            })
            .collect();
        Some(FontInsert::new(&format!("system: {name}"), data, families))
    }
}

fn has_glyph(database: &fontdb::Database, id: fontdb::ID, character: char) -> bool {
    use skrifa::MetadataProvider;
    database
        .with_face_data(id, |data, index| {
            skrifa::FontRef::from_index(data, index)
                .is_ok_and(|font| font.charmap().map(character).is_some())
        })
        .unwrap_or(false)
}
