import Attestation
import Crypto
import Foundation
import Platform
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Plays Gramine's side of `/dev/attestation` in a test directory: `quote` is a named pipe, and for each reader the
/// responder reads what was written to `user_report_data` and answers with a quote from a simulated machine.
final class GramineAttestationDevice: Sendable {
    let directory: URL
    let machine: SimulatedSGXMachine
    let enclave: EnclaveMeasurement
    let sealingKeys: [SealingKeyPolicy: [UInt8]]

    init(in directory: URL, machine: SimulatedSGXMachine, enclave: EnclaveMeasurement, attestationType: String) throws {
        self.directory = directory
        self.machine = machine
        self.enclave = enclave
        let keys = directory.appendingPathComponent("keys")
        try FileManager.default.createDirectory(at: keys, withIntermediateDirectories: true)
        try Data((attestationType + "\n").utf8).write(to: directory.appendingPathComponent("attestation_type"))
        try Data().write(to: directory.appendingPathComponent("user_report_data"))
        var sealingKeys: [SealingKeyPolicy: [UInt8]] = [:]
        for policy in SealingKeyPolicy.allCases {
            let key = machine.sealingKey(for: enclave, policy: policy).withUnsafeBytes { Array($0) }
            try Data(key).write(to: keys.appendingPathComponent(policy.gramineKeyName))
            sealingKeys[policy] = key
        }
        self.sealingKeys = sealingKeys
        let body = try machine.reportBody(for: enclave, reportData: [UInt8](repeating: 0, count: 64))
        try Data(body + [UInt8](repeating: 0, count: 48)).write(to: directory.appendingPathComponent("report"))
        guard mkfifo(directory.appendingPathComponent("quote").path, 0o600) == 0 else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
    }

    /// Answers one quote read on a dedicated thread (not a task: the open blocks until the reader comes, and the
    /// test's own blocking read would otherwise starve the cooperative pool). One responder per read: a writer that
    /// reopened the pipe while the previous reader still held it would answer that reader again.
    func answerNextQuote() -> Responder {
        let quotePath = directory.appendingPathComponent("quote").path
        let reportDataURL = directory.appendingPathComponent("user_report_data")
        let responder = Responder()
        Thread.detachNewThread {
            let descriptor = open(quotePath, O_WRONLY)
            guard descriptor >= 0 else {
                responder.finish(["open failed: \(errno)"])
                return
            }
            defer { close(descriptor) }
            do {
                let reportData = Array(try Data(contentsOf: reportDataURL))
                let quote = try self.machine.quote(for: self.enclave, reportData: reportData)
                let written = quote.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
                responder.finish([written == quote.count ? "answered" : "short write \(written)"])
            } catch {
                responder.finish(["no quote: \(error)"])
            }
        }
        return responder
    }

    /// Writes `bytes` as the answer to one quote read, on a dedicated thread.
    func answerOnce(with bytes: [UInt8]) -> Responder {
        let quotePath = directory.appendingPathComponent("quote").path
        let responder = Responder()
        Thread.detachNewThread {
            let descriptor = open(quotePath, O_WRONLY)
            let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            close(descriptor)
            responder.finish([written == bytes.count ? "answered" : "short write \(written)"])
        }
        return responder
    }
}

/// The outcome of a responder thread.
final class Responder: Sendable {
    private let done = DispatchSemaphore(value: 0)
    private let outcomes = Mutex<[String]>([])

    func finish(_ outcomes: [String]) {
        self.outcomes.withLock { $0 = outcomes }
        done.signal()
    }

    func wait() -> [String] {
        done.wait()
        return outcomes.withLock { $0 }
    }
}

@Suite struct GraminePlatformTests {
    @Test func quoteExchangeThroughAttestationFilesVerifies() throws {
        let state = try TemporaryDirectory("gramine-machine")
        let device = try TemporaryDirectory("gramine-device")
        let now = Date()
        let machine = try SimulatedSGXMachine.openOrCreate(stateDirectory: state.url, at: now)
        let gramine = try GramineAttestationDevice(
            in: device.url, machine: machine, enclave: Fixture.enclave, attestationType: "dcap")
        let platform = try GraminePlatform(attestationDirectory: device.url)
        #expect(platform.kind == .gramine)
        #expect(platform.kind.isSecure)

        var quotes: [[UInt8]] = []
        for text in ["first", "second"] {
            let responder = gramine.answerNextQuote()
            quotes.append(try platform.quote(reportData: Fixture.reportData(text)))
            #expect(responder.wait() == ["answered"])
        }
        let (first, second) = (quotes[0], quotes[1])

        let written = try Data(contentsOf: device.url.appendingPathComponent("user_report_data"))
        #expect(Array(written) == Fixture.reportData("second"))
        let verifier = Fixture.verifier(for: machine)
        let collateral = try machine.collateral(at: now)
        for (quote, text) in [(first, "first"), (second, "second")] {
            let verified = try verifier.verify(quoteBytes: quote, collateral: collateral, at: now)
            #expect(verified.status == .upToDate)
            #expect(verified.quote.body.reportData == Fixture.reportData(text))
            #expect(verified.quote.body.sgxReport?.mrEnclave == Fixture.enclave.mrEnclave)
        }
    }

    @Test func sealingKeysMeasurementAndEncryptedFileKeysUseTheirFiles() throws {
        let state = try TemporaryDirectory("gramine-keys-machine")
        let device = try TemporaryDirectory("gramine-keys-device")
        let machine = try SimulatedSGXMachine.openOrCreate(stateDirectory: state.url)
        let gramine = try GramineAttestationDevice(
            in: device.url, machine: machine, enclave: Fixture.enclave, attestationType: "dcap")
        let platform = try GraminePlatform(attestationDirectory: device.url)

        for policy in SealingKeyPolicy.allCases {
            let key = try platform.sealingKey(policy).withUnsafeBytes { Array($0) }
            #expect(key == gramine.sealingKeys[policy])
        }
        #expect(try platform.measurement() == Fixture.enclave)

        let fileKey = [UInt8](0..<16)
        try platform.setEncryptedFileKey(named: "default", key: fileKey)
        #expect(Array(try Data(contentsOf: device.url.appendingPathComponent("keys/default"))) == fileKey)
        #expect(throws: PlatformError.encryptedFileKeySize(name: "default", byteCount: 15)) {
            try platform.setEncryptedFileKey(named: "default", key: Array(fileKey.dropLast()))
        }
        #expect(throws: PlatformError.invalidKeyName("_sgx_mrsigner")) {
            try platform.setEncryptedFileKey(named: "_sgx_mrsigner", key: fileKey)
        }
        #expect(throws: PlatformError.reportDataSize(65)) {
            try platform.quote(reportData: [UInt8](repeating: 0, count: 65))
        }
    }

    @Test func attestationTypeOtherThanDCAPIsRefused() throws {
        let state = try TemporaryDirectory("gramine-none-machine")
        let device = try TemporaryDirectory("gramine-none-device")
        let machine = try SimulatedSGXMachine.openOrCreate(stateDirectory: state.url)
        _ = try GramineAttestationDevice(
            in: device.url, machine: machine, enclave: Fixture.enclave, attestationType: "none")
        #expect {
            try GraminePlatform(attestationDirectory: device.url)
        } throws: { error in
            guard case PlatformError.attestationType(_, let found) = error else { return false }
            return found == "none" && "\(error)".contains("sgx.remote_attestation")
        }
    }

    @Test func missingAttestationInterfaceIsExplained() throws {
        let empty = try TemporaryDirectory("gramine-missing")
        #expect {
            try GraminePlatform(attestationDirectory: empty.url)
        } throws: { error in
            guard case PlatformError.attestationFile(let path, _, _) = error else { return false }
            return path.hasSuffix("attestation_type") && "\(error)".contains("inside Gramine-SGX")
        }
    }

    @Test func quoteWithOtherReportDataIsRejected() throws {
        let state = try TemporaryDirectory("gramine-mixup-machine")
        let device = try TemporaryDirectory("gramine-mixup-device")
        let machine = try SimulatedSGXMachine.openOrCreate(stateDirectory: state.url)
        let gramine = try GramineAttestationDevice(
            in: device.url, machine: machine, enclave: Fixture.enclave, attestationType: "dcap")
        let platform = try GraminePlatform(attestationDirectory: device.url)
        let stale = try machine.quote(for: Fixture.enclave, reportData: Fixture.reportData("someone else"))
        let responder = gramine.answerOnce(with: stale)
        #expect {
            try platform.quote(reportData: Fixture.reportData("mine"))
        } throws: { error in
            "\(error)".contains("other report data")
        }
        #expect(responder.wait() == ["answered"])
    }
}
