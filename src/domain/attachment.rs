//! Attachments' rules (seed 001, DESIGN §11): the org's settings, what a file may be called, and
//! whether its content agrees with its extension (magic numbers, UTF-8 for text types). Pure:
//! the upload route feeds the body through [`ContentCheck`] chunk by chunk.

use serde::{Deserialize, Serialize};

/// Per-org attachment settings (`settings.attachments`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AttachmentSettings {
    /// Whether files may be uploaded at all.
    pub enabled: bool,
    /// Lower-case extensions without the dot (seed 001's list by default).
    pub allowed_extensions: Vec<String>,
    /// Largest file, in bytes.
    pub max_bytes: u64,
}

/// Seed 001's extension allowlist.
pub const SEED_EXTENSIONS: &[&str] = &[
    "7z", "avi", "bmp", "cfg", "csv", "doc", "docx", "gif", "gz", "jpg", "jpeg", "json", "mkv",
    "mov", "mp3", "mp4", "pcap", "pdf", "pgp", "png", "psd", "rar", "svg", "tar", "tgz", "tif",
    "tiff", "txt", "wav", "webm", "wmv", "xls", "xlsx", "xml", "zip",
];

/// The most an org may set `max_bytes` to (1 GiB).
pub const MAX_BYTES_CEILING: u64 = 1 << 30;

impl Default for AttachmentSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            allowed_extensions: SEED_EXTENSIONS.iter().map(|e| e.to_string()).collect(),
            max_bytes: 10 * 1024 * 1024,
        }
    }
}

impl AttachmentSettings {
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=MAX_BYTES_CEILING).contains(&self.max_bytes) {
            return Err(format!(
                "attachments.max_bytes must be between 1 and {MAX_BYTES_CEILING}"
            ));
        }
        for ext in &self.allowed_extensions {
            if kind_of(ext).is_none() {
                return Err(format!(
                    "attachments.allowed_extensions: {ext:?} is not a type the server can check \
                     (known: {})",
                    SEED_EXTENSIONS.join(", ")
                ));
            }
        }
        Ok(())
    }
}

/// Why a file is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("file name must not be empty")]
    EmptyName,
    #[error("file name must be at most 255 bytes")]
    NameTooLong,
    #[error("file name must not contain NUL, '/', '\\' or control characters")]
    BadNameCharacter,
    #[error("file name needs an extension")]
    NoExtension,
    #[error("files of type .{0} are not allowed")]
    ExtensionNotAllowed(String),
    #[error("the file is empty")]
    Empty,
    #[error("the file is larger than {max} bytes")]
    TooLarge { max: u64 },
    #[error("the file's content is not a .{0} file")]
    ContentMismatch(String),
    #[error("a .{0} file must be UTF-8 text without NUL bytes")]
    NotText(String),
}

/// A file name that passed [`check_name`]: the name as given and its (lower-case) extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileName {
    pub name: String,
    pub extension: String,
}

/// Checks a file name against the rules and the org's allowlist. Only the last extension
/// counts: `invoice.pdf.exe` is an `.exe`.
pub fn check_name(name: &str, settings: &AttachmentSettings) -> Result<FileName, FileError> {
    if name.is_empty() {
        return Err(FileError::EmptyName);
    }
    if name.len() > 255 {
        return Err(FileError::NameTooLong);
    }
    if name
        .chars()
        .any(|c| c == '/' || c == '\\' || c.is_control())
    {
        return Err(FileError::BadNameCharacter);
    }
    let (stem, ext) = name.rsplit_once('.').ok_or(FileError::NoExtension)?;
    if stem.trim().is_empty() || ext.is_empty() {
        return Err(FileError::NoExtension);
    }
    let extension = ext.to_ascii_lowercase();
    if !settings.allowed_extensions.contains(&extension) {
        return Err(FileError::ExtensionNotAllowed(extension));
    }
    Ok(FileName {
        name: name.to_string(),
        extension,
    })
}

/// How the content of one extension is recognised.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// Binary, recognised from its first bytes; the MIME type it is stored with.
    Magic(fn(&[u8]) -> bool, &'static str),
    /// UTF-8 text without NUL; `head` must pass the check (when given).
    Text(Option<fn(&str) -> bool>, &'static str),
}

fn starts(prefix: &'static [u8]) -> impl Fn(&[u8]) -> bool {
    move |b| b.starts_with(prefix)
}

fn png(b: &[u8]) -> bool {
    starts(b"\x89PNG\r\n\x1a\n")(b)
}
fn jpeg(b: &[u8]) -> bool {
    starts(b"\xff\xd8\xff")(b)
}
fn gif(b: &[u8]) -> bool {
    b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a")
}
fn bmp(b: &[u8]) -> bool {
    b.len() >= 14 && b.starts_with(b"BM")
}
fn tiff(b: &[u8]) -> bool {
    b.starts_with(b"II*\0") || b.starts_with(b"MM\0*")
}
fn pdf(b: &[u8]) -> bool {
    b.starts_with(b"%PDF-")
}
fn zip(b: &[u8]) -> bool {
    b.starts_with(b"PK\x03\x04") || b.starts_with(b"PK\x05\x06")
}
fn ole(b: &[u8]) -> bool {
    b.starts_with(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")
}
fn seven_z(b: &[u8]) -> bool {
    b.starts_with(b"7z\xbc\xaf\x27\x1c")
}
fn rar(b: &[u8]) -> bool {
    b.starts_with(b"Rar!\x1a\x07")
}
fn gzip(b: &[u8]) -> bool {
    b.starts_with(b"\x1f\x8b")
}
fn tar(b: &[u8]) -> bool {
    b.get(257..262) == Some(b"ustar")
}
fn mp3(b: &[u8]) -> bool {
    b.starts_with(b"ID3") || (b.len() >= 2 && b[0] == 0xff && b[1] & 0xe0 == 0xe0)
}
fn ftyp(b: &[u8]) -> bool {
    b.get(4..8) == Some(b"ftyp")
}
fn mov(b: &[u8]) -> bool {
    ftyp(b) || matches!(b.get(4..8), Some(b"moov" | b"mdat" | b"wide" | b"free"))
}
fn riff(form: &'static [u8]) -> impl Fn(&[u8]) -> bool {
    move |b| b.starts_with(b"RIFF") && b.get(8..12) == Some(form)
}
fn avi(b: &[u8]) -> bool {
    riff(b"AVI ")(b)
}
fn wav(b: &[u8]) -> bool {
    riff(b"WAVE")(b)
}
fn ebml(b: &[u8]) -> bool {
    b.starts_with(b"\x1a\x45\xdf\xa3")
}
fn asf(b: &[u8]) -> bool {
    b.starts_with(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11")
}
fn psd(b: &[u8]) -> bool {
    b.starts_with(b"8BPS")
}
fn pcap(b: &[u8]) -> bool {
    [
        &b"\xd4\xc3\xb2\xa1"[..],
        b"\xa1\xb2\xc3\xd4",
        b"\x4d\x3c\xb2\xa1",
        b"\xa1\xb2\x3c\x4d",
        b"\x0a\x0d\x0d\x0a",
    ]
    .iter()
    .any(|m| b.starts_with(m))
}
fn pgp(b: &[u8]) -> bool {
    // ASCII armour, or a binary OpenPGP packet (its first byte has the high bit set).
    b.starts_with(b"-----BEGIN PGP") || b.first().is_some_and(|f| f & 0x80 != 0)
}

fn trimmed(head: &str) -> &str {
    head.trim_start_matches('\u{feff}').trim_start()
}
fn xml_head(head: &str) -> bool {
    trimmed(head).starts_with('<')
}
fn svg_head(head: &str) -> bool {
    let t = trimmed(head);
    t.starts_with('<') && t.contains("<svg")
}
fn json_head(head: &str) -> bool {
    matches!(trimmed(head).chars().next(), Some('{' | '[' | '"')) || trimmed(head).is_empty()
}

fn kind_of(ext: &str) -> Option<Kind> {
    use Kind::{Magic, Text};
    Some(match ext {
        "png" => Magic(png, "image/png"),
        "jpg" | "jpeg" => Magic(jpeg, "image/jpeg"),
        "gif" => Magic(gif, "image/gif"),
        "bmp" => Magic(bmp, "image/bmp"),
        "tif" | "tiff" => Magic(tiff, "image/tiff"),
        "psd" => Magic(psd, "image/vnd.adobe.photoshop"),
        "pdf" => Magic(pdf, "application/pdf"),
        "zip" => Magic(zip, "application/zip"),
        // Office Open XML documents are zip archives: a zip signature is what they look like.
        "docx" => Magic(
            zip,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        "xlsx" => Magic(
            zip,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        "doc" => Magic(ole, "application/msword"),
        "xls" => Magic(ole, "application/vnd.ms-excel"),
        "7z" => Magic(seven_z, "application/x-7z-compressed"),
        "rar" => Magic(rar, "application/vnd.rar"),
        "gz" | "tgz" => Magic(gzip, "application/gzip"),
        "tar" => Magic(tar, "application/x-tar"),
        "mp3" => Magic(mp3, "audio/mpeg"),
        "wav" => Magic(wav, "audio/wav"),
        "mp4" => Magic(ftyp, "video/mp4"),
        "mov" => Magic(mov, "video/quicktime"),
        "avi" => Magic(avi, "video/x-msvideo"),
        "mkv" => Magic(ebml, "video/x-matroska"),
        "webm" => Magic(ebml, "video/webm"),
        "wmv" => Magic(asf, "video/x-ms-wmv"),
        "pcap" => Magic(pcap, "application/vnd.tcpdump.pcap"),
        "pgp" => Magic(pgp, "application/pgp-encrypted"),
        "txt" | "cfg" => Text(None, "text/plain"),
        "csv" => Text(None, "text/csv"),
        "json" => Text(Some(json_head), "application/json"),
        "xml" => Text(Some(xml_head), "application/xml"),
        "svg" => Text(Some(svg_head), "image/svg+xml"),
        _ => return None,
    })
}

/// Bytes of the head the magic numbers and text checks look at.
pub const HEAD_BYTES: usize = 4096;

/// Checks a file's content against its extension as it streams: feed every chunk to
/// [`ContentCheck::feed`], then [`ContentCheck::finish`] answers the sniffed MIME type.
#[derive(Debug)]
pub struct ContentCheck {
    extension: String,
    kind: Kind,
    /// The first [`HEAD_BYTES`] bytes.
    head: Vec<u8>,
    /// Text types: the bytes of a UTF-8 sequence cut by a chunk boundary.
    carry: Vec<u8>,
    size: u64,
    max_bytes: u64,
}

impl ContentCheck {
    /// `name` passed [`check_name`], so its extension is one the server knows.
    pub fn new(name: &FileName, max_bytes: u64) -> Result<Self, FileError> {
        let kind = kind_of(&name.extension)
            .ok_or_else(|| FileError::ExtensionNotAllowed(name.extension.clone()))?;
        Ok(Self {
            extension: name.extension.clone(),
            kind,
            head: Vec::new(),
            carry: Vec::new(),
            size: 0,
            max_bytes,
        })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Takes the next chunk; refuses as soon as the file is too large or a text file is not text.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), FileError> {
        self.size += chunk.len() as u64;
        if self.size > self.max_bytes {
            return Err(FileError::TooLarge {
                max: self.max_bytes,
            });
        }
        if self.head.len() < HEAD_BYTES {
            let take = (HEAD_BYTES - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        if let Kind::Text(..) = self.kind {
            self.check_text(chunk)?;
        }
        Ok(())
    }

    fn not_text(&self) -> FileError {
        FileError::NotText(self.extension.clone())
    }

    fn check_text(&mut self, chunk: &[u8]) -> Result<(), FileError> {
        if chunk.contains(&0) {
            return Err(self.not_text());
        }
        let mut bytes = std::mem::take(&mut self.carry);
        bytes.extend_from_slice(chunk);
        match std::str::from_utf8(&bytes) {
            Ok(_) => Ok(()),
            // An incomplete sequence at the end may be completed by the next chunk.
            Err(e) if e.error_len().is_none() && bytes.len() - e.valid_up_to() < 4 => {
                self.carry = bytes[e.valid_up_to()..].to_vec();
                Ok(())
            }
            Err(_) => Err(self.not_text()),
        }
    }

    /// The sniffed MIME type, once the whole file was fed.
    pub fn finish(self) -> Result<&'static str, FileError> {
        if self.size == 0 {
            return Err(FileError::Empty);
        }
        let mismatch = || FileError::ContentMismatch(self.extension.clone());
        match self.kind {
            Kind::Magic(check, mime) => check(&self.head).then_some(mime).ok_or_else(mismatch),
            Kind::Text(head_check, mime) => {
                if !self.carry.is_empty() {
                    return Err(self.not_text());
                }
                // The head may end inside a UTF-8 sequence: check its valid part.
                let head = match std::str::from_utf8(&self.head) {
                    Ok(s) => s,
                    Err(e) => std::str::from_utf8(&self.head[..e.valid_up_to()])
                        .map_err(|_| self.not_text())?,
                };
                match head_check {
                    Some(check) if !check(head) => Err(mismatch()),
                    _ => Ok(mime),
                }
            }
        }
    }
}

/// The most files one message may carry.
pub const MAX_PER_MESSAGE: usize = 10;

/// The files a message names: at most [`MAX_PER_MESSAGE`], each once.
pub fn check_message_files<T: PartialEq>(ids: &[T]) -> Result<(), String> {
    if ids.len() > MAX_PER_MESSAGE {
        return Err(format!(
            "a message carries at most {MAX_PER_MESSAGE} attachments"
        ));
    }
    if ids.iter().enumerate().any(|(i, id)| ids[..i].contains(id)) {
        return Err("an attachment is named twice".into());
    }
    Ok(())
}

/// Raster image types a browser may show inline (thumbnails); never SVG or HTML.
pub fn inline_safe(mime: &str) -> bool {
    matches!(
        mime,
        "image/png" | "image/jpeg" | "image/gif" | "image/bmp" | "image/webp"
    )
}

/// The state of an uploaded file. Without a scanner every file is `clean` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanState {
    Clean,
    Pending,
    Rejected,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> AttachmentSettings {
        AttachmentSettings::default()
    }

    fn check(name: &str, chunks: &[&[u8]], max: u64) -> Result<&'static str, FileError> {
        let name = check_name(name, &settings())?;
        let mut c = ContentCheck::new(&name, max)?;
        for chunk in chunks {
            c.feed(chunk)?;
        }
        c.finish()
    }

    #[test]
    fn names() {
        let cases: &[(&str, Result<&str, FileError>)] = &[
            ("report.pdf", Ok("pdf")),
            ("Photo.JPG", Ok("jpg")),
            ("archive.tar.gz", Ok("gz")),
            (
                "invoice.pdf.exe",
                Err(FileError::ExtensionNotAllowed("exe".into())),
            ),
            ("", Err(FileError::EmptyName)),
            ("noext", Err(FileError::NoExtension)),
            (".pdf", Err(FileError::NoExtension)),
            ("trailing.", Err(FileError::NoExtension)),
            ("a\0b.pdf", Err(FileError::BadNameCharacter)),
            ("../etc/passwd.txt", Err(FileError::BadNameCharacter)),
            ("c:\\x.txt", Err(FileError::BadNameCharacter)),
            ("tab\there.txt", Err(FileError::BadNameCharacter)),
            (
                "page.html",
                Err(FileError::ExtensionNotAllowed("html".into())),
            ),
            ("résumé.pdf", Ok("pdf")),
        ];
        for (name, expected) in cases {
            assert_eq!(
                check_name(name, &settings()).map(|n| n.extension),
                expected.clone().map(str::to_string),
                "{name:?}"
            );
        }
        let long = format!("{}.txt", "x".repeat(252));
        assert_eq!(
            check_name(&long, &settings()).map(|_| ()),
            Err(FileError::NameTooLong)
        );
        assert!(check_name(&format!("{}.txt", "x".repeat(251)), &settings()).is_ok());
    }

    #[test]
    fn content_must_agree_with_the_extension() {
        let png_bytes: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        let mut tar_bytes = vec![b'a'; 300];
        tar_bytes[257..262].copy_from_slice(b"ustar");
        let mismatch = |e: &str| Err(FileError::ContentMismatch(e.into()));
        let not_text = |e: &str| Err(FileError::NotText(e.into()));
        type Case<'a> = (&'a str, Vec<&'a [u8]>, Result<&'a str, FileError>);
        let cases: Vec<Case> = vec![
            ("a.png", vec![png_bytes], Ok("image/png")),
            ("a.pdf", vec![png_bytes], mismatch("pdf")),
            ("a.pdf", vec![b"%PDF-1.7\n..."], Ok("application/pdf")),
            ("a.jpg", vec![b"\xff\xd8\xff\xe0rest"], Ok("image/jpeg")),
            ("a.gif", vec![b"GIF89a...."], Ok("image/gif")),
            (
                "a.docx",
                vec![b"PK\x03\x04word/"],
                Ok("application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
            ),
            (
                "a.xlsx",
                vec![b"PK\x03\x04xl/"],
                Ok("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            ),
            ("a.zip", vec![b"PK\x03\x04"], Ok("application/zip")),
            ("a.docx", vec![b"%PDF-1.4"], mismatch("docx")),
            ("a.tar", vec![&tar_bytes], Ok("application/x-tar")),
            ("a.gz", vec![b"\x1f\x8b\x08\0"], Ok("application/gzip")),
            ("a.mp4", vec![b"\0\0\0\x18ftypmp42"], Ok("video/mp4")),
            ("a.wav", vec![b"RIFF\0\0\0\0WAVEfmt "], Ok("audio/wav")),
            ("a.avi", vec![b"RIFF\0\0\0\0WAVEfmt "], mismatch("avi")),
            // The magic number split over two chunks still counts.
            ("a.png", vec![b"\x89PN", b"G\r\n\x1a\n\0"], Ok("image/png")),
            ("a.txt", vec![b"hello\n"], Ok("text/plain")),
            ("a.txt", vec![b"caf\xc3", b"\xa9 ok"], Ok("text/plain")),
            ("a.txt", vec![b"caf\xe9"], not_text("txt")),
            ("a.txt", vec![b"caf\xc3"], not_text("txt")),
            ("a.txt", vec![b"a\0b"], not_text("txt")),
            ("a.csv", vec![b"a,b\n1,2\n"], Ok("text/csv")),
            ("a.json", vec![b" {\"a\": 1}"], Ok("application/json")),
            ("a.json", vec![b"hello"], mismatch("json")),
            (
                "a.xml",
                vec![b"<?xml version=\"1.0\"?><a/>"],
                Ok("application/xml"),
            ),
            (
                "a.svg",
                vec![b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>"],
                Ok("image/svg+xml"),
            ),
            ("a.svg", vec![b"just text"], mismatch("svg")),
            ("a.svg", vec![png_bytes], not_text("svg")),
            ("a.png", vec![], Err(FileError::Empty)),
            ("a.txt", vec![b""], Err(FileError::Empty)),
        ];
        for (name, chunks, expected) in cases {
            assert_eq!(check(name, &chunks, 1 << 20), expected, "{name} {chunks:?}");
        }
    }

    #[test]
    fn size_is_bounded_while_streaming() {
        assert_eq!(
            check("a.txt", &[b"12345", b"6"], 5),
            Err(FileError::TooLarge { max: 5 })
        );
        assert_eq!(check("a.txt", &[b"12", b"345"], 5), Ok("text/plain"));
    }

    #[test]
    fn settings_validation() {
        assert!(settings().validate().is_ok());
        let mut s = settings();
        s.max_bytes = 0;
        assert!(s.validate().is_err());
        s.max_bytes = 10;
        s.allowed_extensions.push("exe".into());
        assert!(s.validate().is_err(), "the server cannot check .exe files");
    }

    #[test]
    fn a_message_names_at_most_ten_distinct_files() {
        assert!(check_message_files::<u8>(&[]).is_ok());
        assert!(check_message_files(&(0..10).collect::<Vec<_>>()).is_ok());
        assert!(check_message_files(&(0..11).collect::<Vec<_>>()).is_err());
        assert!(check_message_files(&[1, 2, 1]).is_err());
    }

    #[test]
    fn only_raster_images_are_inline() {
        for (mime, ok) in [
            ("image/png", true),
            ("image/jpeg", true),
            ("image/svg+xml", false),
            ("text/html", false),
            ("application/pdf", false),
        ] {
            assert_eq!(inline_safe(mime), ok, "{mime}");
        }
    }
}
