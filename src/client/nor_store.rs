//! [`NorFlashStore`]: a [`SessionStore`] on NOR flash (feature `nor-flash`), over any
//! [`embedded_storage::nor_flash::NorFlash`], safe against a power cut at any instant
//! and sparing with erases.
//!
//! # Layout
//!
//! The region given to [`NorFlashStore::open`] is split into two banks of whole erase
//! sectors. A bank starts with a header (magic, generation, bank length, CRC-32), then
//! holds a log of frames:
//!
//! ```text
//! [tag][!tag][length: u16 LE][CRC-32 of tag, length and record: u32 LE][record][0xFF padding]
//! ```
//!
//! Every frame starts and ends on a multiple of the flash's read and write sizes, and no
//! word is ever programmed twice between two erases. A frame is a record (tag `R`) or a
//! clear marker (tag `C`, no record): [`clear`](SessionStore::clear) does not erase
//! anything, it writes a marker that hides every record before it, and writes nothing at
//! all when no record was written since the last one. So one erase serves many
//! publish-acknowledge cycles; see [`NorFlashStore::generation`].
//!
//! The active bank is the one whose header is valid with the newest generation. The other
//! bank is only touched by a compaction ([`replace`](SessionStore::replace), or a clear
//! that finds the bank full): it is erased, the new records are written, and its header,
//! with the next generation, is written last. That header write is the commit point: a cut
//! before it leaves the old bank active, a cut after it the new one.
//!
//! # Recovery
//!
//! [`open`](NorFlashStore::open) reads the active bank's frames up to the first one that
//! is not whole (its checksum fails, or it was cut off), then checks that everything after
//! the last whole frame is erased. If it is not, an append or a clear was cut part way:
//! that frame is not a record, and because its words cannot be programmed again, the
//! store compacts at once (the records since the last clear marker are copied to the
//! other bank), so the next append never lands on half-programmed words.
//!
//! # Limits
//!
//! A record longer than `BUF`, or than `u16::MAX`, is refused with
//! [`StoreError::Full`]. Read errors of the flash are [`StoreError::Io`]; a flash whose
//! reads of a half-programmed word fault (some ECC flashes raise a bus fault or NMI) is
//! outside what this store can recover from.

use embedded_storage::nor_flash::NorFlash;

use super::store::{Records, SessionStore, StoreError};

/// `uMQs`: marks a bank header.
const MAGIC: [u8; 4] = *b"uMQs";
/// Bank header bytes before padding: magic, generation, bank length, CRC-32.
const BANK_HEADER: usize = 16;
/// Frame header bytes before padding: tag, inverted tag, length, CRC-32.
const FRAME_HEADER: usize = 8;
/// Tag of a frame that holds a record.
const RECORD: u8 = b'R';
/// Tag of a frame that hides every record before it.
const CLEAR: u8 = b'C';
/// What an erased byte reads as.
const ERASED: u8 = 0xFF;

/// A session store on NOR flash (see the [module docs](self)).
///
/// `BUF` bytes of RAM hold one record while it is replayed, and stage every write. It
/// must be at least the client's `S` + 3 (a 3-byte head and a stored PUBLISH of up to
/// `S` bytes), rounded up to a multiple of `F::READ_SIZE`, and at least the larger of
/// `F::READ_SIZE` and `F::WRITE_SIZE`; [`open`](Self::open) checks the latter.
///
/// Each bank must hold the client's whole session when it is compacted, or the
/// compaction reports [`StoreError::Full`]: for a client with `N` identifiers and an
/// `S`-byte re-send store, at least `16 + S + 2 * N * (10 + U)` bytes, `U` being the
/// larger of the read and write sizes (for the defaults, `N` = 8 and `S` = 1024, and
/// 4-byte words: 1264 bytes, so one 4 KiB sector per bank is plenty). Anything more
/// makes erases rarer: a bank is erased once per bank-full of records and clear markers.
#[derive(Debug)]
pub struct NorFlashStore<F, const BUF: usize> {
    flash: F,
    /// Address of bank 0; bank 1 follows it.
    base: u32,
    /// Bytes in each bank: whole erase sectors.
    bank_len: u32,
    /// The bank that holds the log: 0 or 1.
    active: u32,
    /// The generation in the active bank's header.
    generation: u32,
    /// Offset in the active bank of the first record after the last clear marker.
    start: u32,
    /// Offset in the active bank where the next frame goes.
    end: u32,
    /// A write at `end` failed part way: its words must not be programmed again, so the
    /// next write compacts first.
    dirty: bool,
    buf: [u8; BUF],
}

impl<F: NorFlash, const BUF: usize> NorFlashStore<F, BUF> {
    /// The alignment of every frame: a multiple of both the read and the write size.
    const UNIT: usize = lcm(F::READ_SIZE, F::WRITE_SIZE);
    /// Bytes of a bank header, padded.
    const HEAD: usize = BANK_HEADER.next_multiple_of(Self::UNIT);
    /// Bytes of a frame header, padded: the record starts aligned.
    const HDR: usize = FRAME_HEADER.next_multiple_of(Self::UNIT);
    /// Bytes staged per flash operation: the largest multiple of the unit that `BUF`
    /// holds.
    const CHUNK: usize = BUF - BUF % Self::UNIT;

    /// Opens the store in `len` bytes of `flash` from `offset`, which must be a multiple
    /// of `F::ERASE_SIZE`. The region is split into two banks of
    /// `len / 2` bytes rounded down to whole erase sectors, so `len` must hold at least
    /// two sectors. A blank (or never valid) region is formatted, which erases one bank;
    /// a region that a reset left with a torn frame is compacted (see the
    /// [module docs](self)).
    ///
    /// # Errors
    /// [`StoreError::TooSmall`] when the region holds less than two sectors (with the
    /// bytes it needs), or `BUF` is smaller than one read and write unit (with that
    /// size); [`StoreError::Io`] when the region is misaligned, out of the flash, or the
    /// flash fails.
    pub fn open(flash: F, offset: u32, len: u32) -> Result<Self, StoreError> {
        let erase = u32::try_from(F::ERASE_SIZE).map_err(|_| StoreError::Io)?;
        if erase == 0 || !offset.is_multiple_of(erase) || !F::ERASE_SIZE.is_multiple_of(Self::UNIT) {
            return Err(StoreError::Io);
        }
        if BUF < Self::HEAD.max(Self::HDR) {
            return Err(StoreError::TooSmall {
                needed: Self::HEAD.max(Self::HDR),
            });
        }
        let bank_len = len / 2 / erase * erase;
        let smallest = (Self::HEAD + Self::HDR).next_multiple_of(F::ERASE_SIZE);
        if (bank_len as usize) < smallest {
            return Err(StoreError::TooSmall { needed: 2 * smallest });
        }
        let region_end = u64::from(offset) + 2 * u64::from(bank_len);
        if region_end > flash.capacity() as u64 {
            return Err(StoreError::Io);
        }
        let mut store = Self {
            flash,
            base: offset,
            bank_len,
            active: 0,
            generation: 0,
            start: Self::HEAD as u32,
            end: Self::HEAD as u32,
            dirty: false,
            buf: [ERASED; BUF],
        };
        match (store.bank_generation(0)?, store.bank_generation(1)?) {
            (None, None) => {
                // Nothing was ever committed here: an empty log in bank 0.
                store.erase_bank(0)?;
                store.commit(0, Self::HEAD as u32)?;
                return Ok(store);
            }
            (Some(g), None) => (store.active, store.generation) = (0, g),
            (None, Some(g)) => (store.active, store.generation) = (1, g),
            (Some(a), Some(b)) => {
                (store.active, store.generation) = if newer(b, a) { (1, b) } else { (0, a) };
            }
        }
        store.scan()?;
        if store.dirty {
            store.compact()?;
        }
        Ok(store)
    }

    /// Gives the flash back.
    pub fn into_inner(self) -> F {
        self.flash
    }

    /// The flash, to look at (writing to the store's region behind its back would break
    /// it; pass `&mut flash` to [`open`](Self::open) to share the flash with other code).
    pub fn get_ref(&self) -> &F {
        &self.flash
    }

    /// Bytes of one bank that frames can use: the most that the records of a
    /// [`replace`](SessionStore::replace) can take, framed (each record takes 8 bytes more,
    /// rounded up to the read and write unit).
    pub fn capacity(&self) -> usize {
        self.bank_len as usize - Self::HEAD
    }

    /// Bytes of the active bank in use by frames (records and clear markers, the hidden
    /// ones too): when an append does not fit in what remains, the store reports
    /// [`StoreError::Full`].
    pub fn used(&self) -> usize {
        self.end as usize - Self::HEAD
    }

    /// The generation of the active bank: 1 after formatting, one more after each
    /// compaction. Each compaction erases one bank, so this counts the erases (the banks
    /// take turns, each has about half of them).
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// The flash address of `bank`.
    fn bank_addr(&self, bank: u32) -> u32 {
        self.base + bank * self.bank_len
    }

    /// Reads `len` bytes (a multiple of the read size) at `addr` into the buffer.
    fn read(&mut self, addr: u32, len: usize) -> Result<&[u8], StoreError> {
        let buf = self
            .buf
            .get_mut(..len)
            .ok_or(StoreError::TooSmall { needed: len })?;
        self.flash.read(addr, buf).map_err(|_| StoreError::Io)?;
        Ok(buf)
    }

    /// The generation of `bank` when its header is valid for this geometry.
    fn bank_generation(&mut self, bank: u32) -> Result<Option<u32>, StoreError> {
        let bank_len = self.bank_len;
        let header = self.read(self.bank_addr(bank), Self::HEAD)?;
        let Some((fields, _)) = header.split_first_chunk::<BANK_HEADER>() else {
            return Ok(None);
        };
        let (body, crc) = fields.split_at(BANK_HEADER - 4);
        let valid = body.starts_with(&MAGIC)
            && body.get(8..12) == Some(&bank_len.to_le_bytes()[..])
            && crc == crc32(&[body]).to_le_bytes();
        Ok(valid.then(|| le32(body.get(4..8))))
    }

    /// Reads the frame header at offset `at` of the active bank: its tag, record length
    /// and CRC-32, or `None` when there is no well-formed header that fits in the bank.
    fn frame_header(&mut self, at: u32) -> Result<Option<(u8, usize, u32)>, StoreError> {
        if at as usize + Self::HDR > self.bank_len as usize {
            return Ok(None);
        }
        let room = (self.bank_len - at) as usize;
        let header = self.read(self.bank_addr(self.active) + at, Self::HDR)?;
        let [tag, not_tag, lo, hi, c0, c1, c2, c3, ..] = *header else {
            return Ok(None);
        };
        let len = usize::from(u16::from_le_bytes([lo, hi]));
        let well_formed = not_tag == !tag
            && (tag == RECORD || (tag == CLEAR && len == 0))
            && frame_len(Self::HDR, Self::UNIT, len) <= room;
        Ok(well_formed.then(|| (tag, len, u32::from_le_bytes([c0, c1, c2, c3]))))
    }

    /// Finds the records after the last clear marker and the end of the log in the active
    /// bank, and whether anything but erased bytes follows it.
    fn scan(&mut self) -> Result<(), StoreError> {
        let mut at = Self::HEAD as u32;
        self.start = at;
        while let Some((tag, len, crc)) = self.frame_header(at)? {
            // Check the record in chunks: it may be longer than the buffer.
            let data = self.bank_addr(self.active) + at + Self::HDR as u32;
            let padded = len.next_multiple_of(Self::UNIT);
            let mut sum = Crc::new().update(&[tag]).update(&(len as u16).to_le_bytes());
            let mut done = 0;
            while done < padded {
                let n = Self::CHUNK.min(padded - done);
                let chunk = self.read(data + done as u32, n)?;
                let real = chunk.get(..len.saturating_sub(done).min(n)).unwrap_or_default();
                sum = sum.update(real);
                done += n;
            }
            if sum.finish() != crc {
                break;
            }
            at += frame_len(Self::HDR, Self::UNIT, len) as u32;
            if tag == CLEAR {
                self.start = at;
            }
        }
        self.end = at;
        // What follows the log must be erased, or an interrupted write left words there.
        let bank = self.bank_addr(self.active);
        let mut at = self.end as usize;
        self.dirty = false;
        while at < self.bank_len as usize {
            let n = Self::CHUNK.min(self.bank_len as usize - at);
            if self.read(bank + at as u32, n)?.iter().any(|&b| b != ERASED) {
                self.dirty = true;
                break;
            }
            at += n;
        }
        Ok(())
    }

    fn erase_bank(&mut self, bank: u32) -> Result<(), StoreError> {
        let from = self.bank_addr(bank);
        self.flash
            .erase(from, from + self.bank_len)
            .map_err(|_| StoreError::Io)
    }

    /// Writes the header of `bank` (already erased and filled up to `end`) with the next
    /// generation, making it the active bank.
    fn commit(&mut self, bank: u32, end: u32) -> Result<(), StoreError> {
        let generation = self.generation.wrapping_add(1);
        let mut header = [0u8; BANK_HEADER];
        let (body, crc) = header.split_at_mut(BANK_HEADER - 4);
        for (to, from) in body.iter_mut().zip(
            MAGIC
                .iter()
                .chain(&generation.to_le_bytes())
                .chain(&self.bank_len.to_le_bytes()),
        ) {
            *to = *from;
        }
        crc.copy_from_slice(&crc32(&[body]).to_le_bytes());
        let addr = self.bank_addr(bank);
        let mut out = Stage::new(&mut self.flash, &mut self.buf, Self::CHUNK, addr);
        let written = out
            .push(&header)
            .and_then(|()| out.repeat(ERASED, Self::HEAD - BANK_HEADER))
            .and_then(|()| out.finish());
        if let Err(e) = written {
            // The header may be whole for all we know, which would make `bank` win at
            // the next `open`: the next write compacts again, erasing it first.
            self.dirty = true;
            return Err(e);
        }
        self.active = bank;
        self.generation = generation;
        self.start = Self::HEAD as u32;
        self.end = end;
        self.dirty = false;
        Ok(())
    }

    /// Writes one frame at offset `at` of `bank`; returns its length.
    fn write_frame(
        &mut self,
        bank: u32,
        at: u32,
        tag: u8,
        head: &[u8],
        tail: &[u8],
    ) -> Result<u32, StoreError> {
        let len = head.len() + tail.len();
        let len16 = u16::try_from(len).map_err(|_| StoreError::Full)?;
        let size = frame_len(Self::HDR, Self::UNIT, len);
        if len.next_multiple_of(F::READ_SIZE.max(1)) > BUF || at as usize + size > self.bank_len as usize {
            return Err(StoreError::Full);
        }
        let [lo, hi] = len16.to_le_bytes();
        let crc = Crc::new()
            .update(&[tag, lo, hi])
            .update(head)
            .update(tail)
            .finish();
        let [c0, c1, c2, c3] = crc.to_le_bytes();
        let addr = self.bank_addr(bank) + at;
        let mut out = Stage::new(&mut self.flash, &mut self.buf, Self::CHUNK, addr);
        out.push(&[tag, !tag, lo, hi, c0, c1, c2, c3])?;
        out.repeat(ERASED, Self::HDR - FRAME_HEADER)?;
        out.push(head)?;
        out.push(tail)?;
        out.repeat(ERASED, size - Self::HDR - len)?;
        out.finish()?;
        Ok(size as u32)
    }

    /// Moves the records after the last clear marker to the other bank, leaving behind
    /// whatever an interrupted write left after them.
    fn compact(&mut self) -> Result<(), StoreError> {
        let to = 1 - self.active;
        self.erase_bank(to)?;
        let (from, into) = (self.bank_addr(self.active), self.bank_addr(to));
        let len = (self.end - self.start) as usize;
        let mut done = 0;
        while done < len {
            // Whole frames are a multiple of the unit, and so is the chunk.
            let n = Self::CHUNK.min(len - done);
            let offset = Self::HEAD as u32 + done as u32;
            let src = from + self.start + done as u32;
            let chunk = self.buf.get_mut(..n).ok_or(StoreError::TooSmall { needed: n })?;
            self.flash.read(src, chunk).map_err(|_| StoreError::Io)?;
            self.flash
                .write(into + offset, chunk)
                .map_err(|_| StoreError::Io)?;
            done += n;
        }
        self.commit(to, (Self::HEAD + len) as u32)
    }
}

impl<F: NorFlash, const BUF: usize> SessionStore for NorFlashStore<F, BUF> {
    fn append(&mut self, head: &[u8], tail: &[u8]) -> Result<(), StoreError> {
        if self.dirty {
            self.compact()?;
        }
        match self.write_frame(self.active, self.end, RECORD, head, tail) {
            Ok(size) => {
                self.end += size;
                Ok(())
            }
            Err(StoreError::Full) => Err(StoreError::Full),
            Err(e) => {
                self.dirty = true;
                Err(e)
            }
        }
    }

    fn replay(&mut self, f: &mut dyn FnMut(&[u8]) -> Result<(), StoreError>) -> Result<(), StoreError> {
        let mut at = self.start;
        while at < self.end {
            let (tag, len, crc) = self.frame_header(at)?.ok_or(StoreError::Corrupt)?;
            if tag != RECORD {
                return Err(StoreError::Corrupt);
            }
            let addr = self.bank_addr(self.active) + at + Self::HDR as u32;
            let padded = len.next_multiple_of(F::READ_SIZE.max(1));
            if padded > BUF {
                return Err(StoreError::TooSmall { needed: padded });
            }
            let bytes = self.read(addr, padded)?;
            let record = bytes.get(..len).unwrap_or_default();
            let [lo, hi] = (len as u16).to_le_bytes();
            if Crc::new().update(&[tag, lo, hi]).update(record).finish() != crc {
                return Err(StoreError::Corrupt);
            }
            f(record)?;
            at += frame_len(Self::HDR, Self::UNIT, len) as u32;
        }
        Ok(())
    }

    fn replace(&mut self, records: &dyn Records) -> Result<(), StoreError> {
        let to = 1 - self.active;
        self.erase_bank(to)?;
        let mut end = Self::HEAD as u32;
        records.each(&mut |head, tail| {
            end += self.write_frame(to, end, RECORD, head, tail)?;
            Ok(())
        })?;
        self.commit(to, end)
    }

    fn clear(&mut self) -> Result<(), StoreError> {
        if self.start == self.end && !self.dirty {
            return Ok(());
        }
        if !self.dirty {
            match self.write_frame(self.active, self.end, CLEAR, &[], &[]) {
                Ok(size) => {
                    self.end += size;
                    self.start = self.end;
                    return Ok(());
                }
                Err(StoreError::Full) => {}
                Err(e) => {
                    self.dirty = true;
                    return Err(e);
                }
            }
        }
        // No room for the marker (or a failed write to step over): an empty bank.
        let to = 1 - self.active;
        self.erase_bank(to)?;
        self.commit(to, Self::HEAD as u32)
    }
}

/// Writes bytes to flash through a buffer, `chunk` bytes (a multiple of the write size)
/// at a time, at increasing addresses.
struct Stage<'a, F> {
    flash: &'a mut F,
    buf: &'a mut [u8],
    chunk: usize,
    addr: u32,
    fill: usize,
}

impl<'a, F: NorFlash> Stage<'a, F> {
    fn new(flash: &'a mut F, buf: &'a mut [u8], chunk: usize, addr: u32) -> Self {
        Self {
            flash,
            buf,
            chunk,
            addr,
            fill: 0,
        }
    }

    fn byte(&mut self, byte: u8) -> Result<(), StoreError> {
        if let Some(slot) = self.buf.get_mut(self.fill) {
            *slot = byte;
        }
        self.fill += 1;
        if self.fill == self.chunk {
            self.flush()?;
        }
        Ok(())
    }

    fn push(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        bytes.iter().try_for_each(|&b| self.byte(b))
    }

    fn repeat(&mut self, byte: u8, n: usize) -> Result<(), StoreError> {
        (0..n).try_for_each(|_| self.byte(byte))
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        if self.fill > 0 {
            let bytes = self.buf.get(..self.fill).ok_or(StoreError::Io)?;
            self.flash.write(self.addr, bytes).map_err(|_| StoreError::Io)?;
            self.addr += self.fill as u32;
            self.fill = 0;
        }
        Ok(())
    }

    /// Writes what is staged (the caller has padded it to the write size).
    fn finish(mut self) -> Result<(), StoreError> {
        self.flush()
    }
}

/// Bytes of a frame holding a record of `len` bytes.
const fn frame_len(hdr: usize, unit: usize, len: usize) -> usize {
    (hdr + len).next_multiple_of(unit)
}

/// Whether generation `a` was written after `b` (the counter may wrap).
fn newer(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

fn le32(bytes: Option<&[u8]>) -> u32 {
    match bytes {
        Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]),
        _ => 0,
    }
}

const fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The least common multiple of two sizes, a size of 0 counting as 1.
const fn lcm(a: usize, b: usize) -> usize {
    let (a, b) = (if a == 0 { 1 } else { a }, if b == 0 { 1 } else { b });
    a / gcd(a, b) * b
}

/// A running CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320).
#[derive(Clone, Copy)]
struct Crc(u32);

impl Crc {
    const fn new() -> Self {
        Self(!0)
    }

    fn update(mut self, bytes: &[u8]) -> Self {
        for &byte in bytes {
            self.0 ^= u32::from(byte);
            for _ in 0..8 {
                self.0 = (self.0 >> 1) ^ (0xEDB8_8320 & (self.0 & 1).wrapping_neg());
            }
        }
        self
    }

    const fn finish(self) -> u32 {
        !self.0
    }
}

fn crc32(parts: &[&[u8]]) -> u32 {
    parts.iter().fold(Crc::new(), |c, p| c.update(p)).finish()
}

/// NOR flash in RAM, with NOR rules: programming 4-byte words can only clear bits, and an
/// erase sets whole `SECTOR`-byte sectors to `0xFF`. For tests, and for RAM that survives
/// a warm reset (a `.uninit` section) standing in for flash; it does not check that a
/// word is programmed at most once per erase.
#[derive(Debug)]
pub struct RamNorFlash<'a, const SECTOR: usize>(pub &'a mut [u8]);

impl<const SECTOR: usize> embedded_storage::nor_flash::ErrorType for RamNorFlash<'_, SECTOR> {
    type Error = embedded_storage::nor_flash::NorFlashErrorKind;
}

impl<const SECTOR: usize> embedded_storage::nor_flash::ReadNorFlash for RamNorFlash<'_, SECTOR> {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        let src = span(self.0, offset, bytes.len())?;
        bytes.copy_from_slice(src);
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.0.len()
    }
}

impl<const SECTOR: usize> NorFlash for RamNorFlash<'_, SECTOR> {
    const WRITE_SIZE: usize = 4;
    const ERASE_SIZE: usize = SECTOR;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        use embedded_storage::nor_flash::NorFlashErrorKind;
        let len = to.checked_sub(from).ok_or(NorFlashErrorKind::OutOfBounds)? as usize;
        if !(from as usize).is_multiple_of(SECTOR) || !len.is_multiple_of(SECTOR) {
            return Err(NorFlashErrorKind::NotAligned);
        }
        span(self.0, from, len)?.fill(0xFF);
        Ok(())
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        if !offset.is_multiple_of(4) || !bytes.len().is_multiple_of(4) {
            return Err(embedded_storage::nor_flash::NorFlashErrorKind::NotAligned);
        }
        for (word, new) in span(self.0, offset, bytes.len())?.iter_mut().zip(bytes) {
            *word &= *new;
        }
        Ok(())
    }
}

/// `len` bytes of `bytes` from `offset`, or `OutOfBounds`.
fn span(
    bytes: &mut [u8],
    offset: u32,
    len: usize,
) -> Result<&mut [u8], embedded_storage::nor_flash::NorFlashErrorKind> {
    let at = offset as usize;
    bytes
        .get_mut(at..at.saturating_add(len))
        .ok_or(embedded_storage::nor_flash::NorFlashErrorKind::OutOfBounds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::store::RecordSink;
    use crate::client::store::tests::records;
    use embedded_storage::nor_flash::{
        ErrorType, NorFlashErrorKind, ReadNorFlash, check_erase, check_read, check_write,
    };
    use std::vec;
    use std::vec::Vec;

    #[test]
    fn ram_nor_flash_follows_nor_rules() {
        let mut bytes = [0xFFu8; 2048];
        let mut flash = RamNorFlash::<1024>(&mut bytes);
        flash.write(4, &[0x0F, 0xF0, 0xAA, 0x55]).unwrap();
        // Programming again can only clear more bits.
        flash.write(4, &[0xF3, 0xFF, 0x0F, 0xFF]).unwrap();
        let mut got = [0u8; 4];
        flash.read(4, &mut got).unwrap();
        assert_eq!(got, [0x03, 0xF0, 0x0A, 0x55]);
        assert_eq!(flash.write(2, &[0; 4]), Err(NorFlashErrorKind::NotAligned));
        assert_eq!(flash.erase(0, 512), Err(NorFlashErrorKind::NotAligned));
        assert_eq!(flash.erase(1024, 4096), Err(NorFlashErrorKind::OutOfBounds));
        flash.erase(0, 1024).unwrap();
        flash.read(4, &mut got).unwrap();
        assert_eq!(got, [0xFF; 4]);
        // A store runs on it.
        let mut store = NorFlashStore::<_, 64>::open(flash, 0, 2048).unwrap();
        store.append(b"P", b"x").unwrap();
        let mut n = 0;
        store
            .replay(&mut |r| {
                assert_eq!(r, b"Px");
                n += 1;
                Ok(())
            })
            .unwrap();
        assert_eq!(n, 1);
    }

    /// NOR flash in RAM: programming only clears bits, each word is programmed at most once
    /// between erases, and every operation must be aligned.
    struct Ram<const R: usize, const W: usize, const E: usize> {
        bytes: Vec<u8>,
        programmed: Vec<bool>,
        writes: usize,
        erases: usize,
        /// The write with this number is done but reported as failed.
        fail_write: Option<usize>,
    }

    impl<const R: usize, const W: usize, const E: usize> Ram<R, W, E> {
        fn new(sectors: usize) -> Self {
            Self {
                bytes: vec![0xFF; sectors * E],
                programmed: vec![false; sectors * E / W],
                writes: 0,
                erases: 0,
                fail_write: None,
            }
        }
    }

    impl<const R: usize, const W: usize, const E: usize> ErrorType for Ram<R, W, E> {
        type Error = NorFlashErrorKind;
    }

    impl<const R: usize, const W: usize, const E: usize> ReadNorFlash for Ram<R, W, E> {
        const READ_SIZE: usize = R;

        fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
            check_read(self, offset, bytes.len())?;
            let at = offset as usize;
            bytes.copy_from_slice(&self.bytes[at..at + bytes.len()]);
            Ok(())
        }

        fn capacity(&self) -> usize {
            self.bytes.len()
        }
    }

    impl<const R: usize, const W: usize, const E: usize> NorFlash for Ram<R, W, E> {
        const WRITE_SIZE: usize = W;
        const ERASE_SIZE: usize = E;

        fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
            check_erase(self, from, to)?;
            self.bytes[from as usize..to as usize].fill(0xFF);
            self.programmed[from as usize / W..to as usize / W].fill(false);
            self.erases += (to - from) as usize / E;
            Ok(())
        }

        fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
            check_write(self, offset, bytes.len())?;
            let at = offset as usize;
            for word in at / W..(at + bytes.len()) / W {
                assert!(!self.programmed[word], "word {word} programmed twice");
                self.programmed[word] = true;
            }
            for (cell, &b) in self.bytes[at..].iter_mut().zip(bytes) {
                *cell &= b;
            }
            self.writes += 1;
            if self.fail_write == Some(self.writes) {
                return Err(NorFlashErrorKind::Other);
            }
            Ok(())
        }
    }

    struct List<'a>(&'a [&'a [u8]]);

    impl Records for List<'_> {
        fn each(&self, f: &mut RecordSink<'_>) -> Result<(), StoreError> {
            self.0.iter().try_for_each(|r| f(&r[..1], &r[1..]))
        }
    }

    type Small = Ram<1, 4, 256>;

    /// What the client does with a record when nothing else is live: appends it, or
    /// compacts to it when the bank is full.
    fn persist<F: NorFlash, const BUF: usize>(store: &mut NorFlashStore<F, BUF>, head: &[u8], tail: &[u8]) {
        match store.append(head, tail) {
            Err(StoreError::Full) => {
                let record = [head, tail].concat();
                store.replace(&List(&[&record])).expect("replace");
            }
            result => result.expect("append"),
        }
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(&[b"123456789"]), 0xCBF4_3926);
        assert_eq!(crc32(&[b"1234", b"56789"]), 0xCBF4_3926);
    }

    #[test]
    fn a_blank_flash_is_formatted_once_and_records_survive_reopening() {
        let mut store = NorFlashStore::<_, 64>::open(Small::new(4), 256, 512).expect("open");
        assert_eq!(store.generation(), 1);
        assert!(records(&mut store).is_empty());
        store.append(b"P", b"one").expect("append");
        store.append(b"D\x00\x01", b"").expect("append");
        let flash = store.into_inner();
        assert_eq!(flash.erases, 1);
        // Nothing outside the region was touched.
        assert!(
            flash.bytes[..256]
                .iter()
                .chain(&flash.bytes[768..])
                .all(|&b| b == 0xFF)
        );
        let mut store = NorFlashStore::<_, 64>::open(flash, 256, 512).expect("reopen");
        assert_eq!(records(&mut store), [b"Pone".to_vec(), b"D\x00\x01".to_vec()]);
        assert_eq!(store.into_inner().erases, 1, "reopening erases nothing");
    }

    #[test]
    fn clear_writes_a_small_marker_and_erases_only_when_a_bank_fills() {
        let mut store = NorFlashStore::<_, 64>::open(Small::new(2), 0, 512).expect("open");
        // A publish-acknowledge cycle: a record, then a clear.
        for i in 0..200u8 {
            persist(&mut store, b"P", &[i; 13]);
            assert_eq!(records(&mut store), [[&b"P"[..], &[i; 13]].concat()]);
            store.clear().expect("clear");
            assert!(records(&mut store).is_empty());
        }
        // A cycle takes 24 + 8 bytes of a 240-byte bank: 7 cycles per bank, one erase per 7.
        let erases = store.into_inner().erases;
        assert!((200 / 8..=200 / 7 + 1).contains(&erases), "{erases} erases");
        let mut store = NorFlashStore::<_, 64>::open(Small::new(2), 0, 512).expect("open");
        store.append(b"A", b"").expect("append");
        store.clear().expect("clear");
        let writes = store.flash.writes;
        store.clear().expect("clear again");
        assert_eq!(store.flash.writes, writes, "clearing an empty log writes nothing");
        let flash = store.into_inner();
        let mut store = NorFlashStore::<_, 64>::open(flash, 0, 512).expect("reopen");
        assert!(
            records(&mut store).is_empty(),
            "the marker hides the record after a reset"
        );
    }

    #[test]
    fn a_full_bank_says_so_and_replace_moves_to_the_other_bank() {
        let mut store = NorFlashStore::<_, 64>::open(Small::new(2), 0, 512).expect("open");
        let mut n = 0;
        let err = loop {
            match store.append(b"P", &[n; 40]) {
                Ok(()) => n += 1,
                Err(e) => break e,
            }
        };
        assert_eq!(err, StoreError::Full);
        assert_eq!(n, 4, "4 frames of 48 bytes fit in 240");
        assert_eq!(records(&mut store).len(), 4);
        store.replace(&List(&[b"Xa", b"Yb"])).expect("replace");
        assert_eq!(store.generation(), 2);
        assert_eq!(records(&mut store), [b"Xa".to_vec(), b"Yb".to_vec()]);
        store.append(b"Z", b"").expect("append after compaction");
        let flash = store.into_inner();
        let mut store = NorFlashStore::<_, 64>::open(flash, 0, 512).expect("reopen");
        assert_eq!(store.generation(), 2);
        assert_eq!(
            records(&mut store),
            [b"Xa".to_vec(), b"Yb".to_vec(), b"Z".to_vec()]
        );
    }

    #[test]
    fn a_replace_that_does_not_fit_keeps_the_old_records() {
        let mut store = NorFlashStore::<_, 64>::open(Small::new(2), 0, 512).expect("open");
        store.append(b"A", b"").expect("append");
        let big = [b'B'; 60];
        let list = [&big[..]; 5];
        assert_eq!(store.replace(&List(&list)), Err(StoreError::Full));
        assert_eq!(records(&mut store), [b"A".to_vec()]);
        store.append(b"C", b"").expect("append");
        let flash = store.into_inner();
        let mut store = NorFlashStore::<_, 64>::open(flash, 0, 512).expect("reopen");
        assert_eq!(records(&mut store), [b"A".to_vec(), b"C".to_vec()]);
    }

    #[test]
    fn a_record_longer_than_the_buffer_is_refused() {
        let mut store = NorFlashStore::<_, 16>::open(Small::new(2), 0, 512).expect("open");
        store.append(b"P", &[7; 15]).expect("16 bytes fit");
        assert_eq!(store.append(b"P", &[7; 16]), Err(StoreError::Full));
        assert_eq!(records(&mut store), [[&b"P"[..], &[7; 15]].concat()]);
    }

    #[test]
    fn garbage_after_the_log_is_left_behind_by_a_compaction() {
        let mut store = NorFlashStore::<_, 64>::open(Small::new(2), 0, 512).expect("open");
        store.append(b"A", b"1").expect("append");
        store.append(b"B", b"2").expect("append");
        let end = store.end as usize;
        let mut flash = store.into_inner();
        // A frame header whose record never made it.
        flash.bytes[end..end + 8].copy_from_slice(&[b'R', !b'R', 5, 0, 1, 2, 3, 4]);
        flash.programmed[end / 4..end / 4 + 4].fill(true);
        let mut store = NorFlashStore::<_, 64>::open(flash, 0, 512).expect("reopen");
        assert_eq!(store.generation(), 2, "compacted into the other bank");
        assert_eq!(records(&mut store), [b"A1".to_vec(), b"B2".to_vec()]);
        store.append(b"C", b"3").expect("append");
        let flash = store.into_inner();
        let mut store = NorFlashStore::<_, 64>::open(flash, 0, 512).expect("reopen");
        assert_eq!(
            records(&mut store),
            [b"A1".to_vec(), b"B2".to_vec(), b"C3".to_vec()]
        );
    }

    #[test]
    fn a_flipped_bit_ends_the_log_before_that_record() {
        let mut store = NorFlashStore::<_, 64>::open(Small::new(2), 0, 512).expect("open");
        store.append(b"A", b"").expect("append");
        let second = store.end as usize;
        store.append(b"B", b"xyz").expect("append");
        store.append(b"C", b"").expect("append");
        let mut flash = store.into_inner();
        flash.bytes[second + 9] ^= 0x10;
        let mut store = NorFlashStore::<_, 64>::open(flash, 0, 512).expect("reopen");
        assert_eq!(records(&mut store), [b"A".to_vec()]);
    }

    #[test]
    fn the_newest_valid_bank_wins() {
        let mut store = NorFlashStore::<_, 64>::open(Small::new(2), 0, 512).expect("open");
        store.append(b"old", b"").expect("append");
        store.replace(&List(&[b"new"])).expect("replace");
        let mut flash = store.into_inner();
        let mut store = NorFlashStore::<_, 64>::open(&mut flash, 0, 512).expect("reopen");
        assert_eq!(records(&mut store), [b"new".to_vec()]);
        // Break the newer header: the older bank is all that is left.
        flash.bytes[256 + 15] ^= 0x01;
        let mut store = NorFlashStore::<_, 64>::open(&mut flash, 0, 512).expect("reopen");
        assert_eq!(records(&mut store), [b"old".to_vec()]);
    }

    /// A flash that programs the new bank's header but reports a failure: the store must
    /// not keep appending to the old bank, which that header would hide at the next open.
    #[test]
    fn a_header_write_reported_failed_is_not_trusted() {
        let mut store = NorFlashStore::<_, 64>::open(Small::new(2), 0, 512).expect("open");
        store.append(b"A", b"").expect("append");
        // The replace's writes: one frame, then the header.
        store.flash.fail_write = Some(store.flash.writes + 2);
        assert_eq!(store.replace(&List(&[b"B"])), Err(StoreError::Io));
        assert_eq!(records(&mut store), [b"A".to_vec()]);
        store.append(b"C", b"").expect("append");
        assert_eq!(records(&mut store), [b"A".to_vec(), b"C".to_vec()]);
        let flash = store.into_inner();
        let mut store = NorFlashStore::<_, 64>::open(flash, 0, 512).expect("reopen");
        assert_eq!(records(&mut store), [b"A".to_vec(), b"C".to_vec()]);
    }

    #[test]
    fn wide_writes_and_reads_keep_every_frame_aligned() {
        // 16-byte reads, 32-byte writes (an STM32H7), banks of two 128-byte sectors.
        let mut store = NorFlashStore::<_, 96>::open(Ram::<16, 32, 128>::new(4), 0, 512).expect("open");
        for len in 0..40usize {
            persist(&mut store, b"P", &vec![len as u8; len]);
            assert_eq!(store.used() % 32, 0);
            store.clear().expect("clear");
        }
        store.append(b"Q", &[1; 47]).expect("append");
        let flash = store.into_inner();
        let mut store = NorFlashStore::<_, 96>::open(flash, 0, 512).expect("reopen");
        assert_eq!(records(&mut store), [[&b"Q"[..], &[1; 47]].concat()]);
    }

    #[test]
    fn open_refuses_a_region_it_cannot_use() {
        assert_eq!(
            NorFlashStore::<_, 64>::open(Small::new(4), 100, 512).err(),
            Some(StoreError::Io),
            "misaligned"
        );
        assert_eq!(
            NorFlashStore::<_, 64>::open(Small::new(4), 0, 300).err(),
            Some(StoreError::TooSmall { needed: 512 }),
            "one sector"
        );
        assert_eq!(
            NorFlashStore::<_, 64>::open(Small::new(4), 512, 1024).err(),
            Some(StoreError::Io),
            "past the end"
        );
        assert_eq!(
            NorFlashStore::<_, 16>::open(Ram::<1, 32, 256>::new(4), 0, 512).err(),
            Some(StoreError::TooSmall { needed: 32 }),
            "buffer smaller than a write"
        );
    }
}
