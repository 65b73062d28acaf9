//! Attachments' rules (seed 001, DESIGN §11): the org's settings, what a file may be called, how
//! many files a message may carry, and a file's scan state. Whether the content agrees with the
//! extension is [`super::sniff`].

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
            if !super::sniff::known(ext) {
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
}
