//! Errors that point into a file as `file:line:col: what is wrong`, shared by the static
//! config and the flags file so both read the same way in logs and in `banyan check`.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub file: PathBuf,
    /// 1-based line and column; `None` when the problem is the file as a whole (unreadable).
    pub position: Option<(usize, usize)>,
    pub message: String,
}

impl Located {
    /// An error at a byte offset of `text`, the file's content.
    pub fn at(file: &Path, text: &str, offset: usize, message: impl Into<String>) -> Self {
        let offset = offset.min(text.len());
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = text[line_start..offset].chars().count() + 1;
        Located { file: file.to_path_buf(), position: Some((line, col)), message: message.into() }
    }

    pub fn at_span(file: &Path, text: &str, span: Range<usize>, message: impl Into<String>) -> Self {
        Self::at(file, text, span.start, message)
    }

    /// A TOML syntax or shape error, located where the parser says.
    pub fn from_toml(file: &Path, text: &str, err: &toml::de::Error) -> Self {
        let message = err.message().trim().to_string();
        match err.span() {
            Some(span) => Self::at_span(file, text, span, message),
            None => Self::whole_file(file, message),
        }
    }

    pub fn whole_file(file: &Path, message: impl Into<String>) -> Self {
        Located { file: file.to_path_buf(), position: None, message: message.into() }
    }
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((line, col)) => {
                write!(f, "{}:{line}:{col}: {}", self.file.display(), self.message)
            }
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for Located {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let text = "a = 1\nbé = x\n";
        let e = Located::at(Path::new("f.toml"), text, text.find('x').unwrap(), "bad");
        assert_eq!(e.to_string(), "f.toml:2:6: bad");
    }
}
