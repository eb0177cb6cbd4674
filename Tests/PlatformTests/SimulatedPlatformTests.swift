import Attestation
import Crypto
import Foundation
import Platform
import Synchronization
import Testing

/// A state directory in the temporary folder, removed by the test that made it.
struct TemporaryDirectory: ~Copyable {
    let url: URL

    init(_ label: String) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("platform-\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }
}

enum Fixture {
    static let enclave = EnclaveMeasurement(
        mrEnclave: Array(SHA256.hash(data: Data("enclave A".utf8))),
        mrSigner: Array(SHA256.hash(data: Data("signer 1".utf8))),
        productID: 3, securityVersion: 5, debug: false)

    static let quietConsent = SimulationConsent.insecureSimulation(announce: { _ in })

    static func reportData(_ text: String) -> [UInt8] {
        Array(SHA512.hash(data: Data(text.utf8)))
    }

    static func verifier(for machine: SimulatedSGXMachine) -> QuoteVerifier {
        QuoteVerifier(trustAnchor: .simulation(root: machine.rootCertificate))
    }
}

@Suite struct SimulatedPlatformTests {
    @Test func simulatedQuoteVerifiesUpToDateWithTheEnclaveIdentity() throws {
        let state = try TemporaryDirectory("uptodate")
        let now = Date()
        let machine = try SimulatedSGXMachine.openOrCreate(stateDirectory: state.url, at: now)
        let platform = SimulatedPlatform(machine: machine, enclave: Fixture.enclave, consent: Fixture.quietConsent)
        let reportData = Fixture.reportData("bind this key")

        let quote = try platform.quote(reportData: reportData)
        let verified = try Fixture.verifier(for: machine).verify(
            quoteBytes: quote, collateral: try machine.collateral(at: now), at: now)

        #expect(verified.status == .upToDate)
        #expect(verified.advisoryIDs.isEmpty)
        #expect(verified.isSimulation)
        let report = try #require(verified.quote.body.sgxReport)
        #expect(report.mrEnclave == Fixture.enclave.mrEnclave)
        #expect(report.mrSigner == Fixture.enclave.mrSigner)
        #expect(report.isvProductID == 3)
        #expect(report.isvSVN == 5)
        #expect(!report.isDebug)
        #expect(report.reportData == reportData)
        #expect(verified.quote.header.version == 3)
        #expect(verified.pck.fmspc == machine.hardware.fmspc)
        #expect(verified.pck.cpuSVN == machine.hardware.cpuSVN)
        #expect(verified.pck.pceSVN == machine.hardware.pceSVN)
        #expect(verified.pck.pceID == machine.hardware.pceID)
        #expect(verified.pck.ppid.count == 16)
        #expect(verified.pck.sgxType != nil)
        #expect(verified.qeStatus == .upToDate)
        #expect(platform.kind == .simulation)
        #expect(!platform.kind.isSecure)
    }

    @Test func quoteLayoutMatchesTheSGXV3Format() throws {
        let state = try TemporaryDirectory("layout")
        let machine = try SimulatedSGXMachine.openOrCreate(stateDirectory: state.url)
        let reportData = Fixture.reportData("layout")
        let quote = try machine.quote(for: Fixture.enclave, reportData: reportData)
        func u16(_ offset: Int) -> UInt16 { UInt16(quote[offset]) | UInt16(quote[offset + 1]) << 8 }
        func u32(_ offset: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(quote[offset + $1]) << (8 * $1) } }
        #expect(u16(0) == 3)
        #expect(u16(2) == 2)
        #expect(u32(4) == 0)
        #expect(Array(quote[112..<144]) == Fixture.enclave.mrEnclave)
        #expect(Array(quote[176..<208]) == Fixture.enclave.mrSigner)
        #expect(Array(quote[368..<432]) == reportData)
        #expect(Int(u32(432)) == quote.count - 436)
        #expect(u16(1012) == 32)
        #expect(u16(1046) == 5)
        let chain = String(decoding: quote[1052...], as: UTF8.self)
        #expect(chain.components(separatedBy: "BEGIN CERTIFICATE").count - 1 == 3)
    }

    @Test func tamperedQuotesFailTheirSignatureChecks() throws {
        let state = try TemporaryDirectory("tamper")
        let now = Date()
        let machine = try SimulatedSGXMachine.openOrCreate(stateDirectory: state.url, at: now)
        let quote = try machine.quote(for: Fixture.enclave, reportData: Fixture.reportData("tamper"))
        let collateral = try machine.collateral(at: now)
        let cases: [(offset: Int, check: Check)] = [
            (112, .isvSignature),  // MRENCLAVE
            (368, .isvSignature),  // REPORTDATA
            (564 + 64, .qeReportSignature),  // QE report MRENCLAVE
        ]
        for (offset, check) in cases {
            var tampered = quote
            tampered[offset] ^= 0x01
            #expect {
                try Fixture.verifier(for: machine).verify(quoteBytes: tampered, collateral: collateral, at: now)
            } throws: { error in
                (error as? AttestationError)?.check == check
            }
        }
        var forgedTCBInfo = collateral
        forgedTCBInfo.tcbInfo = Array(
            String(decoding: collateral.tcbInfo, as: UTF8.self)
                .replacingOccurrences(of: "\"tcbStatus\":\"UpToDate\"", with: "\"tcbStatus\":\"UpToDate\" ").utf8)
        #expect {
            try Fixture.verifier(for: machine).verify(quoteBytes: quote, collateral: forgedTCBInfo, at: now)
        } throws: { error in
            (error as? AttestationError)?.check == .tcbInfoSignature
        }
    }

    @Test func debugEnclaveQuotesCarryTheDebugAttribute() throws {
        let state = try TemporaryDirectory("debug")
        let now = Date()
        let machine = try SimulatedSGXMachine.openOrCreate(stateDirectory: state.url, at: now)
        var debugEnclave = Fixture.enclave
        debugEnclave.debug = true
        let quote = try machine.quote(for: debugEnclave, reportData: Fixture.reportData("debug"))
        let verified = try Fixture.verifier(for: machine).verify(
            quoteBytes: quote, collateral: try machine.collateral(at: now), at: now)
        #expect(try #require(verified.quote.body.sgxReport).isDebug)
    }

    struct TCBCase: Sendable, CustomTestStringConvertible {
        let state: SimulatedTCBState
        let status: TCBStatus
        let advisories: [String]
        var testDescription: String { "platform \(state.platformStatus.rawValue), QE \(state.qeStatus.rawValue)" }
    }

    static let tcbCases: [TCBCase] = [
        TCBCase(
            state: .init(platformStatus: .outOfDate, platformAdvisoryIDs: ["INTEL-SA-00828", "INTEL-SA-00615"]),
            status: .outOfDate, advisories: ["INTEL-SA-00828", "INTEL-SA-00615"]),
        TCBCase(
            state: .init(platformStatus: .swHardeningNeeded, platformAdvisoryIDs: ["INTEL-SA-00615"]),
            status: .swHardeningNeeded, advisories: ["INTEL-SA-00615"]),
        TCBCase(
            state: .init(platformStatus: .configurationNeeded, platformAdvisoryIDs: ["INTEL-SA-00289"]),
            status: .configurationNeeded, advisories: ["INTEL-SA-00289"]),
        TCBCase(
            state: .init(platformStatus: .configurationAndSWHardeningNeeded, platformAdvisoryIDs: ["INTEL-SA-00289"]),
            status: .configurationAndSWHardeningNeeded, advisories: ["INTEL-SA-00289"]),
        TCBCase(
            state: .init(qeStatus: .outOfDate, qeAdvisoryIDs: ["INTEL-SA-00477"]),
            status: .outOfDate, advisories: ["INTEL-SA-00477"]),
        TCBCase(
            state: .init(
                platformStatus: .configurationNeeded, platformAdvisoryIDs: ["INTEL-SA-00289"],
                qeStatus: .outOfDate, qeAdvisoryIDs: ["INTEL-SA-00477"]),
            status: .outOfDateConfigurationNeeded, advisories: ["INTEL-SA-00289", "INTEL-SA-00477"]),
    ]

    @Test(arguments: tcbCases)
    func chosenTCBStateGivesTheExpectedStatus(_ tcbCase: TCBCase) throws {
        let state = try TemporaryDirectory("tcb")
        let now = Date()
        let machine = try SimulatedSGXMachine.openOrCreate(stateDirectory: state.url, tcbState: tcbCase.state, at: now)
        let quote = try machine.quote(for: Fixture.enclave, reportData: Fixture.reportData("tcb"))
        let verified = try Fixture.verifier(for: machine).verify(
            quoteBytes: quote, collateral: try machine.collateral(at: now), at: now)
        #expect(verified.status == tcbCase.status)
        #expect(verified.advisoryIDs == tcbCase.advisories)
    }

    @Test func revokedTCBLevelIsRejected() throws {
        let state = try TemporaryDirectory("tcb-revoked")
        let now = Date()
        let machine = try SimulatedSGXMachine.openOrCreate(
            stateDirectory: state.url, tcbState: .init(platformStatus: .revoked), at: now)
        let quote = try machine.quote(for: Fixture.enclave, reportData: Fixture.reportData("revoked"))
        #expect {
            try Fixture.verifier(for: machine).verify(
                quoteBytes: quote, collateral: try machine.collateral(at: now), at: now)
        } throws: { error in
            (error as? AttestationError)?.check == .tcbStatus
        }
    }

    @Test func revokedPCKCertificateIsRejected() throws {
        let state = try TemporaryDirectory("pck-revoked")
        let now = Date()
        let machine = try SimulatedSGXMachine.openOrCreate(stateDirectory: state.url, at: now)
        let quote = try machine.quote(for: Fixture.enclave, reportData: Fixture.reportData("pck"))
        _ = try Fixture.verifier(for: machine).verify(
            quoteBytes: quote, collateral: try machine.collateral(at: now), at: now)

        let revoked = try machine.settingTCBState(.init(pckCertificateRevoked: true))
        #expect(revoked.tcbState.pckCertificateRevoked)
        #expect(try SimulatedSGXMachine.open(stateDirectory: state.url).tcbState.pckCertificateRevoked)
        #expect {
            try Fixture.verifier(for: revoked).verify(
                quoteBytes: quote, collateral: try revoked.collateral(at: now), at: now)
        } throws: { error in
            (error as? AttestationError)?.check == .pckChain
        }
    }

    @Test func quoteFromOnePlatformIsRejectedUnderAnotherRootAndUnderIntel() throws {
        let first = try TemporaryDirectory("first")
        let second = try TemporaryDirectory("second")
        let now = Date()
        let machine = try SimulatedSGXMachine.openOrCreate(stateDirectory: first.url, at: now)
        let other = try SimulatedSGXMachine.openOrCreate(stateDirectory: second.url, at: now)
        #expect(try machine.rootCertificateDER() != other.rootCertificateDER())
        let quote = try machine.quote(for: Fixture.enclave, reportData: Fixture.reportData("cross"))

        for collateral in [try machine.collateral(at: now), try other.collateral(at: now)] {
            #expect(throws: AttestationError.self) {
                try Fixture.verifier(for: other).verify(quoteBytes: quote, collateral: collateral, at: now)
            }
            #expect(throws: AttestationError.self) {
                try QuoteVerifier(trustAnchor: .intelSGXRootCA).verify(quoteBytes: quote, collateral: collateral, at: now)
            }
        }
    }

    @Test func collateralExpiresAfterItsValidity() throws {
        let state = try TemporaryDirectory("expiry")
        let now = Date()
        let machine = try SimulatedSGXMachine.openOrCreate(stateDirectory: state.url, at: now)
        let quote = try machine.quote(for: Fixture.enclave, reportData: Fixture.reportData("expiry"))
        let collateral = try machine.collateral(at: now, validity: 86_400)
        _ = try Fixture.verifier(for: machine).verify(
            quoteBytes: quote, collateral: collateral, at: now.addingTimeInterval(86_000))
        #expect(throws: AttestationError.self) {
            try Fixture.verifier(for: machine).verify(
                quoteBytes: quote, collateral: collateral, at: now.addingTimeInterval(2 * 86_400))
        }
    }

    @Test func machineIdentityAndSealingKeysSurviveReload() throws {
        let state = try TemporaryDirectory("reload")
        let now = Date()
        let created = try SimulatedSGXMachine.openOrCreate(stateDirectory: state.url, at: now)
        let reopened = try SimulatedSGXMachine.open(stateDirectory: state.url)
        let reopenedAgain = try SimulatedSGXMachine.openOrCreate(stateDirectory: state.url, at: now.addingTimeInterval(60))
        #expect(try reopened.rootCertificateDER() == created.rootCertificateDER())
        #expect(reopenedAgain.pckCertificateChainPEM == created.pckCertificateChainPEM)

        for policy in SealingKeyPolicy.allCases {
            let key = created.sealingKey(for: Fixture.enclave, policy: policy)
            #expect(reopened.sealingKey(for: Fixture.enclave, policy: policy) == key)
            #expect(key.bitCount == 128)
        }

        let quote = try reopened.quote(for: Fixture.enclave, reportData: Fixture.reportData("after reload"))
        let verified = try Fixture.verifier(for: created).verify(
            quoteBytes: quote, collateral: try reopened.collateral(at: now), at: now)
        #expect(verified.status == .upToDate)

        let attributes = try FileManager.default.attributesOfItem(
            atPath: state.url.appendingPathComponent(SimulatedSGXMachine.stateFileName).path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
    }

    @Test func sealingKeysFollowTheSGXKeyPolicies() throws {
        let state = try TemporaryDirectory("sealing")
        let otherState = try TemporaryDirectory("sealing-other")
        let machine = try SimulatedSGXMachine.openOrCreate(stateDirectory: state.url)
        let otherMachine = try SimulatedSGXMachine.openOrCreate(stateDirectory: otherState.url)
        var rebuilt = Fixture.enclave
        rebuilt.mrEnclave = Array(SHA256.hash(data: Data("enclave B".utf8)))
        var otherSigner = Fixture.enclave
        otherSigner.mrSigner = Array(SHA256.hash(data: Data("signer 2".utf8)))
        var otherProduct = Fixture.enclave
        otherProduct.productID += 1
        var debug = Fixture.enclave
        debug.debug = true

        func key(
            _ enclave: EnclaveMeasurement, _ policy: SealingKeyPolicy, on host: SimulatedSGXMachine? = nil
        )
            -> SymmetricKey
        { (host ?? machine).sealingKey(for: enclave, policy: policy) }

        #expect(key(rebuilt, .enclave) != key(Fixture.enclave, .enclave))
        #expect(key(rebuilt, .signer) == key(Fixture.enclave, .signer))
        #expect(key(otherSigner, .signer) != key(Fixture.enclave, .signer))
        #expect(key(otherSigner, .enclave) == key(Fixture.enclave, .enclave))
        #expect(key(otherProduct, .signer) != key(Fixture.enclave, .signer))
        #expect(key(debug, .enclave) != key(Fixture.enclave, .enclave))
        #expect(key(Fixture.enclave, .enclave) != key(Fixture.enclave, .signer))
        #expect(key(Fixture.enclave, .enclave, on: otherMachine) != key(Fixture.enclave, .enclave))

        let platform = SimulatedPlatform(machine: machine, enclave: Fixture.enclave, consent: Fixture.quietConsent)
        #expect(try platform.sealingKey(.enclave) == key(Fixture.enclave, .enclave))
        #expect(try platform.measurement() == Fixture.enclave)
    }

    @Test func simulationIsAnnouncedWhenEnabled() throws {
        let state = try TemporaryDirectory("announce")
        let machine = try SimulatedSGXMachine.openOrCreate(stateDirectory: state.url)
        let messages = Messages()
        _ = SimulatedPlatform(
            machine: machine, enclave: Fixture.enclave,
            consent: .insecureSimulation(announce: { messages.append($0) }))
        let announced = messages.all
        #expect(announced.count == 1)
        #expect(announced.first?.contains("SGX SIMULATION ENABLED") == true)
        #expect(announced.first?.contains(Fixture.enclave.mrEnclave.hexadecimal) == true)
    }

    @Test func encryptedFileKeysAreWrittenLikeGramineKeys() throws {
        let state = try TemporaryDirectory("pf-keys")
        let machine = try SimulatedSGXMachine.openOrCreate(stateDirectory: state.url)
        let platform = SimulatedPlatform(machine: machine, enclave: Fixture.enclave, consent: Fixture.quietConsent)
        let key = [UInt8](repeating: 0xA5, count: 16)
        try platform.setEncryptedFileKey(named: "default", key: key)
        let written = try Data(contentsOf: platform.attestationDirectory.appendingPathComponent("keys/default"))
        #expect(Array(written) == key)

        #expect(throws: PlatformError.encryptedFileKeySize(name: "default", byteCount: 32)) {
            try platform.setEncryptedFileKey(named: "default", key: key + key)
        }
        for name in ["", "../escape", "_sgx_mrenclave", ".."] {
            #expect(throws: PlatformError.invalidKeyName(name)) {
                try platform.setEncryptedFileKey(named: name, key: key)
            }
        }
    }

    @Test func badInputsAreRejectedWithClearErrors() throws {
        let state = try TemporaryDirectory("bad-input")
        let machine = try SimulatedSGXMachine.openOrCreate(stateDirectory: state.url)
        let platform = SimulatedPlatform(machine: machine, enclave: Fixture.enclave, consent: Fixture.quietConsent)
        #expect(throws: PlatformError.reportDataSize(32)) {
            try platform.quote(reportData: [UInt8](repeating: 1, count: 32))
        }
        #expect(try ReportData.padding([1, 2, 3]).count == 64)
        #expect("\(PlatformError.reportDataSize(32))".contains("expected exactly 64"))

        let fresh = try TemporaryDirectory("bad-settings")
        #expect(throws: PlatformError.simulationSetting(name: "fmspc", found: "5 bytes", expected: "6 bytes")) {
            try SimulatedSGXMachine.openOrCreate(
                stateDirectory: fresh.url, hardware: SimulatedHardware(fmspc: [0, 1, 2, 3, 4]))
        }
        #expect {
            try SimulatedSGXMachine.openOrCreate(
                stateDirectory: fresh.url, tcbState: .init(platformStatus: .outOfDate, platformAdvisoryIDs: ["bad\"id"]))
        } throws: { error in
            "\(error)".contains("advisory ID")
        }

        let missing = try TemporaryDirectory("missing")
        #expect {
            try SimulatedSGXMachine.open(stateDirectory: missing.url)
        } throws: { error in
            guard case PlatformError.simulationState = error else { return false }
            return "\(error)".contains(SimulatedSGXMachine.stateFileName)
        }

        try Data("{\"format\": 1}".utf8).write(to: missing.url.appendingPathComponent(SimulatedSGXMachine.stateFileName))
        #expect {
            try SimulatedSGXMachine.openOrCreate(stateDirectory: missing.url)
        } throws: { error in
            "\(error)".contains("delete the directory")
        }
    }

    @Test func concurrentCreatorsAgreeOnOneMachine() async throws {
        let state = try TemporaryDirectory("concurrent")
        let url = state.url
        let roots = try await withThrowingTaskGroup(of: [UInt8].self) { group in
            for _ in 0..<8 {
                group.addTask { try SimulatedSGXMachine.openOrCreate(stateDirectory: url).rootCertificateDER() }
            }
            return try await group.reduce(into: Set<[UInt8]>()) { $0.insert($1) }
        }
        #expect(roots.count == 1)
    }
}

final class Messages: Sendable {
    private let stored = Mutex<[String]>([])
    func append(_ message: String) { stored.withLock { $0.append(message) } }
    var all: [String] { stored.withLock { $0 } }
}
