import CoordinatorAPI
import Foundation
import Launcher
import Platform

/// What the launcher spends its time on, measured in this process with the Launcher and Platform libraries, step by
/// step as `Launcher.prepare` runs them, against the same Coordinator and environment as the launcher processes.
/// Warm figures: the process start, the dynamic loader and first-use costs are in the process measurements instead.
struct LauncherPhases {
    let environment: [String: String]
    let workingDirectory: String
    /// The program the launcher is asked to start.
    let program: String
    let repetitions: Int

    func measure() async throws -> [(String, Samples)] {
        let settings = try LauncherSettings.parse(environment: environment, workingDirectory: workingDirectory)
        guard case .simulation(let simulation) = settings.platform else {
            throw BenchmarkFailure(
                "\(LauncherSettings.Variable.platform) is not 'simulation'; the benchmark runs the launcher on the simulated platform")
        }
        let stateDirectory = URL(fileURLWithPath: simulation.stateDirectory, isDirectory: true)
        let machine = try SimulatedSGXMachine.open(stateDirectory: stateDirectory)
        let platform = try startEnclave(simulation, machine: machine)
        let client = ActivationClient(coordinator: settings.coordinator, roots: settings.coordinatorRoots)
        let uuid = try MarbleUUIDStore.loadOrCreate(at: settings.uuidFile).uuidString.lowercased()
        let application = ParameterApplication(platform: platform, workingDirectory: workingDirectory)

        var phases: [(String, Samples)] = []
        phases.append(
            (
                "settings: environment, Coordinator root certificate",
                try time {
                    _ = try LauncherSettings.parse(environment: environment, workingDirectory: workingDirectory)
                }
            ))
        phases.append(
            (
                "simulated SGX machine: open its state and keys",
                try time {
                    _ = try SimulatedSGXMachine.open(stateDirectory: stateDirectory)
                }
            ))
        phases.append(
            (
                "enclave start: description, signer, trusted-file hashes, measurement",
                try time {
                    _ = try startEnclave(simulation, machine: machine)
                }
            ))
        phases.append(
            (
                "marble key: P-256 key, self-signed certificate, CSR",
                try time {
                    _ = try MarbleKey(names: settings.names)
                }
            ))
        let key = try MarbleKey(names: settings.names)
        phases.append(
            (
                "quote over the key (simulated platform)",
                try time {
                    _ = try platform.quote(reportData: key.reportData)
                }
            ))
        var keys: [MarbleKey] = []
        var requests: [ActivationRequest] = []
        for _ in 0..<repetitions {
            let key = try MarbleKey(names: settings.names)
            keys.append(key)
            requests.append(
                ActivationRequest(
                    quote: Data(try platform.quote(reportData: key.reportData)), csr: Data(key.csrDER),
                    marbleType: settings.marbleType, uuid: uuid))
        }
        var activation = Samples()
        var files: [String: Data] = [:]
        for (key, request) in zip(keys, requests) {
            let start = ProgramRun.monotonicNanoseconds()
            files = try await client.activate(request, key: key).files
            activation.append(ProgramRun.monotonicNanoseconds() - start)
        }
        phases.append(("activation: connect, mutual TLS, POST /api/v2/activate, answer", activation))
        phases.append(
            (
                "files written (\(files.count))",
                try time {
                    _ = try application.writeFiles(files)
                }
            ))
        var prepare = Samples()
        for _ in 0..<repetitions {
            let start = ProgramRun.monotonicNanoseconds()
            _ = try await Launcher.prepare(
                environment: environment, arguments: ["cloister-premain", program],
                workingDirectory: workingDirectory, announce: { _ in })
            prepare.append(ProgramRun.monotonicNanoseconds() - start)
        }
        phases.append(("all of Launcher.prepare (the steps above and the UUID file)", prepare))
        return phases
    }

    private func startEnclave(_ simulation: SimulationSettings, machine: SimulatedSGXMachine) throws -> SimulatedPlatform {
        guard case .description(let descriptionPath, let signerPath) = simulation.enclave else {
            throw BenchmarkFailure("the benchmark measures a process marble with an enclave description")
        }
        let description = try JSONDecoder().decode(EnclaveDescription.self, from: Data(contentsOf: URL(fileURLWithPath: descriptionPath)))
        let signer = try EnclaveSigner(pem: String(contentsOfFile: signerPath, encoding: .utf8))
        return try SimulatedPlatform.launch(
            description, signer: signer, on: machine, consent: .insecureSimulation(announce: { _ in }))
    }

    private func time(_ body: () throws -> Void) throws -> Samples {
        var samples = Samples()
        for _ in 0..<repetitions {
            let start = ProgramRun.monotonicNanoseconds()
            try body()
            samples.append(ProgramRun.monotonicNanoseconds() - start)
        }
        return samples
    }
}
