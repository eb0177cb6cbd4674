import ArgumentParser
import Attestation
import Foundation
import Launcher
import NIOPosix
import Platform
import X509

// Activation throughput and latency of a running Coordinator's marble API at several concurrency levels. Started by
// scripts/benchmark-coordinator, which runs the Coordinator (release build), sets the manifest and compares the
// client API with nginx.

@main
struct CoordinatorBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator-benchmark",
        abstract: "Activations per second and p50/p99 latency of a Coordinator's marble API (mutual TLS).",
        discussion: """
            Marble identities (P-256 key, self-signed certificate, CSR, simulated quote) are made before the timed part,
            so the timed part is what crosses the network: per activation a new connection, a mutual-TLS handshake,
            the Coordinator's chain verified against the root, one POST /api/v2/activate and its answer.
            Prints one RESULT line per level:
              RESULT activations concurrency=C count=N failures=F seconds=S rate=R p50_ms=.. p99_ms=.. coordinator_cpu_ms=.. client_cpu_ms=..
            """)

    @Option(help: ArgumentHelp("The Coordinator's marble API.", valueName: "host:port"))
    var marbleAPI: String
    @Option(help: ArgumentHelp("The Coordinator's root certificate (PEM); its chain is verified against it.", valueName: "file"))
    var coordinatorRoot: String
    @Option(help: ArgumentHelp("The simulated SGX machine the Coordinator verifies with.", valueName: "directory"))
    var simulationStateDirectory: String
    @Option(help: ArgumentHelp("MRENCLAVE of the simulated marble enclave: the manifest package's UniqueID.", valueName: "hex"))
    var mrenclave: String
    @Option(help: "The manifest's marble type (without MaxActivations).")
    var marbleType = "benchmark"
    @Option(help: ArgumentHelp("Comma-separated numbers of marbles in flight.", valueName: "list"))
    var concurrency = "1,16,64"
    @Option(help: "Activations per concurrency level.")
    var activations = 2000
    @Option(help: "Untimed activations before the first level (connections, caches, allocator).")
    var warmup = 64
    @Option(help: ArgumentHelp("The Coordinator's process, to report its CPU time per activation.", valueName: "pid"))
    var coordinatorPID: Int32?

    func validate() throws {
        guard activations > 0 else { throw ValidationError("--activations must be at least 1, found \(activations)") }
        guard warmup >= 0 else { throw ValidationError("--warmup must not be negative, found \(warmup)") }
        _ = try levels()
    }

    func levels() throws -> [Int] {
        let values = concurrency.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 }) else {
            throw ValidationError("--concurrency must list positive whole numbers separated by commas, e.g. 1,16,64; found '\(concurrency)'")
        }
        return values.compactMap { $0 }
    }

    func run() async throws {
        let address = try CoordinatorAddress(parsing: marbleAPI, variable: "--marble-api")
        let root = try readRoot()
        let platform = try simulatedPlatform()
        let client = ActivationClient(coordinator: address, roots: [root], eventLoopGroup: MultiThreadedEventLoopGroup.singleton)
        let load = ActivationLoad(client: client, coordinatorPID: coordinatorPID)
        let levels = try levels()
        let workers = ProcessInfo.processInfo.activeProcessorCount

        let clock = ContinuousClock()
        let preparing = clock.now
        let total = warmup + levels.count * activations
        var identities = try await MarbleIdentity.prepare(
            count: total, marbleType: marbleType, platform: platform, workers: workers)
        let preparation = ActivationLoad.seconds(clock.now - preparing)
        print(
            String(
                format:
                    "PREPARED %d marble identities in %.1f s on %d tasks (%.2f ms CPU-equivalent each: P-256 key, self-signed certificate, CSR, simulated quote); not timed below",
                total, preparation, workers, preparation * Double(workers) * 1000 / Double(total)))

        if warmup > 0 {
            let result = try await load.run(Array(identities.prefix(warmup)), concurrency: min(warmup, 16))
            identities.removeFirst(warmup)
            guard result.failures.isEmpty else {
                throw BenchmarkFailure("warm-up: \(result.failures.count) of \(warmup) activations failed; first: \(result.failures[0])")
            }
        }
        print(
            "Each activation: new TCP connection + mutual-TLS handshake (P-256 client certificate, Coordinator chain verified against the root) + POST /api/v2/activate."
        )
        fflush(nil)
        var results: [ActivationLevelResult] = []
        for level in levels {
            let batch = Array(identities.prefix(activations))
            identities.removeFirst(activations)
            let result = try await load.run(batch, concurrency: level)
            results.append(result)
            print(resultLine(result))
            if let first = result.failures.first {
                print("FAILURE concurrency=\(level): \(result.failures.count) failed; first: \(first)")
            }
            fflush(nil)
        }
        printTable(results)
        if results.contains(where: { !$0.failures.isEmpty }) {
            throw ExitCode(1)
        }
    }

    private func resultLine(_ result: ActivationLevelResult) -> String {
        "RESULT activations concurrency=\(result.concurrency) count=\(result.succeeded) failures=\(result.failures.count) "
            + "seconds=\(format(result.seconds)) rate=\(format(result.rate, digits: 1)) p50_ms=\(format(result.percentile(0.5))) "
            + "p99_ms=\(format(result.percentile(0.99))) coordinator_cpu_ms=\(coordinatorCPU(result)) client_cpu_ms=\(clientCPU(result))"
    }

    private func printTable(_ results: [ActivationLevelResult]) {
        print("")
        let header = ["marbles in flight", "activations/s", "p50 ms", "p99 ms", "Coordinator CPU ms/activation", "client CPU ms/activation"]
        print(header.joined(separator: "  "))
        for result in results {
            let cells = [
                "\(result.concurrency)", format(result.rate, digits: 1), format(result.percentile(0.5)),
                format(result.percentile(0.99)), coordinatorCPU(result), clientCPU(result),
            ]
            print(
                zip(cells, header).map { cell, title in String(repeating: " ", count: max(title.count - cell.count, 0)) + cell }
                    .joined(separator: "  "))
        }
    }

    private func coordinatorCPU(_ result: ActivationLevelResult) -> String {
        result.coordinatorCPUSeconds.map { format($0 * 1000 / Double(result.attempts)) } ?? "n/a"
    }

    private func clientCPU(_ result: ActivationLevelResult) -> String {
        format(result.clientCPUSeconds * 1000 / Double(result.attempts))
    }

    private func format(_ value: Double, digits: Int = 2) -> String {
        String(format: "%.\(digits)f", value)
    }

    private func readRoot() throws -> Certificate {
        let text: String
        do {
            text = try String(contentsOfFile: coordinatorRoot, encoding: .utf8)
        } catch {
            throw ValidationError(
                "--coordinator-root \(coordinatorRoot) cannot be read (\(error.localizedDescription)); write it with `cloister certificate root -o FILE`"
            )
        }
        do {
            return try Certificate(pemEncoded: text)
        } catch {
            throw ValidationError(
                "--coordinator-root \(coordinatorRoot) is not one PEM certificate (\(error)); write it with `cloister certificate root -o FILE`")
        }
    }

    private func simulatedPlatform() throws -> SimulatedPlatform {
        guard let enclave = [UInt8](hexadecimal: mrenclave), enclave.count == 32 else {
            throw ValidationError("--mrenclave '\(mrenclave)' is not 32 bytes of hex; give the manifest package's UniqueID")
        }
        let machine: SimulatedSGXMachine
        do {
            machine = try SimulatedSGXMachine.open(stateDirectory: URL(fileURLWithPath: simulationStateDirectory, isDirectory: true))
        } catch {
            throw ValidationError(
                "--simulation-state-directory \(simulationStateDirectory): \(error); give the directory of the machine the Coordinator runs on (DATA_DIR/simulated-sgx-machine)"
            )
        }
        let measurement = EnclaveMeasurement(
            mrEnclave: enclave, mrSigner: [UInt8](repeating: 0x5a, count: 32), productID: 1, securityVersion: 1, debug: false)
        return SimulatedPlatform(machine: machine, enclave: measurement, consent: .insecureSimulation(announce: { _ in }))
    }
}
