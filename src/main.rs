fn main() -> std::process::ExitCode {
    banyan::cli::main()
}
