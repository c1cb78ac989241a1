// mimalloc: a proxy allocates small, short-lived buffers on every request from several
// worker threads; mimalloc's thread-local free lists cost less than glibc's arenas there
// (measured in docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    banyan::cli::main()
}
