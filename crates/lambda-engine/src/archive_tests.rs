//! Crafted zips: each built byte by byte, so a header can lie.

use std::io::Write;

use super::*;

/// One entry of a hand-built zip.
struct Entry {
    name: String,
    /// The bytes as stored (deflated when `deflated`).
    stored: Vec<u8>,
    deflated: bool,
    crc: u32,
    /// What the headers claim the entry unpacks to.
    claimed: u32,
    mode: u32,
}

impl Entry {
    fn file(name: &str, content: &[u8]) -> Self {
        Self {
            name: name.into(),
            stored: content.to_vec(),
            deflated: false,
            crc: crc32fast::hash(content),
            claimed: content.len() as u32,
            mode: 0o100_644,
        }
    }

    fn link(name: &str, target: &str) -> Self {
        Self {
            mode: 0o120_777,
            ..Self::file(name, target.as_bytes())
        }
    }
}

/// A zip as the format lays it out: local headers with data, the central directory, its end.
fn zip_of(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for entry in entries {
        let offset = out.len() as u32;
        let method: u16 = if entry.deflated { 8 } else { 0 };
        let common = |buf: &mut Vec<u8>| {
            buf.extend_from_slice(&20u16.to_le_bytes());
            buf.extend_from_slice(&0u16.to_le_bytes());
            buf.extend_from_slice(&method.to_le_bytes());
            buf.extend_from_slice(&0u32.to_le_bytes());
            buf.extend_from_slice(&entry.crc.to_le_bytes());
            buf.extend_from_slice(&(entry.stored.len() as u32).to_le_bytes());
            buf.extend_from_slice(&entry.claimed.to_le_bytes());
            buf.extend_from_slice(&(entry.name.len() as u16).to_le_bytes());
            buf.extend_from_slice(&0u16.to_le_bytes());
        };
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        common(&mut out);
        out.extend_from_slice(entry.name.as_bytes());
        out.extend_from_slice(&entry.stored);

        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&0x0314u16.to_le_bytes());
        common(&mut central);
        central.extend_from_slice(&[0; 6]);
        central.extend_from_slice(&(entry.mode << 16).to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(entry.name.as_bytes());
    }
    let central_at = out.len() as u32;
    out.extend_from_slice(&central);
    if entries.len() >= 0xffff {
        // Past 16 bits the count lives in the zip64 end record, found through its locator.
        let record_at = out.len() as u64;
        out.extend_from_slice(&0x0606_4b50u32.to_le_bytes());
        out.extend_from_slice(&44u64.to_le_bytes());
        out.extend_from_slice(&45u16.to_le_bytes());
        out.extend_from_slice(&45u16.to_le_bytes());
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&(entries.len() as u64).to_le_bytes());
        out.extend_from_slice(&(entries.len() as u64).to_le_bytes());
        out.extend_from_slice(&(central.len() as u64).to_le_bytes());
        out.extend_from_slice(&u64::from(central_at).to_le_bytes());
        out.extend_from_slice(&0x0706_4b50u32.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&record_at.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
    }
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    let count = entries.len().min(0xffff) as u16;
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&central_at.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// A deflate stream of `mib` MiB of zeros in a few hundred KB: one flushed block of 1 MiB
/// repeated (its back-references only reach zeros), then an empty final block.
fn deflated_zeros(mib: usize) -> Vec<u8> {
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&vec![0u8; 1 << 20]).unwrap();
    encoder.flush().unwrap();
    let block = encoder.get_ref().clone();
    let mut stream = block.repeat(mib);
    stream.extend_from_slice(&[0x03, 0x00]);
    stream
}

fn bomb(mib: usize, claimed: u32) -> Vec<u8> {
    let mut crc = crc32fast::Hasher::new();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..mib {
        crc.update(&zeros);
    }
    zip_of(&[Entry {
        name: "handler.py".into(),
        stored: deflated_zeros(mib),
        deflated: true,
        crc: crc.finalize(),
        claimed,
        mode: 0o100_644,
    }])
}

#[test]
fn a_bomb_whose_header_claims_a_few_bytes_is_refused_at_the_real_limit() {
    let zip = bomb(251, 10);
    assert!(zip.len() < 2 << 20, "the bomb is small: {} bytes", zip.len());
    assert_eq!(inspect(&zip), Err(ArchiveError::TooLargeUnzipped));
    assert_eq!(
        ArchiveError::TooLargeUnzipped.to_string(),
        "Unzipped size must be smaller than 262144000 bytes"
    );
    let target = tempfile::tempdir().unwrap();
    assert_eq!(
        extract(std::io::Cursor::new(&zip), target.path()),
        Err(ArchiveError::TooLargeUnzipped)
    );
    let written = std::fs::metadata(target.path().join("handler.py")).unwrap().len();
    assert!(written <= MAX_UNZIPPED_BYTES + 1, "stopped at the limit: {written}");
}

#[test]
fn an_entry_claiming_4_gb_allocates_nothing_and_unpacks_what_it_really_holds() {
    let mut entry = Entry::file("handler.py", b"def handler(e, c):\n    return 1\n");
    entry.claimed = u32::MAX - 1;
    let zip = zip_of(&[entry]);
    assert_eq!(inspect(&zip).unwrap().unzipped_bytes, 32);
    let target = tempfile::tempdir().unwrap();
    extract(std::io::Cursor::new(&zip), target.path()).unwrap();
    assert_eq!(std::fs::read(target.path().join("handler.py")).unwrap().len(), 32);
}

#[test]
fn code_within_the_limit_unpacks_in_full() {
    let zip = bomb(200, 200 << 20);
    assert_eq!(inspect(&zip).unwrap().unzipped_bytes, 200 << 20);
}

#[test]
fn paths_that_leave_the_task_root_are_refused() {
    for name in ["../escape.py", "/etc/cron.d/job", "a/../../escape.py", "a/b/../../../x"] {
        let zip = zip_of(&[Entry::file("ok.py", b"x"), Entry::file(name, b"x")]);
        assert_eq!(inspect(&zip), Err(ArchiveError::PathOutside(name.into())), "{name}");
        let target = tempfile::tempdir().unwrap();
        let inner = target.path().join("task");
        std::fs::create_dir(&inner).unwrap();
        assert!(extract(std::io::Cursor::new(&zip), &inner).is_err(), "{name}");
        assert!(!target.path().join("escape.py").exists(), "{name}");
    }
    let fine = zip_of(&[Entry::file("a/../b/./handler.py", b"x")]);
    let target = tempfile::tempdir().unwrap();
    extract(std::io::Cursor::new(&fine), target.path()).unwrap();
    assert!(target.path().join("b/handler.py").is_file());
}

#[test]
fn links_inside_are_kept_and_links_out_are_refused() {
    let zip = zip_of(&[
        Entry::file("node_modules/tool/cli.js", b"x"),
        Entry::link("node_modules/.bin/tool", "../tool/cli.js"),
    ]);
    let target = tempfile::tempdir().unwrap();
    extract(std::io::Cursor::new(&zip), target.path()).unwrap();
    let link = target.path().join("node_modules/.bin/tool");
    assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("../tool/cli.js"));
    assert_eq!(std::fs::read(&link).unwrap(), b"x");

    for (name, to) in [("passwd", "/etc/passwd"), ("up", "../../etc"), ("deep/up", "../..")] {
        let zip = zip_of(&[Entry::link(name, to)]);
        assert_eq!(
            inspect(&zip),
            Err(ArchiveError::LinkOutside(name.into())),
            "{name} -> {to}"
        );
    }
    // Each link inside by name, but the second climbs out through the first.
    let chained = zip_of(&[Entry::link("t/u", ".."), Entry::link("s", "t/u/../..")]);
    assert_eq!(inspect(&chained), Err(ArchiveError::LinkOutside("s".into())));
}

#[test]
fn no_file_is_written_through_a_link() {
    let zip = zip_of(&[Entry::link("out", "."), Entry::file("out/x.py", b"x")]);
    assert_eq!(inspect(&zip), Err(ArchiveError::PathOutside("out/x.py".into())));
}

#[test]
fn too_many_entries_are_refused_before_any_is_read() {
    let entries: Vec<Entry> = (0..=MAX_ENTRIES).map(|i| Entry::file(&format!("f{i}"), b"")).collect();
    let zip = zip_of(&entries);
    assert_eq!(inspect(&zip), Err(ArchiveError::TooManyEntries(MAX_ENTRIES + 1)));
}

#[test]
fn what_is_not_a_zip_is_refused_with_aws_words() {
    assert_eq!(inspect(b"not a zip"), Err(ArchiveError::Unreadable));
    assert_eq!(
        ArchiveError::Unreadable.to_string(),
        "Could not unzip uploaded file. Please check your file, then try to upload again."
    );
}

#[test]
fn unpacked_files_are_world_readable_and_keep_the_executable_bit() {
    let mut bootstrap = Entry::file("bootstrap", b"#!/bin/sh\n");
    bootstrap.mode = 0o100_700;
    let mut private = Entry::file("lib/data.txt", b"x");
    private.mode = 0o100_600;
    let zip = zip_of(&[bootstrap, private]);
    let target = tempfile::tempdir().unwrap();
    extract(std::io::Cursor::new(&zip), target.path()).unwrap();
    let mode = |p: &str| std::fs::metadata(target.path().join(p)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("bootstrap"), 0o755);
    assert_eq!(mode("lib/data.txt"), 0o644);
    assert_eq!(mode("lib"), 0o755);
}
