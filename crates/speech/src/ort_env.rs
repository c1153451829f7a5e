//! The ONNX Runtime environment, loaded once per process from the shared
//! library the settings (or `ORT_DYLIB_PATH`) name. Nothing is downloaded
//! at build time; without the library the engines that need it report
//! `NotInstalled`.

use std::path::PathBuf;
use std::sync::OnceLock;

use ort::environment::Environment;

use crate::error::{Result, SpeechError};
use crate::settings::SpeechSettings;

static ENV: OnceLock<std::result::Result<Environment, String>> = OnceLock::new();

/// The library path: `ORT_DYLIB_PATH` when set, else `[speech] ort_library`.
pub(crate) fn library_path(settings: &SpeechSettings) -> Option<PathBuf> {
    std::env::var_os("ORT_DYLIB_PATH")
        .map(PathBuf::from)
        .or_else(|| settings.ort_library.clone())
}

/// The environment, loading the library on first use. A process can load
/// only one ONNX Runtime library; later calls get the first outcome.
pub(crate) fn environment(settings: &SpeechSettings, engine: &'static str) -> Result<&'static Environment> {
    let result = ENV.get_or_init(|| {
        let path = library_path(settings).ok_or("no ONNX Runtime library configured ([speech] ort_library or ORT_DYLIB_PATH)")?;
        if !path.is_file() {
            return Err(format!(
                "ONNX Runtime library {} not found (run scripts/install-speech)",
                path.display()
            ));
        }
        ort::init_from(&path)
            .map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", path.display()))?
            .with_name("switchboard-speech")
            .build()
            .map_err(|e| format!("ONNX Runtime: {e}"))
    });
    result.as_ref().map_err(|e| SpeechError::not_installed(engine, e.clone()))
}
