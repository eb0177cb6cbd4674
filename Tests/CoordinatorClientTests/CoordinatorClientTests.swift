import CoordinatorAPI
import CoordinatorClient
import Foundation
import Platform
import TestSupport
import Testing

@Suite(.serialized) struct CoordinatorClientTests {
    static var enabled: Bool { ScratchCoordinator.program.exists }

    static func simulation(_ coordinator: ScratchCoordinator, policy: CoordinatorPolicy) throws -> CoordinatorVerification {
        let machine = try SimulatedSGXMachine.open(stateDirectory: coordinator.machineDirectory)
        return .attested(policy: policy, trust: .simulation(root: machine.rootCertificate, collateral: try machine.collateral(at: Date())))
    }

    @Test(.enabled(if: enabled, "needs the built cloister binary (swift build)"))
    func attestedCoordinatorIsPinnedAndAnswers() async throws {
        let coordinator = try await ScratchCoordinator()
        let client = try await CoordinatorClient.connect(
            address: coordinator.address,
            verification: try Self.simulation(coordinator, policy: CoordinatorPolicy(uniqueID: ScratchCoordinator.uniqueID)))
        let status: StatusResponse = try await client.get(ClientAPIPath.status)
        await client.close()
        #expect(status.code == 2)
        #expect(client.identity.isSimulation)
        #expect(client.identity.explanation?.accepted == true)
        #expect(client.identity.rootPEM.hasPrefix("-----BEGIN CERTIFICATE-----"))
    }

    @Test(.enabled(if: enabled, "needs the built cloister binary (swift build)"))
    func signerPolicyChecksProductAndMinimumSecurityVersion() async throws {
        let coordinator = try await ScratchCoordinator()
        let measured = try await Self.quoteSigner(coordinator)
        #expect(measured.count == 64)
        let accepted = try await CoordinatorClient.connect(
            address: coordinator.address,
            verification: try Self.simulation(coordinator, policy: CoordinatorPolicy(signerID: measured, productID: 3, securityVersion: 3)))
        await accepted.close()
        for (product, version) in [(UInt16(4), UInt16(3)), (3, 4)] {
            let error = await #expect(throws: CoordinatorClientError.self) {
                _ = try await CoordinatorClient.connect(
                    address: coordinator.address,
                    verification: try Self.simulation(
                        coordinator, policy: CoordinatorPolicy(signerID: measured, productID: product, securityVersion: version)))
            }
            #expect(error?.kind == .untrusted)
            #expect(error?.explanation?.contains("[FAIL]") == true)
        }
        let incomplete = #expect(throws: CoordinatorClientError.self) {
            _ = try CoordinatorPolicy(signerID: measured).attestationPolicy(expectedReportDataPrefix: [])
        }
        #expect(incomplete?.kind == .invalidInput && incomplete?.hint.contains("--product-id") == true)
    }

    /// The simulated Coordinator's MRSIGNER, read from the explanation of a verification that pins its MRENCLAVE.
    static func quoteSigner(_ coordinator: ScratchCoordinator) async throws -> String {
        let wrong = try simulation(
            coordinator, policy: CoordinatorPolicy(signerID: String(repeating: "00", count: 32), productID: 3, securityVersion: 3))
        do {
            _ = try await CoordinatorClient.connect(address: coordinator.address, verification: wrong)
        } catch {
            return try #require(error.found?.split(separator: " ").last.map(String.init))
        }
        Issue.record("a wrong MRSIGNER was accepted")
        return ""
    }

    @Test(.enabled(if: enabled, "needs the built cloister binary (swift build)"))
    func serverPresentingAnotherRootGetsNothingButTheQuoteRequest() async throws {
        let coordinator = try await ScratchCoordinator()
        let proxy = InterceptingProxy(upstream: coordinator.address)
        try await proxy.run { address in
            let client = try await CoordinatorClient.connect(
                address: address,
                verification: try Self.simulation(coordinator, policy: CoordinatorPolicy(uniqueID: ScratchCoordinator.uniqueID)))
            let error = await #expect(throws: CoordinatorClientError.self) {
                let _: StatusResponse = try await client.get(ClientAPIPath.status)
            }
            await client.close()
            #expect(error?.kind == .untrusted)
            #expect(error?.message.contains("did not present the attested root") == true)

            for command in [["status"], ["manifest", "get"], ["manifest", "log"], ["secret", "get", "x"], ["manifest", "update", "get"]] {
                let outcome = try coordinator.cli(command + ["--json"] + coordinator.verificationArguments(at: address))
                #expect(outcome.exitCode == 1, "\(command): \(outcome.standardOutput) \(outcome.standardError)")
                let object = try JSONSerialization.jsonObject(with: Data(outcome.standardOutput.utf8)) as? [String: Any]
                #expect((object?["error"] as? [String: Any])?["kind"] as? String == "untrusted")
            }
        }
        let seen = await proxy.requests
        #expect(seen == Array(repeating: ClientAPIPath.quote, count: 6), "requests that reached the server: \(seen)")
    }

    @Test(.enabled(if: enabled, "needs the built cloister binary (swift build)"))
    func replayedQuoteWithoutTheNonceIsRefused() async throws {
        let coordinator = try await ScratchCoordinator()
        let proxy = InterceptingProxy(upstream: coordinator.address, dropNonce: true)
        try await proxy.run { address in
            let error = await #expect(throws: CoordinatorClientError.self) {
                _ = try await CoordinatorClient.connect(
                    address: address,
                    verification: try Self.simulation(coordinator, policy: CoordinatorPolicy(uniqueID: ScratchCoordinator.uniqueID)))
            }
            #expect(error?.kind == .untrusted)
            #expect(error?.explanation?.contains("report data") == true || error?.explanation?.contains("Report data") == true)
        }
        #expect(await proxy.requests == [ClientAPIPath.quote])
    }

    @Test func addressesAreNormalizedOrRefused() async throws {
        for bad in ["http://localhost:4433", "", "host/path"] {
            let error = await #expect(throws: CoordinatorClientError.self) {
                _ = try await CoordinatorClient.connect(address: bad, verification: .insecure)
            }
            #expect(error?.kind == .invalidInput)
            #expect(error?.exitCode == 2)
        }
    }

    @Test func policyFileErrorsNameTheProblem() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("era-\(UUID()).json")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data(#"{"UniqueID": "not hex"}"#.utf8).write(to: file)
        let policy = try CoordinatorPolicy.load(path: file.path)
        let error = #expect(throws: CoordinatorClientError.self) { _ = try policy.attestationPolicy(expectedReportDataPrefix: []) }
        #expect(error?.found == "not hex")
        try Data("[1]".utf8).write(to: file)
        let malformed = #expect(throws: CoordinatorClientError.self) { _ = try CoordinatorPolicy.load(path: file.path) }
        #expect(malformed?.message.contains("coordinator-era.json") == true)
        let statuses = #expect(throws: CoordinatorClientError.self) {
            _ = try CoordinatorPolicy(uniqueID: String(repeating: "ab", count: 32), acceptedTCBStatuses: ["Fine"])
                .attestationPolicy(expectedReportDataPrefix: [])
        }
        #expect(statuses?.found == "Fine")
        let none = #expect(throws: CoordinatorClientError.self) { _ = try CoordinatorPolicy().attestationPolicy(expectedReportDataPrefix: []) }
        #expect(none?.hint.contains("--insecure") == true)
    }
}
