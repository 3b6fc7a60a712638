//! A whole build over a small tree written from the input: a kustomization,
//! two resource files, a base, a component and a patch file (parts split by
//! NUL; an absent part is an absent file). No panic, no escape, bounded
//! memory and time, whatever the files say.
#![no_main]

use ferroflux_kustomize::build::{LoadRestrictor, Options, build};
use libfuzzer_sys::fuzz_target;

const FILES: [&str; 7] = [
    "app/kustomization.yaml",
    "app/a.yaml",
    "app/b.yaml",
    "base/kustomization.yaml",
    "base/c.yaml",
    "comp/kustomization.yaml",
    "app/patch.yaml",
];

fuzz_target!(|data: &[u8]| {
    let Some(parts) = ferroflux_fuzz::parts(data) else {
        return;
    };
    let root = ferroflux_fuzz::scratch();
    for (i, file) in FILES.iter().enumerate() {
        let path = root.join(file);
        match parts.get(i) {
            Some(text) => {
                std::fs::create_dir_all(path.parent().expect("a file in a directory"))
                    .expect("creating a scratch directory");
                std::fs::write(&path, text).expect("writing a scratch file");
            }
            None => {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    let options = Options {
        root: root.to_path_buf(),
        load_restrictor: LoadRestrictor::None,
    };
    let _ = build(&root.join("app"), &options);
});
