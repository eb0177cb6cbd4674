import Attestation
import Foundation
import Platform
import TestSupport
import Testing

/// The simulated machine's certificates and CRLs checked by an independent implementation: the `openssl` command.
@Suite(.enabled(if: OpenSSL.available, "skipped: the openssl command is not installed"))
struct OpenSSLInteroperabilityTests {
    @Test func pckChainAndCRLsVerifyWithOpenSSL() throws {
        let state = try TemporaryDirectory("openssl-state")
        let files = try TemporaryDirectory("openssl-files")
        let now = Date()
        let machine = try SimulatedSGXMachine.openOrCreate(stateDirectory: state.url, at: now)
        try write(machine, now: now, into: files.url)

        let verified = try OpenSSL.run(
            [
                "verify", "-crl_check_all", "-CAfile", "root.pem", "-untrusted", "pck-ca.pem",
                "-CRLfile", "root-crl.pem", "-CRLfile", "pck-crl.pem", "pck.pem",
            ], in: files.url)
        #expect(verified.status == 0, "\(verified.output)")
        #expect(verified.output.contains("pck.pem: OK"))

        let tcbSigning = try OpenSSL.run(
            ["verify", "-crl_check", "-CAfile", "root.pem", "-CRLfile", "root-crl.pem", "tcb-signing.pem"],
            in: files.url)
        #expect(tcbSigning.status == 0, "\(tcbSigning.output)")

        for (crl, issuer) in [("root-crl.pem", "root.pem"), ("pck-crl.pem", "pck-ca.pem")] {
            let checked = try OpenSSL.run(["crl", "-in", crl, "-CAfile", issuer, "-noout", "-verify"], in: files.url)
            #expect(checked.status == 0 && checked.output.contains("verify OK"), "\(crl): \(checked.output)")
        }
    }

    @Test func revokedPCKCertificateIsRevokedForOpenSSL() throws {
        let state = try TemporaryDirectory("openssl-revoked-state")
        let files = try TemporaryDirectory("openssl-revoked-files")
        let now = Date()
        let machine = try SimulatedSGXMachine.openOrCreate(
            stateDirectory: state.url, tcbState: .init(pckCertificateRevoked: true), at: now)
        try write(machine, now: now, into: files.url)
        let verified = try OpenSSL.run(
            [
                "verify", "-crl_check_all", "-CAfile", "root.pem", "-untrusted", "pck-ca.pem",
                "-CRLfile", "root-crl.pem", "-CRLfile", "pck-crl.pem", "pck.pem",
            ], in: files.url)
        #expect(verified.status != 0)
        #expect(verified.output.contains("certificate revoked"), "\(verified.output)")
    }

    private func write(_ machine: SimulatedSGXMachine, now: Date, into directory: URL) throws {
        let chain = machine.pckCertificateChainPEM
        let blocks = chain.components(separatedBy: "-----END CERTIFICATE-----")
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            .filter { !$0.isEmpty }
            .map { $0 + "\n-----END CERTIFICATE-----\n" }
        try #require(blocks.count == 3)
        let collateral = try machine.collateral(at: now)
        let tcbSigning = try #require(
            collateral.tcbInfoIssuerChain.components(separatedBy: "-----END CERTIFICATE-----").first)
        let outputs: [(String, String)] = [
            ("pck.pem", blocks[0]), ("pck-ca.pem", blocks[1]), ("root.pem", blocks[2]),
            ("tcb-signing.pem", tcbSigning + "-----END CERTIFICATE-----\n"),
            ("root-crl.pem", pem(collateral.rootCACRL, label: "X509 CRL")),
            ("pck-crl.pem", pem(collateral.pckCRL, label: "X509 CRL")),
        ]
        for (name, text) in outputs {
            try Data(text.utf8).write(to: directory.appendingPathComponent(name))
        }
    }

    private func pem(_ der: [UInt8], label: String) -> String {
        let base64 = Data(der).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
        return "-----BEGIN \(label)-----\n\(base64)\n-----END \(label)-----\n"
    }
}

enum OpenSSL {
    static let executable = ["/usr/bin/openssl", "/usr/local/bin/openssl"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    static var available: Bool { executable != nil }

    static func run(_ arguments: [String], in directory: URL) throws -> (status: Int32, output: String) {
        let outcome = try ProgramRunner.run(try #require(executable), arguments, workingDirectory: directory.path)
        return (outcome.exitCode, outcome.standardOutput + outcome.standardError)
    }
}
