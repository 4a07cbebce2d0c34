//! The `flink-ha-supervisor` command line; the commands live in the library (`cmd`).

fn main() -> std::process::ExitCode {
    flink_ha_supervisor::cmd::main()
}
