//! The content-addressed audio cache: one file per (text, voice, settings,
//! format), named by a hash of them, under one folder, with a size cap
//! (least recently used entries go first) and an expiry.
//!
//! The index lives in memory and is rebuilt from the folder at start
//! (file modification time = creation; last use starts there too).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::audio::AudioFormat;
use crate::error::Result;

/// What the cache knows of one entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CachedAudio {
    pub id: String,
    pub format: AudioFormat,
    pub duration_secs: f64,
    pub characters: usize,
    pub bytes: u64,
    /// Who made it (an organisation id): others are not shown it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

#[derive(Debug)]
struct Entry {
    meta: CachedAudio,
    created: SystemTime,
    last_used: SystemTime,
}

/// A folder of cached audio files.
#[derive(Debug)]
pub struct AudioCache {
    dir: PathBuf,
    max_bytes: u64,
    ttl: Duration,
    index: Mutex<Index>,
}

#[derive(Debug, Default)]
struct Index {
    entries: HashMap<String, Entry>,
    total: u64,
}

/// The id of a piece of audio: a hash of everything that shapes it.
pub fn audio_id(text: &str, voice: &str, settings: &serde_json::Value, format: AudioFormat) -> String {
    let key = serde_json::json!({"t": text, "v": voice, "s": settings, "f": format.as_str()});
    let digest = Sha256::digest(key.to_string().as_bytes());
    format!("aud_{}", hex::encode(&digest[..16]))
}

/// True for ids this cache could have made (so a path built from one
/// cannot leave the folder).
pub fn valid_id(id: &str) -> bool {
    id.len() == 36 && id.starts_with("aud_") && id[4..].bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
}

impl AudioCache {
    /// Opens (creating) the folder and indexes what is in it; expired and
    /// half-written files are removed.
    pub fn open(dir: impl Into<PathBuf>, max_bytes: u64, ttl: Duration) -> Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        let cache = Self {
            dir,
            max_bytes,
            ttl,
            index: Mutex::new(Index::default()),
        };
        cache.rescan()?;
        Ok(cache)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn rescan(&self) -> Result<()> {
        let now = SystemTime::now();
        let mut index = Index::default();
        for item in std::fs::read_dir(&self.dir)? {
            let path = item?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if name.ends_with(".tmp") {
                let _ = std::fs::remove_file(&path);
                continue;
            }
            let Some(id) = name.strip_suffix(".json") else { continue };
            let meta: Option<CachedAudio> = std::fs::read(&path).ok().and_then(|b| serde_json::from_slice(&b).ok());
            let created = std::fs::metadata(&path).and_then(|m| m.modified()).unwrap_or(now);
            match meta {
                Some(meta) if meta.id == id && self.audio_path(&meta).exists() && !self.expired(created, now) => {
                    index.total += meta.bytes;
                    index.entries.insert(
                        meta.id.clone(),
                        Entry {
                            meta,
                            created,
                            last_used: created,
                        },
                    );
                }
                Some(meta) => self.remove_files(&meta),
                None => {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        *self.index.lock().expect("cache index") = index;
        self.evict();
        Ok(())
    }

    fn expired(&self, created: SystemTime, now: SystemTime) -> bool {
        now.duration_since(created).unwrap_or_default() >= self.ttl
    }

    fn audio_path(&self, meta: &CachedAudio) -> PathBuf {
        self.dir.join(format!("{}.{}", meta.id, meta.format.extension()))
    }

    fn remove_files(&self, meta: &CachedAudio) {
        let _ = std::fs::remove_file(self.audio_path(meta));
        let _ = std::fs::remove_file(self.dir.join(format!("{}.json", meta.id)));
    }

    /// The entry and its file when present and not expired; marks it used.
    pub fn get(&self, id: &str) -> Option<(CachedAudio, PathBuf)> {
        if !valid_id(id) {
            return None;
        }
        let now = SystemTime::now();
        let mut index = self.index.lock().expect("cache index");
        let entry = index.entries.get_mut(id)?;
        if self.expired(entry.created, now) {
            let e = index.entries.remove(id)?;
            index.total -= e.meta.bytes;
            drop(index);
            self.remove_files(&e.meta);
            return None;
        }
        entry.last_used = now;
        let meta = entry.meta.clone();
        drop(index);
        let path = self.audio_path(&meta);
        path.exists().then_some((meta, path))
    }

    /// Stores audio bytes (written to a temporary file, then renamed, so a
    /// reader never sees half a file) and evicts past the size cap.
    pub fn put(&self, meta: CachedAudio, bytes: &[u8]) -> Result<PathBuf> {
        let meta = CachedAudio {
            bytes: bytes.len() as u64,
            ..meta
        };
        let path = self.audio_path(&meta);
        let tmp = self.dir.join(format!("{}.{}.tmp", meta.id, std::process::id()));
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, &path)?;
        let meta_path = self.dir.join(format!("{}.json", meta.id));
        let tmp = self.dir.join(format!("{}.json.{}.tmp", meta.id, std::process::id()));
        std::fs::write(&tmp, serde_json::to_vec(&meta).expect("plain struct"))?;
        std::fs::rename(&tmp, &meta_path)?;
        let now = SystemTime::now();
        {
            let mut index = self.index.lock().expect("cache index");
            let size = meta.bytes;
            if let Some(old) = index.entries.insert(
                meta.id.clone(),
                Entry {
                    meta,
                    created: now,
                    last_used: now,
                },
            ) {
                index.total -= old.meta.bytes;
            }
            index.total += size;
        }
        self.evict();
        Ok(path)
    }

    /// Removes expired entries, then least recently used ones until the
    /// total is under the cap.
    pub fn evict(&self) {
        let now = SystemTime::now();
        let mut gone = Vec::new();
        {
            let mut index = self.index.lock().expect("cache index");
            let expired: Vec<String> = index
                .entries
                .iter()
                .filter(|(_, e)| self.expired(e.created, now))
                .map(|(k, _)| k.clone())
                .collect();
            for id in expired {
                if let Some(e) = index.entries.remove(&id) {
                    index.total -= e.meta.bytes;
                    gone.push(e.meta);
                }
            }
            if index.total > self.max_bytes {
                let mut by_use: Vec<(SystemTime, String)> = index.entries.iter().map(|(k, e)| (e.last_used, k.clone())).collect();
                by_use.sort();
                for (_, id) in by_use {
                    if index.total <= self.max_bytes {
                        break;
                    }
                    if let Some(e) = index.entries.remove(&id) {
                        index.total -= e.meta.bytes;
                        gone.push(e.meta);
                    }
                }
            }
        }
        for meta in gone {
            self.remove_files(&meta);
        }
    }

    /// Bytes held now.
    pub fn total_bytes(&self) -> u64 {
        self.index.lock().expect("cache index").total
    }

    pub fn len(&self) -> usize {
        self.index.lock().expect("cache index").entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(id: &str) -> CachedAudio {
        CachedAudio {
            id: id.into(),
            format: AudioFormat::Wav,
            duration_secs: 1.0,
            characters: 5,
            bytes: 0,
            owner: None,
        }
    }

    fn id(n: u8) -> String {
        audio_id(&format!("text {n}"), "v", &serde_json::json!({}), AudioFormat::Wav)
    }

    #[test]
    fn ids_are_stable_and_distinct() {
        let a = audio_id("hi", "v1", &serde_json::json!({"speed": 1.0}), AudioFormat::Wav);
        assert_eq!(a, audio_id("hi", "v1", &serde_json::json!({"speed": 1.0}), AudioFormat::Wav));
        assert_ne!(a, audio_id("hi", "v1", &serde_json::json!({"speed": 1.1}), AudioFormat::Wav));
        assert_ne!(a, audio_id("hi", "v1", &serde_json::json!({"speed": 1.0}), AudioFormat::Ulaw));
        assert_ne!(a, audio_id("hi", "v2", &serde_json::json!({"speed": 1.0}), AudioFormat::Wav));
        assert!(valid_id(&a));
        assert!(!valid_id("aud_../../etc/passwd"));
    }

    #[test]
    fn evicts_least_recently_used_past_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let cache = AudioCache::open(dir.path(), 250, Duration::from_secs(3600)).unwrap();
        cache.put(meta(&id(1)), &[0u8; 100]).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        cache.put(meta(&id(2)), &[0u8; 100]).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        assert!(cache.get(&id(1)).is_some()); // 1 is now the most recently used
        std::thread::sleep(Duration::from_millis(5));
        cache.put(meta(&id(3)), &[0u8; 100]).unwrap();
        assert!(cache.get(&id(2)).is_none(), "the least recently used entry goes");
        assert!(cache.get(&id(1)).is_some());
        assert!(cache.get(&id(3)).is_some());
        assert_eq!(cache.total_bytes(), 200);
        assert!(!dir.path().join(format!("{}.wav", id(2))).exists(), "its file is gone");
        // Reopening finds what is on disk.
        drop(cache);
        let cache = AudioCache::open(dir.path(), 250, Duration::from_secs(3600)).unwrap();
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.total_bytes(), 200);
    }

    #[test]
    fn entries_expire() {
        let dir = tempfile::tempdir().unwrap();
        let cache = AudioCache::open(dir.path(), 1 << 20, Duration::from_millis(30)).unwrap();
        cache.put(meta(&id(1)), b"abc").unwrap();
        assert!(cache.get(&id(1)).is_some());
        std::thread::sleep(Duration::from_millis(40));
        assert!(cache.get(&id(1)).is_none());
        assert!(!dir.path().join(format!("{}.wav", id(1))).exists());
        assert_eq!(cache.total_bytes(), 0);
    }
}
