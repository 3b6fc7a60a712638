use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;

use super::*;

/// `helm package` (4.1.4) output for a chart `g` whose `.helmignore` is `*.txt`.
const HELM_PACKAGED: &[&str] = &[
    "1f8b08140000000000ff29002b6148523063484d364c79393562335630645335695a5339364f5656364d576c6a616e64",
    "7954516f3d48656c6d00ecd6cd4a03311000e03def530cb5a722c94cba3f50f024e81b788f6e4c97ee4fd98d450d7977",
    "a920965e8a3fd922ce7709ec656699cc64acbc5eebc18917dd36492488884596bd9f88787c22664542f912f32c5739e6",
    "0912656a9900c64ae8d0d3e8f490e08f631dffdc1fa1b7f59d19c6baef56b05369a75bb3029bee3ebea12081e9b9b364",
    "b158e94cbb6db433a38c35054ef67fa93efb9f2841520595dcff53f01e06dd5903f3cd25cc77b0ba027153376614b74d",
    "7f0fb3c56206215c80f730df4008a9f760ba0a423877e6ec375829aadec58d71b2ff118fde7f5439bfff93b052ac4dd3",
    "d6b6eb071329c6e9fa1fec7f54eef7bf42f1fc9fc442b867c7fbddbf6565d53f8c72106d152dc6d7e73f51c9fd3f092b",
    "1ff7db9e7c8d7801be51ff65415c7fc6188be92d0000ffffc6fffd6800160000",
];

fn unhex(parts: &[&str]) -> Vec<u8> {
    let hex: String = parts.concat();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// An entry of a hand-built archive.
enum E<'a> {
    File(&'a str, &'a [u8]),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    /// A pax global header, as `git archive` writes.
    PaxGlobal,
}

/// Builds a `.tgz`, writing names byte for byte (the `tar` crate's builder refuses `..`).
fn tgz(entries: &[E<'_>]) -> Vec<u8> {
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast()));
    for entry in entries {
        let mut header = tar::Header::new_ustar();
        let (name, kind, data): (&str, tar::EntryType, &[u8]) = match entry {
            E::File(name, data) => (name, tar::EntryType::Regular, data),
            E::Dir(name) => (name, tar::EntryType::Directory, b""),
            E::Symlink(name, target) => {
                header.set_link_name(target).unwrap();
                (name, tar::EntryType::Symlink, b"")
            }
            E::PaxGlobal => (
                "pax_global_header",
                tar::EntryType::XGlobalHeader,
                b"52 comment=0123456789012345678901234567890123456789\n",
            ),
        };
        let field = &mut header.as_old_mut().name;
        field.fill(0);
        field[..name.len()].copy_from_slice(name.as_bytes());
        header.set_entry_type(kind);
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append(&header, data).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

fn paths(files: &[ArchiveFile]) -> Vec<&str> {
    files.iter().map(|f| f.path.as_str()).collect()
}

const CHART: &[u8] = b"apiVersion: v2\nname: c\nversion: 0.1.0\n";

#[test]
fn a_helm_packaged_chart_reads_back_in_archive_order() {
    let bytes = unhex(HELM_PACKAGED);
    assert!(is_gzip(&bytes));
    let files = read_archive(&bytes, &Limits::default()).unwrap();
    assert_eq!(
        paths(&files),
        [
            "Chart.yaml",
            "templates/t.yaml",
            ".dot",
            ".helmignore",
            "docs/r.md",
            "files/z.md"
        ]
    );
    assert_eq!(files[3].data, b"*.txt\n");
    assert!(files[0].data.starts_with(b"apiVersion: v2\nname: g\n"));
}

#[test]
fn paths_are_stripped_of_the_chart_directory_and_cleaned() {
    // helm 4.1.4 loaded each of these charts; `.Files.Glob` listed these names.
    let bytes = tgz(&[
        E::PaxGlobal,
        E::Dir("c/"),
        E::File("c/Chart.yaml", CHART),
        E::File("/c/x", b"x"),
        E::File("c/./x/../y", b"y"),
        E::File("c/z/", b""),
        E::File("c/b.txt", b"\xef\xbb\xbfhi"),
        E::Symlink("c/link", "/etc/passwd"),
    ]);
    let files = read_archive(&bytes, &Limits::default()).unwrap();
    assert_eq!(
        paths(&files),
        ["Chart.yaml", "c/x", "y", "z", "b.txt", "link"],
        "a regular entry named `z/` is the file `z`; a symlink is an empty file"
    );
    assert_eq!(files[4].data, b"hi", "the byte order mark is removed");
    assert_eq!(files[5].data, b"");

    let windows = tgz(&[
        E::File("c\\Chart.yaml", CHART),
        E::File("c\\d\\e.txt", b"hi"),
    ]);
    let files = read_archive(&windows, &Limits::default()).unwrap();
    assert_eq!(paths(&files), ["Chart.yaml", "d/e.txt"]);
}

#[test]
fn paths_outside_the_chart_are_refused_with_helms_words() {
    // The messages helm 4.1.4 printed (`helm show chart`) for the same archives.
    let cases: &[(&str, &str)] = &[
        ("c/../x", "chart illegally references parent directory"),
        ("c/a/../../x", "chart illegally references parent directory"),
        ("c//x", "chart illegally contains absolute paths"),
        (
            "x",
            "chart illegally contains content outside the base directory: \"x\"",
        ),
        (
            "Chart.yaml",
            "chart illegally contains content outside the base directory: \"Chart.yaml\"",
        ),
        ("c/c:/x", "chart contains illegally named files"),
        ("Chart.yaml/x", "chart yaml not in base directory"),
    ];
    for (name, want) in cases {
        let bytes = tgz(&[E::File("c/Chart.yaml", CHART), E::File(name, b"x")]);
        let err = read_archive(&bytes, &Limits::default()).unwrap_err();
        assert!(err.to_string().starts_with(want), "{name:?}: {err}");
    }
}

#[test]
fn bad_archives_are_refused() {
    let empty = tgz(&[E::Dir("c/")]);
    let err = read_archive(&empty, &Limits::default()).unwrap_err();
    assert!(matches!(err, Error::Empty), "{err}");
    assert!(err.to_string().starts_with("no files in chart archive"));

    let not_gzip = b"apiVersion: v2\n";
    assert!(!is_gzip(not_gzip));
    let err = read_archive(not_gzip, &Limits::default()).unwrap_err();
    assert!(matches!(err, Error::Read { .. }), "{err}");

    let mut truncated = tgz(&[E::File("c/Chart.yaml", CHART)]);
    truncated.truncate(30);
    let err = read_archive(&truncated, &Limits::default()).unwrap_err();
    assert!(matches!(err, Error::Read { .. }), "{err}");
}

#[test]
fn a_file_over_the_file_cap_is_refused() {
    // helm 4.1.4: `decompressed chart file "c/big" is larger than the maximum file size 5242880`.
    let big = vec![0u8; 5 * 1024 * 1024 + 1];
    let bytes = tgz(&[E::File("c/Chart.yaml", CHART), E::File("c/big", &big)]);
    let err = read_archive(&bytes, &Limits::default()).unwrap_err();
    assert!(
        err.to_string().starts_with(
            "decompressed chart file \"c/big\" is larger than the maximum file size 5242880"
        ),
        "{err}"
    );
    let at_cap = tgz(&[E::File("c/big", &big[1..])]);
    assert_eq!(
        read_archive(&at_cap, &Limits::default()).unwrap()[0]
            .data
            .len(),
        big.len() - 1
    );
}

#[test]
fn files_over_the_chart_cap_are_refused() {
    let limits = Limits {
        max_total_bytes: 10,
        max_file_bytes: 8,
        max_files: 10,
    };
    let fits = tgz(&[E::File("c/a", b"12345"), E::File("c/b", b"12345")]);
    assert_eq!(read_archive(&fits, &limits).unwrap().len(), 2);
    let over = tgz(&[E::File("c/a", b"12345"), E::File("c/b", b"123456")]);
    let err = read_archive(&over, &limits).unwrap_err();
    assert!(
        matches!(&err, Error::ChartTooLarge { name, limit: 10 } if name == "c/b"),
        "{err}"
    );
}

#[test]
fn too_many_files_are_refused() {
    let limits = Limits {
        max_files: 3,
        ..Limits::default()
    };
    let names: Vec<String> = (0..5).map(|i| format!("c/f{i}")).collect();
    let entries: Vec<E<'_>> = names.iter().map(|n| E::File(n, b"")).collect();
    let err = read_archive(&tgz(&entries), &limits).unwrap_err();
    assert!(
        matches!(&err, Error::TooManyFiles { name, limit: 3 } if name == "c/f3"),
        "{err}"
    );
}

/// A gzip stream of `len` zero bytes, written in pieces so the test never holds them all.
fn gzip_of_zeros(len: usize, header: Option<&tar::Header>) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    if let Some(header) = header {
        encoder.write_all(header.as_bytes()).unwrap();
    }
    let block = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = left.min(block.len());
        encoder.write_all(&block[..n]).unwrap();
        left -= n;
    }
    encoder.finish().unwrap()
}

#[test]
fn a_gzip_bomb_fails_at_the_cap_while_streaming() {
    // One entry that claims 64 MiB of zeros: about 64 KiB compressed.
    let mut header = tar::Header::new_ustar();
    header.set_path("c/bomb").unwrap();
    header.set_size(1 << 26);
    header.set_cksum();
    let bomb = gzip_of_zeros(1 << 26, Some(&header));
    assert!(bomb.len() < 1 << 20, "{}", bomb.len());
    let limits = Limits {
        max_total_bytes: 1 << 20,
        max_file_bytes: 1 << 20,
        max_files: 10,
    };
    let err = read_archive(&bomb, &limits).unwrap_err();
    assert!(matches!(err, Error::FileTooLarge { .. }), "{err}");

    // A pax header claiming 64 MiB: the tar reader would buffer it; the stream budget stops it.
    let mut pax = tar::Header::new_ustar();
    pax.set_path("PaxHeaders/x").unwrap();
    pax.set_entry_type(tar::EntryType::XHeader);
    pax.set_size(1 << 26);
    pax.set_cksum();
    let bomb = gzip_of_zeros(1 << 26, Some(&pax));
    let err = read_archive(&bomb, &limits).unwrap_err();
    assert!(matches!(err, Error::StreamTooLarge { .. }), "{err}");
}
