use super::*;

/// The chart used against helm 4.1.4: every directory and file, in walk order.
const TREE: &[(&str, bool)] = &[
    (".dot", false),
    (".helmignore", false),
    ("Chart.yaml", false),
    ("a.txt", false),
    ("b.txt", false),
    ("docs", true),
    ("docs/r.md", false),
    ("docs/sub", true),
    ("docs/sub/x.txt", false),
    ("files", true),
    ("files/z.md", false),
    ("keep", true),
    ("keep/y.txt", false),
    ("keep.txt", false),
    ("q[1].txt", false),
    ("star*.txt", false),
    ("templates", true),
    ("templates/.hidden", false),
    ("templates/t.yaml", false),
    ("templates/x.txt", false),
];

/// What `.Files.Glob "**"` lists after Helm's directory walk with `rules` and the defaults: the
/// kept files outside `templates/`, without `Chart.yaml`.
fn files_listed(helmignore: &str) -> String {
    let rules = Rules::parse(helmignore).unwrap().with_defaults();
    let mut skipped_dirs: Vec<&str> = Vec::new();
    let mut kept = Vec::new();
    for &(path, is_dir) in TREE {
        if skipped_dirs
            .iter()
            .any(|d| path.starts_with(&format!("{d}/")))
        {
            continue;
        }
        if rules.ignored(path, is_dir) {
            if is_dir {
                skipped_dirs.push(path);
            }
            continue;
        }
        if !is_dir && path != "Chart.yaml" && !path.starts_with("templates/") {
            kept.push(path);
        }
    }
    kept.sort_unstable();
    kept.join(" ")
}

#[test]
fn helmignore_rules_keep_what_helm_keeps() {
    // Each expectation is what `.Files.Glob "**"` printed with helm 4.1.4 for that .helmignore.
    let all = ".dot .helmignore a.txt b.txt docs/r.md docs/sub/x.txt files/z.md keep.txt \
               keep/y.txt q[1].txt star*.txt";
    let cases: &[(&str, &str)] = &[
        ("", all),
        ("*.txt\n", ".dot .helmignore docs/r.md files/z.md"),
        (
            "docs/\n",
            ".dot .helmignore a.txt b.txt files/z.md keep.txt keep/y.txt q[1].txt star*.txt",
        ),
        (
            "docs\n",
            ".dot .helmignore a.txt b.txt files/z.md keep.txt keep/y.txt q[1].txt star*.txt",
        ),
        (
            "/docs/\n",
            ".dot .helmignore a.txt b.txt files/z.md keep.txt keep/y.txt q[1].txt star*.txt",
        ),
        (
            "sub/\n",
            ".dot .helmignore a.txt b.txt docs/r.md files/z.md keep.txt keep/y.txt q[1].txt \
             star*.txt",
        ),
        (
            "docs/*\n",
            ".dot .helmignore a.txt b.txt files/z.md keep.txt keep/y.txt q[1].txt star*.txt",
        ),
        (
            "/a.txt\n",
            ".dot .helmignore b.txt docs/r.md docs/sub/x.txt files/z.md keep.txt keep/y.txt \
             q[1].txt star*.txt",
        ),
        (
            "x.txt\n",
            ".dot .helmignore a.txt b.txt docs/r.md files/z.md keep.txt keep/y.txt q[1].txt \
             star*.txt",
        ),
        ("*.txt/\n", all),
        ("a.txt/\n", all),
        (
            "q\\[1\\].txt\n",
            ".dot .helmignore a.txt b.txt docs/r.md docs/sub/x.txt files/z.md keep.txt \
             keep/y.txt star*.txt",
        ),
        (
            "star\\*.txt\n",
            ".dot .helmignore a.txt b.txt docs/r.md docs/sub/x.txt files/z.md keep.txt \
             keep/y.txt q[1].txt",
        ),
        (
            "  a.txt  \n#b.txt\n",
            ".dot .helmignore b.txt docs/r.md docs/sub/x.txt files/z.md keep.txt keep/y.txt \
             q[1].txt star*.txt",
        ),
        (
            ".helmignore\n",
            ".dot a.txt b.txt docs/r.md docs/sub/x.txt files/z.md keep.txt keep/y.txt q[1].txt \
             star*.txt",
        ),
        (
            "[a-b].txt\n",
            ".dot .helmignore docs/r.md docs/sub/x.txt files/z.md keep.txt keep/y.txt q[1].txt \
             star*.txt",
        ),
        (
            "[^a].txt\n",
            ".dot .helmignore a.txt docs/r.md files/z.md keep.txt q[1].txt star*.txt",
        ),
        // `!` does not negate a class in Go: `[!a]` is the class of `!` and `a`.
        (
            "[!a].txt\n",
            ".dot .helmignore b.txt docs/r.md docs/sub/x.txt files/z.md keep.txt keep/y.txt \
             q[1].txt star*.txt",
        ),
        (
            "docs/sub\n",
            ".dot .helmignore a.txt b.txt docs/r.md files/z.md keep.txt keep/y.txt q[1].txt \
             star*.txt",
        ),
        (
            "docs/*/x.txt\n",
            ".dot .helmignore a.txt b.txt docs/r.md files/z.md keep.txt keep/y.txt q[1].txt \
             star*.txt",
        ),
        ("*/x.txt\n", all),
        (
            ".*\n",
            "a.txt b.txt docs/r.md docs/sub/x.txt files/z.md keep.txt keep/y.txt q[1].txt \
             star*.txt",
        ),
        (
            "a.txt\r\nb.txt\r\n",
            ".dot .helmignore docs/r.md docs/sub/x.txt files/z.md keep.txt keep/y.txt q[1].txt \
             star*.txt",
        ),
        ("\\#x\n", all),
        (" \\ a.txt\n", all),
        ("templates\n", all),
    ];
    for (helmignore, want) in cases {
        assert_eq!(
            files_listed(helmignore),
            *want,
            ".helmignore {helmignore:?}"
        );
    }
}

#[test]
fn a_negated_rule_ignores_every_path_it_does_not_match() {
    // helm 4.1.4 fails these charts with "Chart.yaml file is missing".
    for text in ["!keep.txt\n", "*.txt\n!keep.txt\n", "!docs/\n"] {
        let rules = Rules::parse(text).unwrap().with_defaults();
        assert!(rules.ignored("Chart.yaml", false), "{text:?}");
    }
    let rules = Rules::parse("!docs/\n").unwrap();
    assert!(!rules.ignored("docs", true));
    assert!(rules.ignored("other", true));
}

#[test]
fn the_default_rule_ignores_dotfiles_directly_in_templates() {
    let rules = Rules::default().with_defaults();
    assert_eq!(rules.len(), 1);
    assert!(rules.ignored("templates/.hidden", false));
    assert!(!rules.ignored("templates/x.txt", false));
    assert!(!rules.ignored("templates/sub/.hidden", false));
    assert!(!rules.ignored("templates/.", false));
    assert!(!rules.ignored(".dot", false));
}

#[test]
fn the_chart_root_is_never_ignored() {
    let rules = Rules::parse("*\n.*\n").unwrap();
    for root in ["", ".", "./"] {
        assert!(!rules.ignored(root, true));
    }
    assert!(rules.ignored("x", false));
}

#[test]
fn bad_rules_are_refused_with_the_line() {
    // helm 4.1.4: "double-star (**) syntax is not supported", "syntax error in pattern".
    let cases: &[(&str, Error)] = &[
        (
            "a\n**/x.txt\n",
            Error::DoubleStar {
                line: 2,
                rule: "**/x.txt".into(),
            },
        ),
        (
            "# c\n[\n",
            Error::BadRule {
                line: 2,
                rule: "[".into(),
            },
        ),
        (
            "a.tx\\\n",
            Error::BadRule {
                line: 1,
                rule: "a.tx\\".into(),
            },
        ),
        (
            "[]a]\n",
            Error::BadRule {
                line: 1,
                rule: "[]a]".into(),
            },
        ),
    ];
    for (text, want) in cases {
        assert_eq!(Rules::parse(text).unwrap_err(), *want, "{text:?}");
    }
    let message = Rules::parse("**").unwrap_err().to_string();
    assert!(
        message.contains("double-star (**) syntax is not supported"),
        "{message}"
    );
}

#[test]
fn glob_match_is_go_path_match() {
    // From Go's path/match_test.go, and `--show-only` runs against helm 4.1.4
    // (`templates[/]t.yaml` and `templates/[^a]*` matched, `templates?t.yaml` did not).
    let cases: &[(&str, &str, Result<bool, ()>)] = &[
        ("abc", "abc", Ok(true)),
        ("*", "abc", Ok(true)),
        ("*c", "abc", Ok(true)),
        ("a*", "a", Ok(true)),
        ("a*", "abc", Ok(true)),
        ("a*", "ab/c", Ok(false)),
        ("a*/b", "abc/b", Ok(true)),
        ("a*/b", "a/c/b", Ok(false)),
        ("a*b*c*d*e*/f", "axbxcxdxe/f", Ok(true)),
        ("a*b*c*d*e*/f", "axbxcxdxexxx/f", Ok(true)),
        ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", Ok(false)),
        ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", Ok(false)),
        ("a*b?c*x", "abxbbxdbxebxczzx", Ok(true)),
        ("a*b?c*x", "abxbbxdbxebxczzy", Ok(false)),
        ("ab[c]", "abc", Ok(true)),
        ("ab[b-d]", "abc", Ok(true)),
        ("ab[e-g]", "abc", Ok(false)),
        ("ab[^c]", "abc", Ok(false)),
        ("ab[^b-d]", "abc", Ok(false)),
        ("ab[^e-g]", "abc", Ok(true)),
        ("a\\*b", "a*b", Ok(true)),
        ("a\\*b", "ab", Ok(false)),
        ("a?b", "a☺b", Ok(true)),
        ("a[^a]b", "a☺b", Ok(true)),
        ("a???b", "a☺b", Ok(false)),
        ("a[^a][^a][^a]b", "a☺b", Ok(false)),
        ("[a-ζ]*", "α", Ok(true)),
        ("*[a-ζ]", "A", Ok(false)),
        ("a?b", "a/b", Ok(false)),
        ("a*b", "a/b", Ok(false)),
        ("[\\]a]", "]", Ok(true)),
        ("[\\-]", "-", Ok(true)),
        ("[x\\-]", "x", Ok(true)),
        ("[x\\-]", "-", Ok(true)),
        ("[x\\-]", "z", Ok(false)),
        ("[\\-x]", "x", Ok(true)),
        ("[\\-x]", "-", Ok(true)),
        ("[\\-x]", "a", Ok(false)),
        ("[]a]", "]", Err(())),
        ("[-]", "-", Err(())),
        ("[x-]", "x", Err(())),
        ("[x-]", "-", Err(())),
        ("[x-]", "z", Err(())),
        ("[-x]", "x", Err(())),
        ("[-x]", "-", Err(())),
        ("[-x]", "a", Err(())),
        ("\\", "a", Err(())),
        ("[a-b-c]", "a", Err(())),
        ("[", "a", Err(())),
        ("[^", "a", Err(())),
        ("[^bc", "a", Err(())),
        ("a[", "a", Err(())),
        ("a[", "ab", Err(())),
        ("a[", "x", Err(())),
        ("a/b[", "x", Err(())),
        ("*x", "xxx", Ok(true)),
        ("templates[/]t.yaml", "templates/t.yaml", Ok(true)),
        ("templates?t.yaml", "templates/t.yaml", Ok(false)),
        ("templates/[^a]*", "templates/t.yaml", Ok(true)),
        ("*", "templates/t.yaml", Ok(false)),
    ];
    for (pattern, name, want) in cases {
        let got = glob_match(pattern, name).map_err(|_| ());
        assert_eq!(got, *want, "glob_match({pattern:?}, {name:?})");
    }
}

#[test]
fn files_glob_match_is_gobwas_glob() {
    // `**` crosses directories (helm 4.1.4's `.Files.Glob "**"` lists `docs/sub/x.txt`).
    let cases: &[(&str, &str, bool)] = &[
        ("**", "docs/sub/x.txt", true),
        ("*", "docs/sub/x.txt", false),
        ("*", "a.txt", true),
        ("docs/*", "docs/r.md", true),
        ("docs/*", "docs/sub/x.txt", false),
        ("docs/**", "docs/sub/x.txt", true),
        ("**.txt", "docs/sub/x.txt", true),
        ("**/*.txt", "a.txt", false),
        ("**/*.txt", "docs/a.txt", true),
        ("?.txt", "a.txt", true),
        ("?", "/", false),
        ("[!a].txt", "b.txt", true),
        ("[!a].txt", "a.txt", false),
        ("[a-c].txt", "b.txt", true),
        ("{a,b}.txt", "b.txt", true),
        ("{a,b}.txt", "c.txt", false),
        ("{docs/**,*.md}", "docs/sub/x.txt", true),
        ("{docs/**,*.md}", "r.md", true),
        ("a\\*", "a*", true),
        ("a\\*", "ab", false),
        ("a,b", "a,b", true),
        // Not a valid gobwas pattern: Helm falls back to `**`.
        ("[", "anything/at/all", true),
        ("{a,b", "zzz", true),
    ];
    for (pattern, name, want) in cases {
        assert_eq!(
            files_glob_match(pattern, name),
            *want,
            "files_glob_match({pattern:?}, {name:?})"
        );
    }
}

#[test]
fn files_glob_lists_what_helm_lists() {
    // `.Files.Glob PATTERN` with helm 4.1.4 over the files of `TREE` (no .helmignore).
    let files: Vec<&str> = TREE
        .iter()
        .filter(|(p, dir)| !dir && *p != "Chart.yaml" && !p.starts_with("templates/"))
        .map(|(p, _)| *p)
        .collect();
    let cases: &[(&str, &str)] = &[
        ("{docs/**,*.md}", "docs/r.md docs/sub/x.txt"),
        (
            "**.txt",
            "a.txt b.txt docs/sub/x.txt keep.txt keep/y.txt q[1].txt star*.txt",
        ),
        (
            "*",
            ".dot .helmignore a.txt b.txt keep.txt q[1].txt star*.txt",
        ),
        ("[!a]*.txt", "b.txt keep.txt q[1].txt star*.txt"),
        ("docs/*", "docs/r.md"),
        ("?.txt", "a.txt b.txt"),
        (
            "[",
            ".dot .helmignore a.txt b.txt docs/r.md docs/sub/x.txt files/z.md keep.txt \
             keep/y.txt q[1].txt star*.txt",
        ),
        ("**/*.txt", "docs/sub/x.txt keep/y.txt"),
        ("a,b", ""),
        ("q\\[1\\].txt", "q[1].txt"),
    ];
    for (pattern, want) in cases {
        let mut listed: Vec<&str> = files
            .iter()
            .copied()
            .filter(|f| files_glob_match(pattern, f))
            .collect();
        listed.sort_unstable();
        assert_eq!(listed.join(" "), *want, ".Files.Glob {pattern:?}");
    }
}
