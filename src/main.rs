//! The `ogi-audit` binary: all work is in the library.

fn main() -> std::process::ExitCode {
    ogi_audit::cli::main()
}
