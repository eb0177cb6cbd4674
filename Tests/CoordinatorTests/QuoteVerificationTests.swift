import Attestation
import CollateralSources
import Foundation
import Platform
import TestSupport
import Testing

@testable import Coordinator

/// How the Coordinator picks the collateral of a marble's quote from the PCK certificate chain the quote carries.
@Suite struct QuoteVerificationTests {
    static let otherFamily: [UInt8] = [0x00, 0x90, 0x6E, 0xA1, 0x00, 0x00]

    @Test func requestNamesTheTEEFMSPCAndIssuingCAOfTheEmbeddedPCKChain() throws {
        let fixture = try FamilyFixture(fmspc: Self.otherFamily)
        defer { fixture.remove() }
        let request = try MarbleQuoteVerifier.collateralRequest(for: try fixture.quote())
        #expect(request.tee == .sgx)
        #expect(request.fmspc == "00906EA10000")
        #expect(request.certificateAuthority == .platform)
    }

    @Test func quoteWithoutAPCKChainIsRefusedNamingItsCertificationType() throws {
        let fixture = try FamilyFixture(fmspc: Self.otherFamily)
        defer { fixture.remove() }
        let quote = try fixture.quote()
        var bytes = quote.bytes
        bytes[quote.layout.certificationDataTypeOffset] = 3
        let error = #expect(throws: CoordinatorError.self) {
            _ = try MarbleQuoteVerifier.collateralRequest(for: try Quote(bytes: bytes))
        }
        #expect(error?.reason == .quoteRejected)
        #expect(error?.kind == .activationRefused)
        #expect(error?.found == "certification data type 3")
        #expect(error?.expected.contains("certification data type 5") == true)
    }

    @Test func unreadablePCKChainIsRefused() throws {
        let fixture = try FamilyFixture(fmspc: Self.otherFamily)
        defer { fixture.remove() }
        let quote = try fixture.quote()
        var bytes = quote.bytes
        for offset in quote.layout.certificationDataOffset..<bytes.count - quote.layout.trailingByteCount {
            bytes[offset] = UInt8(ascii: "x")
        }
        let error = #expect(throws: CoordinatorError.self) {
            _ = try MarbleQuoteVerifier.collateralRequest(for: try Quote(bytes: bytes))
        }
        #expect(error?.reason == .quoteRejected)
        #expect(error?.found.contains("no PEM certificate") == true)
    }
}

/// A simulated SGX machine of one platform family (FMSPC), in a temporary directory.
private struct FamilyFixture {
    let directory: URL
    let machine: SimulatedSGXMachine

    init(fmspc: [UInt8]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("quote-verification-\(UUID().uuidString)")
        machine = try SimulatedSGXMachine.openOrCreate(
            stateDirectory: directory.appendingPathComponent("machine"), hardware: SimulatedHardware(fmspc: fmspc))
    }

    func quote() throws -> Quote {
        let platform = SimulatedPlatform(
            machine: machine, enclave: TestMeasurements.backend(), consent: .insecureSimulation(announce: { _ in }))
        return try Quote(bytes: try platform.quote(reportData: [UInt8](repeating: 0x42, count: 64)))
    }

    func remove() {
        try? FileManager.default.removeItem(at: directory)
    }
}
