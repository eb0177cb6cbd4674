import CoordinatorAPI
import Crypto
import Foundation
import Platform
import Synchronization
import TestSupport
import Testing

/// `kill -9` of the `cloister coordinator` process at random moments while a manifest is set, marbles activate and
/// secrets are written; after each restart the state is the old or the new one, never partial, and the root, the
/// certificates' anchors and the secrets already handed out are unchanged.
@Suite(.serialized) struct CrashConsistencyTests {
    static let trialsPerKind = 17
    @Test(.enabled(if: SimulatedCoordinatorProcess.program.exists, "needs the built cloister binary (swift build)"))
    func killedAtRandomPointsTheStateIsOldOrNew() async throws {
        let pool = ClientPool()
        do {
            try await runTrials(pool)
        } catch {
            Issue.record(error)
        }
        await pool.shutdown()
    }

    private func runTrials(_ pool: ClientPool) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("coordinator-crash-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let machineDirectory = directory.appendingPathComponent("machine")
        let machine = try SimulatedSGXMachine.openOrCreate(stateDirectory: machineDirectory)
        let frontendPlatform = SimulatedPlatform(
            machine: machine, enclave: TestMeasurements.frontend(), consent: .insecureSimulation(announce: { _ in }))
        let admin = try TestUser(name: "admin")
        let manifest = TestManifests.standard(users: [admin], maxFrontend: 1_000_000)
        var trials = 0

        // Manifest set: a fresh data directory per trial; the POST races the kill.
        for trial in 0..<Self.trialsPerKind {
            let data = directory.appendingPathComponent("manifest-\(trial)")
            let coordinator = try await SimulatedCoordinatorProcess(dataDirectory: data, machineDirectory: machineDirectory)
            let rootBefore = try await Self.root(of: coordinator)
            let client = try pool.make(rootPEM: rootBefore, identity: nil)
            let post = Task {
                try? await client.post(coordinator.clientURL + ClientAPIPath.manifest, json: ManifestRequest(manifest: Data(manifest)))
            }
            try await Task.sleep(for: .milliseconds(Int.random(in: 0...60)))
            coordinator.signal(SIGKILL)
            let acknowledged = await post.value?.status == 200
            _ = try await coordinator.waitForExit()
            let restarted = try await SimulatedCoordinatorProcess(dataDirectory: data, machineDirectory: machineDirectory)
            #expect(try await Self.root(of: restarted) == rootBefore, "trial \(trial): the root changed")
            let code = try await client.get(restarted.clientURL + ClientAPIPath.status).data(StatusResponse.self).code
            if acknowledged { #expect(code == 3, "trial \(trial): an acknowledged manifest was lost") }
            #expect(code == 2 || code == 3, "trial \(trial): state \(code)")
            if code == 3 {
                let stored = try await client.get(restarted.clientURL + ClientAPIPath.manifest).data(ManifestGetResponse.self)
                #expect(stored.manifest == Data(manifest), "trial \(trial): a partial manifest")
            }
            restarted.signal(SIGKILL)
            _ = try await restarted.waitForExit()
            trials += 1
        }

        // Activations and secret writes on one data directory.
        let data = directory.appendingPathComponent("main")
        let first = try await SimulatedCoordinatorProcess(dataDirectory: data, machineDirectory: machineDirectory)
        let root = try await Self.root(of: first)
        let anonymous = try pool.make(rootPEM: root, identity: nil)
        let adminClient = try pool.make(rootPEM: root, identity: admin.identity)
        _ = try await anonymous.post(first.clientURL + ClientAPIPath.manifest, json: ManifestRequest(manifest: Data(manifest)))
        #expect(
            try await adminClient.post(
                first.clientURL + ClientAPIPath.secrets, json: SecretsSetRequest(secrets: ["apiToken": UserSecretObject(key: Data("initial".utf8))])
            ).status == 200)
        let sharedKey = try await adminClient.get(first.clientURL + ClientAPIPath.secrets + "?s=sharedKey").data(SecretsGetResponse.self).secrets[
            "sharedKey"]
        let fixedMarble = try TestMarble()
        let fixedClient = try pool.make(rootPEM: root, identity: fixedMarble.identity)
        let fixedRequest = try fixedMarble.request(type: "frontend", on: frontendPlatform)
        let reference = try await fixedClient.post(first.marbleURL + ActivationRequest.path, json: fixedRequest).data(ActivationResponse.self)
        first.signal(SIGKILL)
        _ = try await first.waitForExit()
        var marbles: [(APIClient, ActivationRequest)] = []
        for _ in 0..<16 {
            let marble = try TestMarble()
            marbles.append((try pool.make(rootPEM: root, identity: marble.identity), try marble.request(type: "frontend", on: frontendPlatform)))
        }
        let acknowledgedActivations = ActivationCounter(1)
        let marbleClients = marbles
        var acknowledgedSecret: String? = "initial"

        for trial in 0..<(2 * Self.trialsPerKind) {
            let coordinator = try await SimulatedCoordinatorProcess(dataDirectory: data, machineDirectory: machineDirectory)
            var inFlightSecret: String?
            if trial % 2 == 0 {
                let url = coordinator.marbleURL + ActivationRequest.path
                let load = Task {
                    await withTaskGroup(of: Void.self) { group in
                        for (client, request) in marbleClients {
                            group.addTask {
                                while !Task.isCancelled {
                                    guard let answer = try? await client.post(url, json: request) else { return }
                                    if answer.status == 200 { acknowledgedActivations.increment() }
                                }
                            }
                        }
                    }
                }
                try await Task.sleep(for: .milliseconds(Int.random(in: 20...200)))
                coordinator.signal(SIGKILL)
                await load.value
            } else {
                let writes = Task { () -> (acknowledged: String?, inFlight: String?) in
                    var acknowledged: String?
                    for index in 0... {
                        let value = "value-\(trial)-\(index)"
                        let answer = try? await adminClient.post(
                            coordinator.clientURL + ClientAPIPath.secrets,
                            json: SecretsSetRequest(secrets: ["apiToken": UserSecretObject(key: Data(value.utf8))]))
                        guard answer?.status == 200 else { return (acknowledged, value) }
                        acknowledged = value
                    }
                    return (acknowledged, nil)
                }
                try await Task.sleep(for: .milliseconds(Int.random(in: 10...150)))
                coordinator.signal(SIGKILL)
                let outcome = await writes.value
                acknowledgedSecret = outcome.acknowledged ?? acknowledgedSecret
                inFlightSecret = outcome.inFlight
            }
            _ = try await coordinator.waitForExit()

            let restarted = try await SimulatedCoordinatorProcess(dataDirectory: data, machineDirectory: machineDirectory)
            #expect(try await Self.root(of: restarted) == root, "trial \(trial): the root changed")
            #expect(try await anonymous.get(restarted.clientURL + ClientAPIPath.status).data(StatusResponse.self).code == 3)
            let secrets = try await adminClient.get(restarted.clientURL + ClientAPIPath.secrets + "?s=sharedKey&s=apiToken").data(
                SecretsGetResponse.self
            ).secrets
            #expect(secrets["sharedKey"] == sharedKey, "trial \(trial): the shared secret changed")
            let token = secrets["apiToken"].map { String(decoding: $0.privateKey, as: UTF8.self) }
            #expect(
                token == acknowledgedSecret || (token != nil && token == inFlightSecret),
                "trial \(trial): apiToken \(token ?? "nil"), acknowledged \(acknowledgedSecret ?? "nil"), in flight \(inFlightSecret ?? "nil")")
            if let token { acknowledgedSecret = token }
            let log = try await anonymous.get(restarted.clientURL + ClientAPIPath.update).data(UpdateLogResponse.self).updateLog
            #expect(
                log.filter { $0.contains("Marble activated") }.count >= acknowledgedActivations.value,
                "trial \(trial): an acknowledged activation is missing")
            #expect(log.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) != nil }, "trial \(trial): a partial log line")
            // The same marble gets the same anchors and the same per-marble secret as before any crash.
            let again = try await fixedClient.post(restarted.marbleURL + ActivationRequest.path, json: fixedRequest).data(ActivationResponse.self)
            acknowledgedActivations.increment()
            #expect(again.env["MARBLE_PREDEFINED_ROOT_CA"] == reference.env["MARBLE_PREDEFINED_ROOT_CA"], "trial \(trial): the marble root changed")
            #expect(again.files["/secrets/unique.key"] == reference.files["/secrets/unique.key"], "trial \(trial): a per-marble secret changed")
            #expect(again.files["/secrets/shared.key"] == reference.files["/secrets/shared.key"], "trial \(trial): a shared secret changed")
            restarted.signal(SIGKILL)
            _ = try await restarted.waitForExit()
            trials += 1
        }
        #expect(trials >= 50)
    }

    /// The root certificate the process presents in its quote answer.
    static func root(of coordinator: SimulatedCoordinatorProcess) async throws -> String {
        let answer = try runTool("curl", ["-sk", coordinator.clientURL + ClientAPIPath.quote])
        guard let root = BinaryTests.rootPEM(answer.output) else {
            throw SimulatedCoordinatorProcess.LaunchFailure(description: "no root certificate in \(answer.output)")
        }
        return root
    }
}

/// Activations acknowledged with 200, counted from many tasks.
final class ActivationCounter: Sendable {
    private let count: Atomic<Int>

    init(_ initial: Int) { count = Atomic(initial) }

    func increment() { count.add(1, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}

/// Keeps every client until the end of the test so that each is shut down even when the test stops early.
final class ClientPool: Sendable {
    private let clients = Mutex<[APIClient]>([])

    func make(rootPEM: String, identity: ClientIdentity?) throws -> APIClient {
        let client = try APIClient(rootPEM: rootPEM, identity: identity)
        clients.withLock { $0.append(client) }
        return client
    }

    func shutdown() async {
        for client in clients.withLock({ $0 }) { await client.shutdown() }
    }
}
