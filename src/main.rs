//! The `firebreak` binary; everything lives in the library.

fn main() -> std::process::ExitCode {
    firebreak::cli::main()
}
