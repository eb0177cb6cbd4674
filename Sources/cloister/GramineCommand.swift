import ArgumentParser
import Crypto
import Foundation
import Gramine
import Hexadecimal

struct GramineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gramine",
        abstract: "Sign, measure and make keys for Gramine enclaves, byte for byte as gramine-sgx-sign does.",
        discussion: """
            Exit codes: 0 done; 1 the manifest, key or layout is invalid or refused; 2 an input cannot be read or \
            parsed, or a usage error.
            """,
        subcommands: [GramineSignCommand.self, GramineMeasureCommand.self, GramineKeygenCommand.self]
    )
}

struct GramineSignCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign",
        abstract: "Complete a Gramine manifest, hash its trusted files, and write the .manifest.sgx and the .sig.",
        discussion: """
            Does what gramine-sgx-sign does: adds the signer's defaults, expands and hashes sgx.trusted_files, writes \
            the manifest as Gramine writes it, measures MRENCLAVE with the given libpal.so and signs the SIGSTRUCT. \
            The .sig goes next to the manifest, named as Gramine names it (app.manifest -> app.sig).
            With --chroot, trusted files and loader.entrypoint.uri are read inside that directory (the image's root). \
            Gramine itself reads loader.entrypoint.uri on the host even with --chroot; --entrypoint-on-host does that.
            Example: cloister gramine sign --manifest app.manifest --output app.manifest.sgx --key enclave-key.pem \
            --libpal rootfs/gramine/.../sgx/libpal.so --chroot rootfs
            Exit codes: 0 signed; 1 the manifest or key is invalid or refused; 2 an input cannot be read or parsed.
            """
    )

    @Option(help: "The manifest to sign (TOML, already rendered).") var manifest: String
    @Option(help: "Where to write the .manifest.sgx.") var output: String
    @Option(help: "The RSA-3072 signing key with exponent 3 (PEM).") var key: String
    @Option(help: "The linux-sgx libpal.so of the Gramine build that will run the enclave.") var libpal: String
    @Option(help: "Read trusted files inside this directory (the image's root file system).") var chroot: String?
    @Option(help: "The SIGSTRUCT date, YYYY-MM-DD or 'today'.") var date = "today"
    @Option(help: "Where to write the .sig (default: derived from --manifest as Gramine does).") var sigfile: String?
    @Option(help: "loader.entrypoint.uri when the manifest has none.") var libosURI = GramineManifest.gscLibOSURI
    @Flag(help: "Hash loader.entrypoint.uri on the host even with --chroot, exactly as gramine-sgx-sign does.") var entrypointOnHost = false
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        let manifestBytes = try GramineCLI.read(manifest, what: "manifest", hint: "Check the path to the manifest.", json: json)
        let libpalFile = try GramineCLI.libpal(libpal, json: json)
        let keyText = String(
            decoding: try GramineCLI.read(
                key, what: "signing key", hint: "Check the path, or make a key with 'cloister gramine keygen'.", json: json), as: UTF8.self)
        let signingKey: SGXSigningKey
        let signingDate: SigStructDate
        do {
            signingKey = try SGXSigningKey(pemRepresentation: keyText)
            signingDate = try SigStructDate(parsing: date)
        } catch let error as SigningKeyError {
            try GramineCLI.fail("\(key): \(error.description)", hint: error.hint, exitCode: 1, json: json)
        } catch let error as SigStructError {
            try GramineCLI.fail("--date: \(error.description)", hint: error.hint, exitCode: 2, json: json)
        } catch {
            try GramineCLI.fail("\(error)", hint: "See --help.", exitCode: 2, json: json)
        }
        if let chroot {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: chroot, isDirectory: &isDirectory), isDirectory.boolValue else {
                try GramineCLI.fail(
                    "--chroot \(chroot) is not a directory", hint: "Give the extracted root file system of the image.", exitCode: 2, json: json)
            }
        }
        let trustedFiles = chroot.map(TrustedFileSystem.chroot) ?? .host
        let signed: GramineSigner.Output
        do {
            signed = try GramineSigner.sign(
                manifest: manifestBytes, libpal: libpalFile, key: signingKey, date: signingDate, trustedFiles: trustedFiles,
                entrypointFiles: entrypointOnHost ? .host : trustedFiles, defaultLibOSURI: libosURI)
        } catch {
            try GramineCLI.fail(error, file: manifest, json: json)
        }
        let sigPath = sigfile ?? GramineSigner.sigPath(forManifest: manifest)
        try GramineCLI.write(signed.manifestSGX, to: output, json: json)
        try GramineCLI.write(signed.sigStruct.bytes, to: sigPath, json: json)
        let sigStruct = signed.sigStruct
        if json {
            GramineCLI.printJSON(
                GramineSignAnswer(
                    ok: true, manifestSGX: output, sig: sigPath, mrenclave: sigStruct.mrEnclave.hexadecimal, mrsigner: sigStruct.mrSigner.hexadecimal,
                    date: sigStruct.date, isvprodid: sigStruct.productID, isvsvn: sigStruct.securityVersion, debug: sigStruct.isDebug))
        } else {
            print(
                """
                wrote:     \(output)
                wrote:     \(sigPath)
                MRENCLAVE: \(sigStruct.mrEnclave.hexadecimal)
                MRSIGNER:  \(sigStruct.mrSigner.hexadecimal)
                ISVPRODID: \(sigStruct.productID)
                ISVSVN:    \(sigStruct.securityVersion)
                debug:     \(sigStruct.isDebug)
                """)
        }
    }
}

struct GramineMeasureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "measure",
        abstract: "Print the MRENCLAVE of a .manifest.sgx with a given libpal.so.",
        discussion: """
            MRENCLAVE depends only on the exact .manifest.sgx bytes and the libpal.so (gramine.md §6).
            Example: cloister gramine measure app.manifest.sgx --libpal libpal.so --json
            Exit codes: 0 printed; 1 the manifest's enclave settings are invalid; 2 an input cannot be read or parsed.
            """
    )

    @Argument(help: "The .manifest.sgx written by the signer.") var manifestSGX: String
    @Option(help: "The linux-sgx libpal.so of the Gramine build that will run the enclave.") var libpal: String
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        let bytes = try GramineCLI.read(manifestSGX, what: ".manifest.sgx", hint: "Check the path to the .manifest.sgx.", json: json)
        let libpalBytes = try GramineCLI.read(libpal, what: "libpal.so", hint: "Give the sgx/libpal.so of the Gramine install.", json: json)
        let measurement: GramineMeasurement
        let parameters: EnclaveParameters
        do {
            let libpalFile: ELFFile
            do {
                libpalFile = try ELFFile(bytes: libpalBytes)
            } catch {
                throw GramineSigningError.libpal(error)
            }
            measurement = try GramineSigner.measure(manifestSGX: bytes, libpal: libpalFile)
            parameters = try EnclaveParameters(manifest: TOMLReader().parse(bytes))
        } catch {
            try GramineCLI.fail(error, file: manifestSGX, json: json)
        }
        if json {
            GramineCLI.printJSON(
                GramineMeasureAnswer(
                    ok: true, mrenclave: measurement.mrEnclave.hexadecimal, enclaveSize: parameters.size, maxThreads: parameters.maxThreads,
                    edmmEnable: parameters.edmmEnabled, manifestSHA256: GramineCLI.sha256(bytes), libpalSHA256: GramineCLI.sha256(libpalBytes),
                    eaddRecords: measurement.addCount, eextendRecords: measurement.extendCount,
                    heapMin: "0x" + String(measurement.heapMin, radix: 16), heapMax: "0x" + String(measurement.heapMax, radix: 16)))
        } else {
            print(measurement.mrEnclave.hexadecimal)
        }
    }
}

struct GramineKeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Generate an RSA-3072 signing key with public exponent 3, as SGX requires.",
        discussion: """
            Writes a PKCS#1 PEM ('RSA PRIVATE KEY'), the form gramine-sgx-gen-private-key writes, with mode 0600. \
            Without --output the key is printed. An existing file is never overwritten.
            Example: cloister gramine keygen --output enclave-key.pem
            Exit codes: 0 written; 1 the output file already exists; 2 it cannot be written.
            """
    )

    @Option(help: "Where to write the key (PEM).") var output: String?

    func run() throws {
        if let output, FileManager.default.fileExists(atPath: output) {
            try GramineCLI.fail(
                "\(output) already exists", hint: "Choose another --output, or remove the old key if it is no longer needed.", exitCode: 1,
                json: false)
        }
        let key: SGXSigningKey
        do {
            key = try SGXSigningKey.generate()
        } catch {
            try GramineCLI.fail(error.description, hint: error.hint, exitCode: 1, json: false)
        }
        guard let output else {
            print(key.pemRepresentation)
            return
        }
        guard
            FileManager.default.createFile(
                atPath: output, contents: Data((key.pemRepresentation + "\n").utf8), attributes: [.posixPermissions: 0o600])
        else {
            try GramineCLI.fail("cannot write \(output)", hint: "Check that the directory exists and is writable.", exitCode: 2, json: false)
        }
        print("wrote \(output) (MRSIGNER \(key.mrSigner.hexadecimal))")
    }
}

private struct GramineSignAnswer: Encodable {
    let ok: Bool
    let manifestSGX: String
    let sig: String
    let mrenclave: String
    let mrsigner: String
    let date: String
    let isvprodid: UInt16
    let isvsvn: UInt16
    let debug: Bool

    enum CodingKeys: String, CodingKey {
        case ok
        case manifestSGX = "manifest_sgx"
        case sig, mrenclave, mrsigner, date, isvprodid, isvsvn, debug
    }
}

private struct GramineMeasureAnswer: Encodable {
    let ok: Bool
    let mrenclave: String
    let enclaveSize: UInt64
    let maxThreads: Int
    let edmmEnable: Bool
    let manifestSHA256: String
    let libpalSHA256: String
    let eaddRecords: Int
    let eextendRecords: Int
    let heapMin: String
    let heapMax: String

    enum CodingKeys: String, CodingKey {
        case ok, mrenclave
        case enclaveSize = "enclave_size"
        case maxThreads = "max_threads"
        case edmmEnable = "edmm_enable"
        case manifestSHA256 = "manifest_sgx_sha256"
        case libpalSHA256 = "libpal_sha256"
        case eaddRecords = "eadd_records"
        case eextendRecords = "eextend_records"
        case heapMin = "heap_min"
        case heapMax = "heap_max"
    }
}

private struct GramineFailureAnswer: Encodable {
    struct Failure: Encodable {
        let kind: String
        let message: String
        let hint: String
    }

    let ok = false
    let error: Failure
}

/// Reading inputs, writing outputs and reporting failures with the exit codes the commands document.
private enum GramineCLI {
    static func read(_ path: String, what: String, hint: String, json: Bool) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            try fail("cannot read the \(what) \(path)", hint: hint, exitCode: 2, json: json)
        }
        return Array(data)
    }

    static func libpal(_ path: String, json: Bool) throws -> ELFFile {
        let bytes = try read(path, what: "libpal.so", hint: "Give the sgx/libpal.so of the Gramine install.", json: json)
        do {
            return try ELFFile(bytes: bytes)
        } catch {
            try fail("\(path): \(error.description)", hint: error.hint, exitCode: 2, json: json)
        }
    }

    static func write(_ bytes: [UInt8], to path: String, json: Bool) throws {
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            try fail(
                "cannot write \(path): \(error.localizedDescription)", hint: "Check that the directory exists and is writable.", exitCode: 2,
                json: json)
        }
    }

    static func sha256(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).hexadecimal
    }

    /// Unparseable or unreadable input is exit code 2; content that parses but is invalid or refused is 1.
    static func fail(_ error: any Error, file: String, json: Bool) throws -> Never {
        guard let error = error as? GramineSigningError else {
            try fail("\(file): \(error)", hint: "See --help.", exitCode: 2, json: json)
        }
        switch error {
        case .manifestSyntax, .libpal:
            try fail("\(file): \(error.description)", hint: error.hint, exitCode: 2, json: json)
        case .manifest, .layout, .sigStruct, .key:
            try fail("\(file): \(error.description)", hint: error.hint, exitCode: 1, json: json)
        }
    }

    static func fail(_ message: String, hint: String, exitCode: Int32, json: Bool) throws -> Never {
        if json {
            printJSON(GramineFailureAnswer(error: .init(kind: exitCode == 2 ? "invalidInput" : "refused", message: message, hint: hint)))
        } else {
            FileHandle.standardError.write(Data("error: \(message)\n  hint: \(hint)\n".utf8))
        }
        throw ExitCode(exitCode)
    }

    static func printJSON(_ value: some Encodable) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print((try? String(decoding: encoder.encode(value), as: UTF8.self)) ?? "{}")
    }
}
