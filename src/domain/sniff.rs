//! Whether a file's content agrees with its extension (DESIGN §6: "extension allowlist and
//! content sniffing must agree"): magic numbers for binary types, UTF-8 without NUL (and a
//! plausible start) for text types. [`ContentCheck`] takes the file chunk by chunk as it streams
//! and answers the MIME type the content showed, which is what the server stores and serves.

use super::attachment::{FileError, FileName};

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

/// Raster image types a browser may show inline (thumbnails); never SVG or HTML.
pub fn inline_safe(mime: &str) -> bool {
    matches!(
        mime,
        "image/png" | "image/jpeg" | "image/gif" | "image/bmp" | "image/webp"
    )
}

/// Whether the server can check files with this extension.
pub fn known(ext: &str) -> bool {
    kind_of(ext).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::attachment::{check_name, AttachmentSettings};

    fn check(name: &str, chunks: &[&[u8]], max: u64) -> Result<&'static str, FileError> {
        let name = check_name(name, &AttachmentSettings::default())?;
        let mut c = ContentCheck::new(&name, max)?;
        for chunk in chunks {
            c.feed(chunk)?;
        }
        c.finish()
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
