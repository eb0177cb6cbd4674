import Attestation
import Crypto
import Foundation
import Platform
import Testing
import _CryptoExtras

@Suite struct EnclaveDescriptionTests {
    static let description = EnclaveDescription(
        entrypoint: "/usr/bin/redis-server",
        arguments: .trusted(["redis-server", "--port", "6379"]),
        trustedFiles: [
            .init(path: "/usr/bin/redis-server", sha256: Array(repeating: 0x11, count: 32)),
            .init(path: "/etc/redis.conf", sha256: Array(repeating: 0x22, count: 32)),
        ],
        productID: 7, securityVersion: 3)

    @Test func mrEnclaveIsStableAndIndependentOfTrustedFileOrder() throws {
        var reordered = Self.description
        reordered.trustedFiles.reverse()
        #expect(try Self.description.mrEnclave() == reordered.mrEnclave())
        #expect(try Self.description.mrEnclave().count == 32)
    }

    @Test func everyMeasuredInputChangesMREnclave() throws {
        let original = try Self.description.mrEnclave()
        var variants: [EnclaveDescription] = []
        var changed = Self.description
        changed.entrypoint = "/usr/bin/redis-sentinel"
        variants.append(changed)
        changed = Self.description
        changed.arguments = .trusted(["redis-server", "--port", "6380"])
        variants.append(changed)
        changed = Self.description
        changed.arguments = .fromHost
        variants.append(changed)
        changed = Self.description
        changed.trustedFiles[1].sha256[0] ^= 1
        variants.append(changed)
        changed = Self.description
        changed.trustedFiles.removeLast()
        variants.append(changed)
        changed = Self.description
        changed.productID += 1
        variants.append(changed)
        changed = Self.description
        changed.securityVersion += 1
        variants.append(changed)
        changed = Self.description
        changed.debug = true
        variants.append(changed)
        let digests = try variants.map { try $0.mrEnclave() }
        #expect(!digests.contains(original))
        #expect(Set(digests).count == variants.count)
    }

    @Test func conflictingDuplicateTrustedFileIsRejected() {
        var duplicated = Self.description
        duplicated.trustedFiles.append(.init(path: "/etc/redis.conf", sha256: Array(repeating: 0x33, count: 32)))
        #expect(throws: PlatformError.conflictingTrustedFile(path: "/etc/redis.conf")) {
            try duplicated.mrEnclave()
        }
    }

    @Test func shortHashIsRejected() {
        var broken = Self.description
        broken.trustedFiles[0].sha256 = [1, 2, 3]
        #expect(throws: PlatformError.trustedFileHashSize(path: "/usr/bin/redis-server", byteCount: 3)) {
            try broken.mrEnclave()
        }
    }

    @Test func mrSignerIsTheHashOfTheLittleEndianModulus() throws {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits3072)
        let signer = try EnclaveSigner(pem: key.pemRepresentation)
        let modulus = Array(try key.publicKey.getKeyPrimitives().modulus)
        #expect(signer.modulus == modulus)
        #expect(signer.mrSigner == Array(SHA256.hash(data: Array(modulus.reversed()))))
        #expect(try EnclaveSigner(pem: key.publicKey.pemRepresentation) == signer)
    }

    /// A key made as Gramine requires (`openssl genrsa -3 3072`); MRSIGNER computed independently from
    /// `openssl rsa -modulus` (SHA-256 of the byte-reversed modulus).
    @Test func mrSignerOfAnExponentThreeKeyMatchesTheIndependentValue() throws {
        let pem = """
            -----BEGIN PUBLIC KEY-----
            MIIBoDANBgkqhkiG9w0BAQEFAAOCAY0AMIIBiAKCAYEAzndwDLYoEJycXZiYhSso
            d/uOYpG+XeArFzthgPqRaT7Sp9z9gYf1FCW+zevkPtKjSx20Vj2b7TzZYbrBd7oW
            6kGb4N5Rn2xJoNPMgukUk37fCn8XUV/P1augo1dFBoSdfmWyD4jvh54LUOYFtBCx
            XNy6oVR9m+p8RVBJzXf4Di50JbK/nKu/ZcdtDNNq+4UBTsNpcnbfRKqzZKcPmp1K
            +BengO0rsj/hHMh6vJKIkGeDODqPdwOIzFC3KYJR7cz8aDhCpYBgnVL01eGrqFZs
            t30NNFXt2fuY6C9NAMsw6XdnYi2HDtR9QzVMK3VXa3EK5po4C4Mm0x12W8H5rQnI
            6RFX6rDpUIajU0We9xuAXQ8Jydgbp22giOxn/nkMI5uJy05OGvsUCaG3oGH4jrd6
            W6o1ELa+fOvVX+Lxpz7y5h8z5mO6cvd+Wnb6Mv5KqspFDRVJd3dqL0+V72vICwcc
            273Pj3leN9AyyJUE9/guzbtcsoiER6vHjG0ns2xCoIY5AgED
            -----END PUBLIC KEY-----
            """
        let signer = try EnclaveSigner(pem: pem)
        #expect(signer.mrSigner.hexadecimal == "012fe2977193833fd0565c533b2c68bdfa094704bfe19f6d52f91cb2cdd2a4d0")
    }

    @Test func signingKeyOfWrongSizeOrFormatIsRejected() throws {
        let small = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        #expect {
            try EnclaveSigner(pem: small.publicKey.pemRepresentation)
        } throws: { error in
            "\(error)".contains("2048 bits, SGX requires 3072")
        }
        #expect {
            try EnclaveSigner(pem: P256.Signing.PrivateKey().pemRepresentation)
        } throws: { error in
            "\(error)".contains("is not an RSA public or private key")
        }
    }

    @Test func trustedFilesOnDiskAreChecked() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("platform-trusted-\(UUID())")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(
            at: root.appendingPathComponent("app/lib"), withIntermediateDirectories: true)
        try Data("#!/bin/sh\necho hello\n".utf8).write(to: root.appendingPathComponent("app/run.sh"))
        try Data("config = 1\n".utf8).write(to: root.appendingPathComponent("app/lib/settings.conf"))
        let description = EnclaveDescription(
            entrypoint: "/app/run.sh", arguments: .trusted(["run.sh"]),
            trustedFiles: [
                try .measuring(path: "/app/run.sh", under: root),
                try .measuring(path: "/app/lib/settings.conf", under: root),
            ])
        try description.verifyTrustedFiles(under: root)

        try Data("config = 2\n".utf8).write(to: root.appendingPathComponent("app/lib/settings.conf"))
        let modifiedHash = Array(SHA256.hash(data: Data("config = 2\n".utf8))).hexadecimal
        #expect(
            throws: PlatformError.trustedFileMismatch(
                path: "/app/lib/settings.conf",
                expectedSHA256: description.trustedFiles[1].sha256.hexadecimal,
                foundSHA256: modifiedHash)
        ) {
            try description.verifyTrustedFiles(under: root)
        }

        try Data("config = 1\n".utf8).write(to: root.appendingPathComponent("app/lib/settings.conf"))
        try FileManager.default.removeItem(at: root.appendingPathComponent("app/run.sh"))
        #expect {
            try description.verifyTrustedFiles(under: root)
        } throws: { error in
            guard case PlatformError.trustedFileUnreadable(let path, _) = error else { return false }
            return path == "/app/run.sh"
        }
    }

    @Test func launchRefusesModifiedTrustedFilesAndMeasuresTheDescription() throws {
        let root = try TemporaryDirectory("launch-root")
        let state = try TemporaryDirectory("launch-state")
        let binary = root.url.appendingPathComponent("bin/app")
        try FileManager.default.createDirectory(
            at: binary.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data("original program".utf8).write(to: binary)
        let description = EnclaveDescription(
            entrypoint: "/bin/app", arguments: .trusted(["app"]),
            trustedFiles: [try .measuring(path: "/bin/app", under: root.url)], productID: 1, securityVersion: 2)
        let signer = try EnclaveSigner(pem: try _RSA.Signing.PrivateKey(keySize: .bits3072).pemRepresentation)
        let machine = try SimulatedSGXMachine.openOrCreate(stateDirectory: state.url)

        let platform = try SimulatedPlatform.launch(
            description, signer: signer, on: machine, consent: Fixture.quietConsent, trustedFilesRoot: root.url)
        #expect(try platform.measurement() == description.measurement(signer: signer))

        try Data("patched program".utf8).write(to: binary)
        #expect {
            try SimulatedPlatform.launch(
                description, signer: signer, on: machine, consent: Fixture.quietConsent, trustedFilesRoot: root.url)
        } throws: { error in
            guard case PlatformError.trustedFileMismatch(let path, _, _) = error else { return false }
            return path == "/bin/app"
        }
    }

    @Test func descriptionRoundTripsThroughJSON() throws {
        let data = try JSONEncoder().encode(Self.description)
        #expect(try JSONDecoder().decode(EnclaveDescription.self, from: data) == Self.description)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains(String(repeating: "11", count: 32)))

        let written = """
            {"entrypoint": "/bin/app", "arguments": {"fromHost": true}, "productID": 1, "securityVersion": 2,
             "debug": true, "trustedFiles": [{"path": "/bin/app", "sha256": "\(String(repeating: "ab", count: 32))"}]}
            """
        let decoded = try JSONDecoder().decode(EnclaveDescription.self, from: Data(written.utf8))
        #expect(decoded.arguments == .fromHost)
        #expect(decoded.trustedFiles.first?.sha256 == Array(repeating: 0xAB, count: 32))

        let badArguments = written.replacingOccurrences(of: "{\"fromHost\": true}", with: "[\"app\"]")
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(EnclaveDescription.self, from: Data(badArguments.utf8))
        }
        let badHash = written.replacingOccurrences(of: String(repeating: "ab", count: 32), with: "abc")
        #expect {
            try JSONDecoder().decode(EnclaveDescription.self, from: Data(badHash.utf8))
        } throws: { error in
            "\(error)".contains("sha256 must be 64 hexadecimal digits")
        }
    }
}
