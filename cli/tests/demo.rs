//! `brevdue demo` as an installed binary runs it: from outside the repository.

use std::process::Command;

#[test]
fn the_demo_runs_from_outside_the_repository() {
    // The binary copied out of the build tree, run in an empty directory.
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let exe = bin.join("brevdue");
    std::fs::copy(env!("CARGO_BIN_EXE_brevdue"), &exe).unwrap();
    let cwd = dir.path().join("elsewhere");
    std::fs::create_dir(&cwd).unwrap();
    let out = Command::new(&exe)
        .arg("demo")
        .current_dir(&cwd)
        .env_remove("BREVDUE_MAILSERVER")
        .env_remove("BREVDUE_DATA_DIR")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the demo failed: {}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "=== Run 1 of 3: IMAP",
        "-> IMAP: the PC sees everything the phone did.",
        "=== Run 2 of 3: POP3, delete after download",
        "-> POP3, delete after download: the PC sees no mail at all",
        "=== Run 3 of 3: POP3, leave on server",
        "nothing the phone did reached it.",
        "One device: POP3 can do. Several devices: IMAP",
    ] {
        assert!(stdout.contains(line), "no {line:?} in:\n{stdout}");
    }
    // Nothing was left behind where it ran.
    assert_eq!(std::fs::read_dir(&cwd).unwrap().count(), 0);
}
