//! What can go wrong loading language packs. Every variant names the file, so an operator
//! who drops a broken `xx.toml` into the language directory is told which one and why.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    #[error("cannot read the language directory {dir}: {source}")]
    ReadDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read language pack {file}: {source}")]
    ReadFile {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("language pack {file} is not valid TOML for a pack: {message}")]
    Syntax { file: String, message: String },
    #[error("language pack {file}: {problem}")]
    Invalid { file: String, problem: String },
    #[error("language packs {first} and {second} both define language {code:?}")]
    DuplicateCode {
        code: String,
        first: String,
        second: String,
    },
}
