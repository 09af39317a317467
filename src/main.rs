//! The `firebreak` binary; everything lives in the library.

/// mimalloc: per-request allocations cost about a fifth of the proxy's instructions with
/// glibc's malloc (callgrind, benches/proxy); mimalloc's thread-local free lists are cheaper.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    firebreak::cli::main()
}
