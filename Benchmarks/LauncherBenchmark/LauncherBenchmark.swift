import ArgumentParser
import Foundation

// Start-up cost of the marble launcher: the time from starting `cloister-premain PROGRAM` to PROGRAM's first
// instruction, against starting PROGRAM directly, interleaved in one run. Started by scripts/benchmark-launcher,
// which runs a simulated Coordinator with a manifest for the program and sets the launcher's environment.

@main
struct LauncherBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "launcher-benchmark",
        abstract: "Time from process start to a program's first instruction, through cloister-premain and directly.",
        discussion: """
            PROGRAM must print, as its only output, the CLOCK_MONOTONIC nanoseconds it read in its first code (a
            constructor). The benchmark reads CLOCK_MONOTONIC immediately before posix_spawn; the difference is the
            start-up time. Direct and launcher starts alternate. The launcher's settings come from this process's
            environment (CLOISTER_PLATFORM=simulation, CLOISTER_MARBLE_TYPE, ...); it runs in the current directory.
            Prints:
              RESULT direct|launcher median_ms=.. p90_ms=.. runs=N
              RATIO launcher/direct median=..
              FLOOR / PHASE lines: what the launcher spends its time on.
            """)

    @Option(help: ArgumentHelp("The program that prints its first-instruction timestamp.", valueName: "path"))
    var program: String
    @Option(help: ArgumentHelp("The launcher binary.", valueName: "path"))
    var premain: String
    @Option(help: "Starts of each kind (direct and through the launcher).")
    var repetitions = 200
    @Option(help: "Untimed starts of each kind first.")
    var warmup = 5
    @Option(help: "Repetitions of each in-process launcher step.")
    var phaseRepetitions = 30

    func validate() throws {
        guard repetitions > 0, warmup >= 0, phaseRepetitions > 0 else {
            throw ValidationError(
                "--repetitions and --phase-repetitions must be positive and --warmup not negative; found \(repetitions), \(phaseRepetitions), \(warmup)"
            )
        }
        for (flag, path) in [("--program", program), ("--premain", premain)] where !FileManager.default.isExecutableFile(atPath: path) {
            throw ValidationError("\(flag) \(path) is not an executable file; give the absolute path of the built program")
        }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let direct = [program]
        let throughLauncher = [premain, program]
        for _ in 0..<warmup {
            _ = try firstInstruction(direct, environment: environment)
            _ = try firstInstruction(throughLauncher, environment: environment)
        }
        var directSamples = Samples()
        var launcherSamples = Samples()
        for repetition in 0..<repetitions {
            // Alternating the order keeps slow drifts of a shared machine from favouring either kind.
            if repetition % 2 == 0 {
                directSamples.append(try firstInstruction(direct, environment: environment))
                launcherSamples.append(try firstInstruction(throughLauncher, environment: environment))
            } else {
                launcherSamples.append(try firstInstruction(throughLauncher, environment: environment))
                directSamples.append(try firstInstruction(direct, environment: environment))
            }
        }
        print(result("direct", directSamples))
        print(result("launcher", launcherSamples))
        print(
            "RATIO launcher/direct median=\(format(launcherSamples.median / directSamples.median, digits: 1)) "
                + "overhead_ms=\(format(launcherSamples.median - directSamples.median))")
        fflush(nil)

        let floor = try launcherFloor(environment: environment)
        print(
            "FLOOR launcher process that stops at its settings (start, runtime, exit) median_ms=\(format(floor.median)) "
                + "p90_ms=\(format(floor.percentile(0.9)))")
        let phases = try await LauncherPhases(
            environment: environment, workingDirectory: FileManager.default.currentDirectoryPath, program: program,
            repetitions: phaseRepetitions
        ).measure()
        for (name, samples) in phases {
            print(
                "PHASE \(name): median_ms=\(format(samples.median)) p90_ms=\(format(samples.percentile(0.9))) "
                    + "first_ms=\(format(samples.first))")
        }
    }

    /// Starts `arguments` and returns nanoseconds from just before `posix_spawn` to the program's first instruction.
    private func firstInstruction(_ arguments: [String], environment: [String: String]) throws -> UInt64 {
        let run = try ProgramRun.run(path: arguments[0], arguments: arguments, environment: environment)
        let output = String(decoding: run.standardOutput, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard run.exitStatus == 0, let reached = UInt64(output), reached >= run.spawnedAt else {
            throw BenchmarkFailure(
                "\(arguments.joined(separator: " ")) exited with status \(run.exitStatus) and printed '\(output.prefix(200))' "
                    + "(expected status 0 and a CLOCK_MONOTONIC timestamp after the spawn); its standard error: "
                    + String(decoding: run.standardError.suffix(2000), as: UTF8.self))
        }
        return reached - run.spawnedAt
    }

    /// Spawn-to-exit of the launcher when it refuses at its first step (no marble type): the cost of starting the
    /// process and the Swift runtime before any launcher work.
    private func launcherFloor(environment: [String: String]) throws -> Samples {
        var bare = environment
        for name in ["CLOISTER_MARBLE_TYPE", "EDG_MARBLE_TYPE"] { bare[name] = nil }
        var samples = Samples()
        for _ in 0..<max(repetitions / 4, 10) {
            let run = try ProgramRun.run(path: premain, arguments: [premain, program], environment: bare)
            guard run.exitStatus == 2 else {
                throw BenchmarkFailure(
                    "the launcher without a marble type exited with \(run.exitStatus), expected 2 (settings refused); "
                        + "its standard error: " + String(decoding: run.standardError.suffix(500), as: UTF8.self))
            }
            samples.append(run.exitedAt - run.spawnedAt)
        }
        return samples
    }

    private func result(_ label: String, _ samples: Samples) -> String {
        "RESULT \(label) median_ms=\(format(samples.median)) p90_ms=\(format(samples.percentile(0.9))) runs=\(samples.count)"
    }

    private func format(_ value: Double, digits: Int = 3) -> String {
        String(format: "%.\(digits)f", value)
    }
}
