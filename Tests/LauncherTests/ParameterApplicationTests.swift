import Foundation
import Platform
import Testing

@testable import Launcher

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct ParameterApplicationTests {
    /// A simulated platform whose machine lives beside `attestation`, the directory standing in for /dev/attestation.
    func simulatedPlatform(attestation: TemporaryDirectory) throws -> SimulatedPlatform {
        SimulatedPlatform(
            machine: try SimulatedSGXMachine.openOrCreate(stateDirectory: attestation.url.appendingPathComponent("machine")),
            enclave: EnclaveMeasurement(
                mrEnclave: [UInt8](repeating: 1, count: 32), mrSigner: [UInt8](repeating: 2, count: 32), productID: 1,
                securityVersion: 1, debug: false),
            consent: .insecureSimulation(announce: { _ in }), attestationDirectory: attestation.url)
    }

    func mode(_ path: String) throws -> Int? {
        try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
    }

    @Test func writesFilesWithMode0600AndDirectories0700() throws {
        let work = try TemporaryDirectory()
        let attestation = try TemporaryDirectory()
        let application = ParameterApplication(platform: try simulatedPlatform(attestation: attestation), workingDirectory: work.path)
        let absolute = work.file("etc/app/secret.conf")
        try FileManager.default.createDirectory(atPath: work.file("existing"), withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: work.file("existing/old"), contents: Data("old".utf8), attributes: [.posixPermissions: 0o644])
        let written = try application.writeFiles([
            absolute: Data("password=hunter2\n".utf8),
            "relative/dir/cert.pem": Data("PEM".utf8),
            work.file("existing/old"): Data([0, 1, 2, 255]),
        ])
        #expect(written.count == 3)
        #expect(try String(contentsOfFile: absolute, encoding: .utf8) == "password=hunter2\n")
        #expect(try mode(absolute) == 0o600)
        #expect(try mode(work.file("etc/app")) == 0o700)
        #expect(try mode(work.file("etc")) == 0o700)
        #expect(try String(contentsOfFile: work.file("relative/dir/cert.pem"), encoding: .utf8) == "PEM")
        #expect(FileManager.default.contents(atPath: work.file("existing/old")) == Data([0, 1, 2, 255]))
        #expect(try mode(work.file("existing/old")) == 0o600)
    }

    @Test func keysAreSetFirstThroughThePlatformAndRedirectedInSimulation() throws {
        let work = try TemporaryDirectory()
        let attestation = try TemporaryDirectory()
        let application = ParameterApplication(platform: try simulatedPlatform(attestation: attestation), workingDirectory: work.path)
        let key = [UInt8](0..<16)
        let written = try application.writeFiles([
            work.file("a-file"): Data("x".utf8),
            "/dev/attestation/keys/default": Data(key),
            "/dev/attestation/protected_files_key": Data("000102030405060708090a0b0c0d0e0f\n".utf8),
            "/dev/attestation/keys/data": Data(key.reversed()),
        ])
        #expect(written.prefix(3).allSatisfy { $0.hasPrefix("/dev/attestation/") })
        #expect(written.last == work.file("a-file"))
        #expect(FileManager.default.contents(atPath: attestation.file("keys/default")) == Data(key))
        #expect(FileManager.default.contents(atPath: attestation.file("keys/data")) == Data(key.reversed()))
        #expect(!FileManager.default.fileExists(atPath: "/dev/attestation/keys/default"))
    }

    @Test(arguments: [
        ("/dev/attestation/keys/short", Data([1, 2, 3])),
        ("/dev/attestation/user_report_data", Data(count: 64)),
        ("/dev/attestation/protected_files_key", Data("xyz".utf8)),
        ("/dev/attestation/keys/_sgx_mrenclave", Data(count: 16)),
    ])
    func badKeysAreRefusedNamingThePath(path: String, content: Data) throws {
        let attestation = try TemporaryDirectory()
        let application = ParameterApplication(platform: try simulatedPlatform(attestation: attestation), workingDirectory: "/")
        #expect {
            try application.writeFiles([path: content])
        } throws: { error in
            (error as? LauncherError)?.stage == .parameters && (error as? LauncherError)?.subject == path
        }
    }

    @Test func unwritablePathsAreRefused() throws {
        let work = try TemporaryDirectory()
        _ = FileManager.default.createFile(atPath: work.file("plain"), contents: Data())
        let attestation = try TemporaryDirectory()
        let application = ParameterApplication(platform: try simulatedPlatform(attestation: attestation), workingDirectory: work.path)
        #expect {
            try application.writeFiles([work.file("plain/below"): Data("x".utf8)])
        } throws: { error in
            (error as? LauncherError)?.stage == .parameters
        }
    }

    @Test func environmentAddsAndReplaces() throws {
        let environment = try ParameterApplication.environment(
            inherited: ["PATH": "/bin", "SECRET": "old"], activation: ["SECRET": Data("new".utf8), "TOKEN": Data("t".utf8)])
        #expect(environment == ["PATH": Array("/bin".utf8), "SECRET": Array("new".utf8), "TOKEN": Array("t".utf8)])
    }

    @Test(arguments: [("BAD=NAME", Data("v".utf8)), ("", Data("v".utf8)), ("BINARY", Data([65, 0, 66]))])
    func invalidEnvironmentEntriesAreRefused(name: String, value: Data) throws {
        #expect {
            try ParameterApplication.environment(inherited: [:], activation: [name: value])
        } throws: { error in
            (error as? LauncherError)?.stage == .parameters
        }
    }
}

@Suite struct DescriptorTests {
    @Test func inheritedDescriptorsAreMarkedCloseOnExec() throws {
        let directory = try TemporaryDirectory()
        let descriptor = open(directory.file("leak"), O_CREAT | O_WRONLY, 0o600)
        try #require(descriptor > 2)
        defer { close(descriptor) }
        #expect(fcntl(descriptor, F_GETFD) & FD_CLOEXEC == 0)
        let marked = try ProcessReplacement.markDescriptorsCloseOnExec()
        #expect(marked.contains(descriptor))
        #expect(!marked.contains { $0 <= 2 })
        #expect(fcntl(descriptor, F_GETFD) & FD_CLOEXEC != 0)
    }

    @Test func theDescriptorListingSeesOpenDescriptors() throws {
        let descriptor = open("/dev/null", O_RDONLY)
        defer { close(descriptor) }
        let listed = try ProcessReplacement.openDescriptors()
        #expect(listed.contains(descriptor))
        #expect(listed.contains(0) || listed.contains(1) || listed.contains(2))
    }
}
