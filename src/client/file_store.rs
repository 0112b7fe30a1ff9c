//! [`FileStore`]: a [`SessionStore`] in a host file, safe against a crash or a
//! `kill -9` at any instant.
//!
//! The file is an append-only log. Each record is framed as
//! `[length: u32 LE][CRC-32 of the record: u32 LE][record]` and every append is followed by
//! `fsync`. A crash while appending leaves a last frame that is short or fails its
//! checksum; [`replay`](SessionStore::replay) stops before it and the next append
//! overwrites it. Compaction ([`replace`](SessionStore::replace)) writes the new records
//! to `<path>.tmp`, syncs it and renames it over the log, so a crash leaves either the old
//! log or the new one.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::vec::Vec;

use super::store::{Records, SessionStore, StoreError};

/// Bytes in front of each record: length and CRC-32.
const FRAME: usize = 8;

/// A session store in a file (see the [module docs](self)). `limit` bounds the log: an
/// append that would grow it past the limit reports [`StoreError::Full`], which makes the
/// client compact it.
#[derive(Debug)]
pub struct FileStore {
    path: PathBuf,
    file: File,
    /// Where the next record goes: the end of the last whole record.
    end: u64,
    limit: u64,
}

impl FileStore {
    /// Opens (or creates) the log at `path`, keeping at most `limit` bytes before it is
    /// compacted. The end of the last whole record is found now.
    ///
    /// # Errors
    /// The I/O error of opening or reading the file.
    pub fn open(path: impl AsRef<Path>, limit: u64) -> std::io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        let mut store = Self {
            path,
            file,
            end: 0,
            limit,
        };
        store.end = store.scan(&mut |_| Ok(())).map_err(std::io::Error::other)?;
        Ok(store)
    }

    /// Reads every whole record from the start; returns where the last one ends.
    fn scan(&mut self, f: &mut dyn FnMut(&[u8]) -> Result<(), StoreError>) -> Result<u64, StoreError> {
        let mut bytes = Vec::new();
        self.file.seek(SeekFrom::Start(0)).map_err(io)?;
        self.file.read_to_end(&mut bytes).map_err(io)?;
        let mut at = 0usize;
        while let Some((&len, rest)) = bytes.get(at..).and_then(|b| b.split_first_chunk::<4>())
            && let Some((&crc, _)) = rest.split_first_chunk::<4>()
        {
            let len = usize::try_from(u32::from_le_bytes(len)).unwrap_or(usize::MAX);
            let crc = u32::from_le_bytes(crc);
            let Some(record) = bytes.get(at + FRAME..).and_then(|b| b.get(..len)) else {
                break;
            };
            if crc32(&[record]) != crc {
                break;
            }
            f(record)?;
            at += FRAME + len;
        }
        Ok(at as u64)
    }

    fn write_frame(file: &mut File, head: &[u8], tail: &[u8]) -> Result<u64, StoreError> {
        let len = u32::try_from(head.len() + tail.len()).map_err(|_| StoreError::Full)?;
        let mut frame = Vec::with_capacity(FRAME + len as usize);
        frame.extend_from_slice(&len.to_le_bytes());
        frame.extend_from_slice(&crc32(&[head, tail]).to_le_bytes());
        frame.extend_from_slice(head);
        frame.extend_from_slice(tail);
        file.write_all(&frame).map_err(io)?;
        Ok(frame.len() as u64)
    }
}

impl SessionStore for FileStore {
    fn append(&mut self, head: &[u8], tail: &[u8]) -> Result<(), StoreError> {
        let grow = (FRAME + head.len() + tail.len()) as u64;
        if self.end + grow > self.limit {
            return Err(StoreError::Full);
        }
        self.file.seek(SeekFrom::Start(self.end)).map_err(io)?;
        let written = Self::write_frame(&mut self.file, head, tail)?;
        // A torn frame left by a crash behind this one would read as garbage: cut it.
        self.file.set_len(self.end + written).map_err(io)?;
        self.file.sync_data().map_err(io)?;
        self.end += written;
        Ok(())
    }

    fn replay(&mut self, f: &mut dyn FnMut(&[u8]) -> Result<(), StoreError>) -> Result<(), StoreError> {
        self.end = self.scan(f)?;
        Ok(())
    }

    fn replace(&mut self, records: &dyn Records) -> Result<(), StoreError> {
        let mut tmp_path = self.path.clone().into_os_string();
        tmp_path.push(".tmp");
        let mut tmp = File::create(&tmp_path).map_err(io)?;
        let mut end = 0;
        records.each(&mut |head, tail| {
            end += Self::write_frame(&mut tmp, head, tail)?;
            Ok(())
        })?;
        if end > self.limit {
            return Err(StoreError::Full);
        }
        tmp.sync_all().map_err(io)?;
        std::fs::rename(&tmp_path, &self.path).map_err(io)?;
        sync_dir(&self.path)?;
        self.file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.path)
            .map_err(io)?;
        self.end = end;
        Ok(())
    }

    fn clear(&mut self) -> Result<(), StoreError> {
        self.file.set_len(0).map_err(io)?;
        self.file.sync_data().map_err(io)?;
        self.end = 0;
        Ok(())
    }
}

/// Makes a rename in the directory of `path` durable.
fn sync_dir(path: &Path) -> Result<(), StoreError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => File::open(dir).and_then(|d| d.sync_all()).map_err(io),
        _ => Ok(()),
    }
}

fn io(_: std::io::Error) -> StoreError {
    StoreError::Io
}

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) of the concatenated `parts`.
fn crc32(parts: &[&[u8]]) -> u32 {
    let mut crc = !0u32;
    for byte in parts.iter().flat_map(|p| p.iter()) {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::store::tests::{List, records};
    use std::format;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("umqtt-file-store-{}-{name}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        dir
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(&[b"123456789"]), 0xCBF4_3926);
        assert_eq!(crc32(&[b"1234", b"56789"]), 0xCBF4_3926);
    }

    #[test]
    fn records_survive_reopening() {
        let path = temp("reopen");
        let mut store = FileStore::open(&path, 4096).expect("open");
        store.append(b"P", b"one").expect("append");
        store.append(b"D", b"").expect("append");
        drop(store);
        let mut store = FileStore::open(&path, 4096).expect("reopen");
        assert_eq!(records(&mut store), [b"Pone".to_vec(), b"D".to_vec()]);
        let _ = std::fs::remove_file(&path);
    }

    /// A crash part way through an append, at every byte: the records before it are kept,
    /// the torn one is not a record, and the next append takes its place.
    #[test]
    fn a_torn_append_at_every_byte_loses_only_that_record() {
        let path = temp("torn");
        let mut store = FileStore::open(&path, 4096).expect("open");
        store.append(b"A", b"first").expect("append");
        let whole = std::fs::read(&path).expect("read");
        store.append(b"B", b"second").expect("append");
        let both = std::fs::read(&path).expect("read");
        drop(store);
        for cut in whole.len()..both.len() {
            std::fs::write(&path, &both[..cut]).expect("write");
            let mut store = FileStore::open(&path, 4096).expect("open");
            assert_eq!(records(&mut store), [b"Afirst".to_vec()], "cut at {cut}");
            store.append(b"C", b"").expect("append");
            assert_eq!(
                records(&mut store),
                [b"Afirst".to_vec(), b"C".to_vec()],
                "cut at {cut}"
            );
        }
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_flipped_bit_ends_the_log_there() {
        let path = temp("flip");
        let mut store = FileStore::open(&path, 4096).expect("open");
        store.append(b"A", b"").expect("append");
        store.append(b"B", b"").expect("append");
        drop(store);
        let mut bytes = std::fs::read(&path).expect("read");
        let last = bytes.len() - 1;
        bytes[last] ^= 0x01;
        std::fs::write(&path, &bytes).expect("write");
        let mut store = FileStore::open(&path, 4096).expect("open");
        assert_eq!(records(&mut store), [b"A".to_vec()]);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_full_log_says_so_and_replace_compacts_it() {
        let path = temp("full");
        let mut store = FileStore::open(&path, 30).expect("open");
        store.append(b"P", b"0123456789").expect("append");
        assert_eq!(store.append(b"P", b"0123456789"), Err(StoreError::Full));
        store.replace(&List(&[b"X"])).expect("replace");
        assert_eq!(records(&mut store), [b"X".to_vec()]);
        store.append(b"Y", b"").expect("append after compaction");
        drop(store);
        let mut store = FileStore::open(&path, 30).expect("reopen");
        assert_eq!(records(&mut store), [b"X".to_vec(), b"Y".to_vec()]);
        store.clear().expect("clear");
        assert!(records(&mut store).is_empty());
        let _ = std::fs::remove_file(&path);
    }
}
