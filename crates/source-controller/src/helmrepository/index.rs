//! Reading a Helm repository index (`index.yaml`) in bounded memory.
//!
//! Public chart repositories publish indexes of tens of megabytes; holding
//! one as a document tree takes many times its size. This reader walks the
//! YAML as a stream of events read from the file and keeps, per chart
//! version, only what a HelmChart needs (version, URLs, digest, creation
//! time), and only for the chart asked for; everything else is skipped as
//! it is read.
//!
//! An index is accepted as Helm's `LoadIndexFile` accepts it: one mapping
//! with an `apiVersion` and an `entries` mapping of chart names to lists of
//! versions (JSON indexes are YAML too).

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use granit_parser::{Event, Parser};

/// One version of a chart in the index: what a HelmChart needs of it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChartVersion {
    /// `version`.
    pub version: String,
    /// `urls`, as written (absolute, or relative to the repository URL).
    pub urls: Vec<String>,
    /// `digest`: the sha256 of the packaged chart, in hex, if given.
    pub digest: Option<String>,
    /// `created`, as written.
    pub created: Option<String>,
}

/// What a valid index holds, counted while reading it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Charts in `entries`.
    pub charts: usize,
    /// Chart versions, all charts together.
    pub versions: usize,
}

/// An index that cannot be read or is not a Helm repository index.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file cannot be read.
    #[error("reading the index {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The text is not YAML.
    #[error("the index is not valid YAML: {message} (line {line})")]
    Yaml {
        /// The parser's message.
        message: String,
        /// The line, from 1.
        line: usize,
    },
    /// The YAML is not a Helm repository index.
    #[error("the document is not a Helm repository index: {0}")]
    NotAnIndex(String),
}

/// A `Result` with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Checks that the file at `path` is a Helm repository index and counts its
/// charts and versions, keeping none of them.
///
/// # Errors
/// [`Error`]: unreadable, not YAML, or not an index.
pub fn summarize(path: &Path) -> Result<Summary> {
    let mut summary = Summary::default();
    let mut last_chart = None::<String>;
    walk(path, None, &mut |chart, _| {
        if last_chart.as_deref() != Some(chart) {
            summary.charts += 1;
            last_chart = Some(chart.to_owned());
        }
        summary.versions += 1;
    })?;
    Ok(summary)
}

/// The versions of chart `name` in the index at `path`, in index order.
///
/// # Errors
/// [`Error`]: unreadable, not YAML, or not an index.
pub fn versions_of(path: &Path, name: &str) -> Result<Vec<ChartVersion>> {
    let mut out = Vec::new();
    walk(path, Some(name), &mut |_, v| out.push(v))?;
    Ok(out)
}

/// Reads the index event by event, calling `found` for every version of
/// every chart (of `only` when given).
fn walk(path: &Path, only: Option<&str>, found: &mut dyn FnMut(&str, ChartVersion)) -> Result<()> {
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    let mut events = Events {
        parser: Parser::new_from_fallible_iter(Utf8Chars {
            bytes: BufReader::with_capacity(64 << 10, file),
        }),
        line: 1,
    };
    let mut api_version = false;
    let mut entries = false;
    loop {
        match events.next()? {
            Event::StreamStart | Event::DocumentStart(..) => {}
            Event::StreamEnd | Event::DocumentEnd => {
                return Err(Error::NotAnIndex(
                    "it is empty; a Helm repository serves an index.yaml with apiVersion and entries".into(),
                ));
            }
            Event::MappingStart(..) => break,
            _ => {
                return Err(Error::NotAnIndex(
                    "the top level is not a mapping with apiVersion and entries".into(),
                ));
            }
        }
    }
    loop {
        let key = match events.next()? {
            Event::MappingEnd => break,
            Event::Scalar(key, ..) => key.into_owned(),
            other => {
                events.skip(&other)?;
                events.skip_next()?;
                continue;
            }
        };
        match key.as_str() {
            "apiVersion" => {
                api_version = matches!(events.next()?, Event::Scalar(v, ..) if !v.is_empty());
            }
            "entries" => {
                entries = true;
                read_entries(&mut events, only, found)?;
            }
            _ => events.skip_next()?,
        }
    }
    if !api_version {
        return Err(Error::NotAnIndex(
            "no API version specified (apiVersion)".into(),
        ));
    }
    if !entries {
        return Err(Error::NotAnIndex("it has no 'entries'".into()));
    }
    Ok(())
}

/// Reads `entries`: chart names mapped to lists of versions.
fn read_entries(
    events: &mut Events<impl Iterator<Item = Result<char, granit_parser::ErrorKind>>>,
    only: Option<&str>,
    found: &mut dyn FnMut(&str, ChartVersion),
) -> Result<()> {
    match events.next()? {
        Event::MappingStart(..) => {}
        // `entries:` with nothing, as an empty repository's index has it.
        Event::Scalar(v, ..) if v.is_empty() || v == "null" || v == "~" => return Ok(()),
        _ => {
            return Err(Error::NotAnIndex(format!(
                "'entries' is not a mapping of chart names (line {})",
                events.line
            )));
        }
    }
    loop {
        let name = match events.next()? {
            Event::MappingEnd => return Ok(()),
            Event::Scalar(name, ..) => name.into_owned(),
            other => {
                return Err(Error::NotAnIndex(format!(
                    "a key of 'entries' is not a chart name (line {}): {other:?}",
                    events.line
                )));
            }
        };
        if only.is_some_and(|o| o != name) {
            events.skip_next()?;
            continue;
        }
        match events.next()? {
            Event::SequenceStart(..) => {}
            Event::Scalar(v, ..) if v.is_empty() || v == "null" => continue,
            _ => {
                return Err(Error::NotAnIndex(format!(
                    "entries.{name} is not a list of chart versions (line {})",
                    events.line
                )));
            }
        }
        loop {
            match events.next()? {
                Event::SequenceEnd => break,
                Event::MappingStart(..) => {
                    let version = read_version(events)?;
                    found(&name, version);
                }
                _ => {
                    return Err(Error::NotAnIndex(format!(
                        "an item of entries.{name} is not a chart version mapping (line {})",
                        events.line
                    )));
                }
            }
        }
    }
}

/// Reads one chart version mapping (its start already read), keeping the
/// fields a HelmChart needs.
fn read_version(
    events: &mut Events<impl Iterator<Item = Result<char, granit_parser::ErrorKind>>>,
) -> Result<ChartVersion> {
    let mut out = ChartVersion::default();
    loop {
        let key = match events.next()? {
            Event::MappingEnd => return Ok(out),
            Event::Scalar(key, ..) => key,
            other => {
                events.skip(&other)?;
                events.skip_next()?;
                continue;
            }
        };
        match &*key {
            "version" | "digest" | "created" => {
                let field = key.into_owned();
                match events.next()? {
                    Event::Scalar(v, ..) => {
                        let v = v.into_owned();
                        match field.as_str() {
                            "version" => out.version = v,
                            "digest" => out.digest = Some(v).filter(|d| !d.is_empty()),
                            _ => out.created = Some(v),
                        }
                    }
                    other => events.skip(&other)?,
                }
            }
            "urls" => match events.next()? {
                Event::SequenceStart(..) => loop {
                    match events.next()? {
                        Event::SequenceEnd => break,
                        Event::Scalar(u, ..) => out.urls.push(u.into_owned()),
                        other => events.skip(&other)?,
                    }
                },
                other => events.skip(&other)?,
            },
            _ => events.skip_next()?,
        }
    }
}

/// The parser's events, less comments and anchor metadata, with the line
/// of the last one for messages.
struct Events<I: Iterator<Item = Result<char, granit_parser::ErrorKind>>> {
    parser: Parser<'static, granit_parser::FallibleBufferedInput<I>>,
    line: usize,
}

impl<I: Iterator<Item = Result<char, granit_parser::ErrorKind>>> Events<I> {
    fn next(&mut self) -> Result<Event<'static>> {
        loop {
            match self.parser.next() {
                None => return Ok(Event::StreamEnd),
                Some(Err(e)) => {
                    return Err(Error::Yaml {
                        message: e.info(),
                        line: e.marker().line(),
                    });
                }
                Some(Ok((event, span))) => {
                    self.line = span.start.line();
                    match event {
                        Event::Comment(..) | Event::Anchor(..) => {}
                        event => return Ok(event),
                    }
                }
            }
        }
    }

    /// Skips the node that starts with `first` (already read).
    fn skip(&mut self, first: &Event<'static>) -> Result<()> {
        let mut depth: usize = match first {
            Event::SequenceStart(..) | Event::MappingStart(..) => 1,
            _ => return Ok(()),
        };
        while depth > 0 {
            match self.next()? {
                Event::SequenceStart(..) | Event::MappingStart(..) => depth += 1,
                Event::SequenceEnd | Event::MappingEnd => depth -= 1,
                Event::StreamEnd => {
                    return Err(Error::Yaml {
                        message: "the document ends inside a collection".into(),
                        line: self.line,
                    });
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Skips the next node.
    fn skip_next(&mut self) -> Result<()> {
        let first = self.next()?;
        self.skip(&first)
    }
}

/// The characters of a UTF-8 byte stream, read through a buffer.
struct Utf8Chars<R: Read> {
    bytes: BufReader<R>,
}

impl<R: Read> Utf8Chars<R> {
    fn byte(&mut self) -> std::io::Result<Option<u8>> {
        let buf = self.bytes.fill_buf()?;
        let Some(&b) = buf.first() else {
            return Ok(None);
        };
        self.bytes.consume(1);
        Ok(Some(b))
    }

    fn decode(&mut self) -> Result<Option<char>, String> {
        let io = |e: std::io::Error| format!("reading: {e}");
        let Some(first) = self.byte().map_err(io)? else {
            return Ok(None);
        };
        let width = match first {
            0x00..=0x7f => return Ok(Some(char::from(first))),
            0xc0..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf7 => 4,
            _ => return Err(format!("byte 0x{first:02x} is not UTF-8")),
        };
        let mut buf = [first, 0, 0, 0];
        for slot in buf.iter_mut().take(width).skip(1) {
            *slot = self
                .byte()
                .map_err(io)?
                .ok_or("the text ends inside a UTF-8 character")?;
        }
        std::str::from_utf8(&buf[..width])
            .ok()
            .and_then(|s| s.chars().next())
            .map(Some)
            .ok_or_else(|| "the text is not UTF-8".to_owned())
    }
}

impl<R: Read> Iterator for Utf8Chars<R> {
    type Item = Result<char, granit_parser::ErrorKind>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.decode() {
            Ok(c) => c.map(Ok),
            Err(message) => Some(Err(granit_parser::ErrorKind::InputDecoding { message })),
        }
    }
}

#[cfg(test)]
mod tests;
