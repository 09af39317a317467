//! Config errors with positions: what `firebreak check` prints and `POST /reload` returns.
//!
//! Every error points at the offending value as `LINE:COL` (both 1-based, the column counted in
//! characters, so editors and `grep -n` agree), which is computed once from the byte span that
//! the TOML deserializer recorded. A whole file's errors render as `PATH:LINE:COL: message`, one
//! per line, the format compilers use, so editors can jump to them.

use std::fmt;
use std::ops::Range;

/// One problem in the config file, at a position in its text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{col}: {message}")]
pub struct ConfigError {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, counted in characters (not bytes).
    pub col: usize,
    /// One line of text, without the position.
    pub message: String,
}

impl ConfigError {
    /// An error at the start of the byte `span` of `text` (out-of-range spans are clamped).
    pub fn at(text: &str, span: Range<usize>, message: impl Into<String>) -> Self {
        let (line, col) = line_col(text, span.start);
        ConfigError {
            line,
            col,
            message: one_line(&message.into()),
        }
    }

    /// An error with no meaningful position (reported at 1:1).
    pub fn unplaced(message: impl Into<String>) -> Self {
        ConfigError {
            line: 1,
            col: 1,
            message: one_line(&message.into()),
        }
    }

    /// A TOML syntax or type error, placed at the span the parser reported.
    pub fn from_toml(text: &str, error: &toml::de::Error) -> Self {
        match error.span() {
            Some(span) => Self::at(text, span, error.message()),
            None => Self::unplaced(error.message()),
        }
    }
}

/// All the errors of one config file. Displays as one `PATH:LINE:COL: message` line per error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    /// The file as the user named it.
    pub path: String,
    /// In file order; never empty when returned as an `Err`.
    pub errors: Vec<ConfigError>,
}

impl ConfigErrors {
    /// One error without a position (e.g. the file cannot be read), reported at 1:1.
    pub fn single(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigErrors {
            path: path.into(),
            errors: vec![ConfigError::unplaced(message)],
        }
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{}:{e}", self.path)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// 1-based (line, column in characters) of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

/// Keeps the one-error-per-line output format intact for multi-line parser messages.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let text = "a = 1\nb = \"é€\" x\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 4), (1, 5));
        assert_eq!(line_col(text, 6), (2, 1));
        let x = text.find('x').unwrap_or(0);
        assert_eq!(line_col(text, x), (2, 10));
        // Inside a multi-byte character, and past the end: clamped, never a panic.
        let e = text.find('é').unwrap_or(0);
        assert_eq!(line_col(text, e + 1), (2, 6));
        assert_eq!(line_col(text, 10_000), (3, 1));
        assert_eq!(line_col("", 5), (1, 1));
    }

    #[test]
    fn display_is_one_line_per_error() {
        let text = "x = 1\ny = 2\n";
        let errors = ConfigErrors {
            path: "conf/f.toml".into(),
            errors: vec![
                ConfigError::at(text, 4..5, "first"),
                ConfigError::at(text, 10..11, "second\nwith detail"),
            ],
        };
        assert_eq!(
            errors.to_string(),
            "conf/f.toml:1:5: first\nconf/f.toml:2:5: second; with detail"
        );
        let single = ConfigErrors::single("f.toml", "cannot read file: gone");
        assert_eq!(single.to_string(), "f.toml:1:1: cannot read file: gone");
    }

    #[test]
    fn toml_errors_keep_their_position() {
        let text = "a = 1\nb = \n";
        let Err(e) = text.parse::<toml::Table>() else {
            panic!("should not parse");
        };
        let e = ConfigError::from_toml(text, &e);
        assert_eq!((e.line, e.col), (2, 5));
        assert!(!e.message.contains('\n'));
    }
}
