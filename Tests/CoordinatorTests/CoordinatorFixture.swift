import Coordinator
import CoordinatorAPI
import CoordinatorPKI
import Crypto
import Foundation
import Logging
import Platform
import SealedStore
import SwiftASN1
import TestSupport
import X509

/// A Coordinator on a simulated SGX machine with its state in a temporary directory, and marbles on the same machine.
struct CoordinatorFixture {
    let directory: URL
    let machine: SimulatedSGXMachine
    let coordinatorEnclave: EnclaveMeasurement

    init(tcbState: SimulatedTCBState = .upToDate) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("coordinator-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        machine = try SimulatedSGXMachine.openOrCreate(
            stateDirectory: directory.appendingPathComponent("machine"), tcbState: tcbState)
        coordinatorEnclave = TestMeasurements.coordinator
    }

    /// The same data directory and machine, but another sealing identity: the sealed state no longer unseals.
    func withOtherSealingIdentity() -> CoordinatorFixture {
        var copy = self
        copy.coordinatorEnclaveOverride = EnclaveMeasurement(
            mrEnclave: coordinatorEnclave.mrEnclave, mrSigner: [UInt8](repeating: 0xD6, count: 32),
            productID: coordinatorEnclave.productID, securityVersion: coordinatorEnclave.securityVersion, debug: false)
        return copy
    }

    private var coordinatorEnclaveOverride: EnclaveMeasurement?

    var dataDirectory: URL { directory.appendingPathComponent("data") }

    func platform(_ enclave: EnclaveMeasurement) -> SimulatedPlatform {
        SimulatedPlatform(machine: machine, enclave: enclave, consent: .insecureSimulation(announce: { _ in }))
    }

    func configuration(
        quoteVerification: QuoteVerificationConfiguration? = nil, clock: @escaping @Sendable () -> Date = { Date() }
    ) throws -> CoordinatorConfiguration {
        CoordinatorConfiguration(
            platform: platform(coordinatorEnclaveOverride ?? coordinatorEnclave),
            quoteVerification: quoteVerification ?? .simulated(machine),
            storage: try SQLiteStorage(directory: dataDirectory),
            logger: Self.quietLogger,
            clock: clock)
    }

    func start(
        startupManifest: [UInt8]? = nil, quoteVerification: QuoteVerificationConfiguration? = nil,
        clock: @escaping @Sendable () -> Date = { Date() }
    ) async throws -> Coordinator {
        try await Coordinator.start(
            try configuration(quoteVerification: quoteVerification, clock: clock), startupManifest: startupManifest)
    }

    static var quietLogger: Logger {
        var logger = Logger(label: "coordinator-tests")
        logger.logLevel = .error
        return logger
    }

    func remove() {
        try? FileManager.default.removeItem(at: directory)
    }
}
