//! Packaging a chart as `helm package` lays it out: a gzip-compressed tar of
//! `<name>/<file>` entries, written deterministically (entries in the given
//! order, mode 0644, owners and times zeroed) so the same files always give
//! the same bytes and digest.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;

use super::File;

/// Packaging a chart failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file name would leave the chart directory or is empty.
    #[error(
        "chart {chart}: file name {name:?} cannot be packaged: it must be a relative path inside the chart"
    )]
    BadName {
        /// The chart's name.
        chart: String,
        /// The file name.
        name: String,
    },
    /// The chart name cannot be a directory name.
    #[error("chart name {0:?} cannot be packaged: it must be one path element")]
    BadChartName(String),
    /// Writing the archive failed.
    #[error("writing the package of chart {chart}: {source}")]
    Write {
        /// The chart's name.
        chart: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// Writes `files` (names relative to the chart root, `/`-separated) as the
/// package of chart `name` to `out`, and returns `out`.
///
/// # Errors
/// [`Error::BadChartName`], [`Error::BadName`] for a path escaping the chart,
/// [`Error::Write`].
pub fn write_package<W: Write>(name: &str, files: &[File], out: W) -> Result<W, Error> {
    if name.is_empty() || name.contains(['/', '\\']) || name == "." || name == ".." {
        return Err(Error::BadChartName(name.to_owned()));
    }
    let write = |source| Error::Write {
        chart: name.to_owned(),
        source,
    };
    let mut tar = tar::Builder::new(GzEncoder::new(out, Compression::default()));
    for file in files {
        let bad = file.name.is_empty()
            || file.name.starts_with('/')
            || file.name.contains('\\')
            || file
                .name
                .split('/')
                .any(|s| s.is_empty() || s == "." || s == "..");
        if bad {
            return Err(Error::BadName {
                chart: name.to_owned(),
                name: file.name.clone(),
            });
        }
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_size(u64::try_from(file.data.len()).unwrap_or(u64::MAX));
        tar.append_data(
            &mut header,
            format!("{name}/{}", file.name),
            file.data.as_slice(),
        )
        .map_err(write)?;
    }
    let gz = tar.into_inner().map_err(write)?;
    gz.finish().map_err(write)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, data: &str) -> File {
        File {
            name: name.to_owned(),
            data: data.as_bytes().to_vec(),
        }
    }

    #[test]
    fn a_package_loads_back_as_the_same_chart() {
        let files = vec![
            file("Chart.yaml", "apiVersion: v2\nname: demo\nversion: 1.2.3\n"),
            file("values.yaml", "replicas: 2\n"),
            file("templates/cm.yaml", "kind: ConfigMap\n"),
        ];
        let bytes = write_package("demo", &files, Vec::new()).unwrap();
        let again = write_package("demo", &files, Vec::new()).unwrap();
        assert_eq!(bytes, again, "packaging is deterministic");
        let chart = crate::chart::load_archive(&bytes, "demo").unwrap();
        assert_eq!(chart.metadata.version, "1.2.3");
        assert_eq!(chart.values.get("replicas"), Some(&serde_json::json!(2.0)));
        assert_eq!(chart.templates.len(), 1);
    }

    #[test]
    fn names_escaping_the_chart_are_refused() {
        for name in ["../x", "/etc/passwd", "a//b", "a/./b", "a\\b", ""] {
            let err = write_package("demo", &[file(name, "")], Vec::new()).unwrap_err();
            assert!(matches!(err, Error::BadName { .. }), "{name}: {err}");
        }
        assert!(matches!(
            write_package("../demo", &[], Vec::new()),
            Err(Error::BadChartName(_))
        ));
    }
}
