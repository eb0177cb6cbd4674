import Foundation
import Platform

/// The program the launcher replaces itself with, decided before activation so that a launch that could not start
/// its program never uses up an activation.
///
/// - **Gramine**: the launcher is the enclave's entrypoint and Gramine gives it `loader.argv` as its own argv; as in
///   MarbleRun's premain-libos, the original `argv[0]` is the path of the program to execute.
/// - **Simulation**: the simulated enclave's argv is the description's trusted argv (`loader.argv`), or, when the
///   description takes its argv from the host, the launcher's command line after its own name:
///   `cloister-premain /usr/bin/redis-server /etc/redis.conf`. Its first element is the program; a name without
///   '/' is looked up in `PATH`. The program (and the interpreter of a script) must be one of the description's
///   trusted files: it is opened once, measured through that descriptor and later run from it (`MeasuredProgram`), so
///   a modified or swapped binary never runs.
///
/// In both modes the program's argv is the manifest's `Argv` when the activation returns one, and otherwise the
/// enclave's argv.
public struct ProgramSelection: Sendable, Hashable {
    /// The file `execve` runs.
    public var path: String
    /// The argv used when the manifest gives none.
    public var enclaveArguments: [String]
    /// In simulation, the program opened and measured; under Gramine, nil (Gramine checks what it executes).
    public var measured: MeasuredProgram?

    public init(path: String, enclaveArguments: [String], measured: MeasuredProgram? = nil) {
        self.path = path
        self.enclaveArguments = enclaveArguments
        self.measured = measured
    }

    /// Gramine: `arguments` is the launcher's own argv, which Gramine set from `loader.argv`.
    public static func gramine(arguments: [String]) throws(LauncherError) -> ProgramSelection {
        guard let program = arguments.first, !program.isEmpty else {
            throw LauncherError(
                .program, "argv[0]", found: "an empty argument vector", expected: "the program path as argv[0]",
                hint: "set loader.argv in the Gramine manifest with the program first")
        }
        return ProgramSelection(path: program, enclaveArguments: arguments)
    }

    /// Simulation: `arguments` is the launcher's own argv, `description` the simulated enclave's.
    public static func simulation(
        arguments: [String], description: EnclaveDescription, searchPath: String?
    ) throws(LauncherError) -> ProgramSelection {
        let hostArguments = Array(arguments.dropFirst())
        let enclaveArguments: [String]
        switch description.arguments {
        case .trusted(let trusted):
            guard hostArguments.isEmpty || hostArguments == trusted else {
                throw LauncherError(
                    .program, "command line", found: hostArguments.joined(separator: " ").quotedForError(),
                    expected: "no arguments, or exactly the enclave's measured argv \(trusted.joined(separator: " ").quotedForError())",
                    hint: "the enclave description fixes the argv (loader.argv); change it there and re-measure, or "
                        + "start the launcher without arguments")
            }
            enclaveArguments = trusted
        case .fromHost:
            enclaveArguments = hostArguments
        }
        guard let program = enclaveArguments.first, !program.isEmpty else {
            throw LauncherError(
                .program, "command line", found: "no program", expected: "the program to run after the launcher",
                hint: "run `cloister-premain /path/to/program [arguments...]`, or give the enclave description a trusted argv")
        }
        let path = try resolve(program, searchPath: searchPath)
        return ProgramSelection(
            path: path, enclaveArguments: enclaveArguments, measured: try MeasuredProgram.open(path, description: description))
    }

    /// `program` itself when it contains a '/', otherwise the first executable `PATH` entry of that name.
    static func resolve(_ program: String, searchPath: String?) throws(LauncherError) -> String {
        if program.contains("/") { return program }
        let directories = (searchPath ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":").map(String.init)
        for directory in directories where !directory.isEmpty {
            let candidate = URL(fileURLWithPath: directory, isDirectory: true).appendingPathComponent(program).path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw LauncherError(
            .program, program, found: "no executable of that name in PATH", expected: "an executable program",
            hint: "give the program's absolute path")
    }
}
