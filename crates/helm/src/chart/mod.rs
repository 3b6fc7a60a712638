//! Charts: reading a chart's files from a packaged archive and filtering them with `.helmignore`.

pub mod archive;
pub mod ignore;
