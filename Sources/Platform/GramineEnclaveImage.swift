import Foundation
import Gramine

/// A signed Gramine application as `cloister convert` puts it into an image (`APP.manifest.sgx`, `APP.sig` and the
/// Gramine installation its `loader.entrypoint.uri` names), read the way SGX hardware would see it: MRENCLAVE is what
/// Gramine's measurement gives for the `.manifest.sgx` and `libpal.so`, so a manifest `Package` pins the same values
/// in simulation and on SGX machines.
public struct GramineEnclaveImage: Sendable {
    /// The application path without extension, as `gramine-sgx` takes it.
    public let application: String
    public let manifest: TOMLTable
    /// The identity the enclave reports: MRENCLAVE measured here, MRSIGNER and the ISV values from the `.sig`.
    public let measurement: EnclaveMeasurement
    /// The entrypoint, the measured argv and the trusted files, for the launcher and the trusted-file check.
    public let description: EnclaveDescription
    /// `loader.env` entries with fixed (measured) values.
    public let fixedEnvironment: [String: String]
    /// `loader.env` entries the host passes through.
    public let passthroughEnvironment: [String]
    /// Gramine's installation directory (`<pkglibdir>`), where `libsysdb.so` and `sgx/` are.
    public let gramineLibraryDirectory: String

    public var manifestPath: String { application + ".manifest.sgx" }
    public var signaturePath: String { application + ".sig" }
    public var libpalPath: String { gramineLibraryDirectory + "/sgx/libpal.so" }
    /// The host part of Gramine's SGX PAL, which `gramine-sgx` executes.
    public var loaderPath: String { gramineLibraryDirectory + "/sgx/loader" }

    /// The Gramine installation directory (`<pkglibdir>`) the application's manifest names, read without measuring.
    public static func libraryDirectory(application: String) throws(PlatformError) -> String {
        let manifestPath = application + ".manifest.sgx"
        let manifest: TOMLTable
        do {
            manifest = try TOMLReader().parse(try read(manifestPath))
        } catch let error as PlatformError {
            throw error
        } catch {
            throw .gramineImage(path: manifestPath, reason: "\(error)")
        }
        return try libraryDirectory(of: manifest, path: manifestPath)
    }

    private static func libraryDirectory(of manifest: TOMLTable, path: String) throws(PlatformError) -> String {
        guard let libosURI = manifest[path: ["loader", "entrypoint", "uri"]]?.string, libosURI.hasPrefix("file:") else {
            throw .gramineImage(path: path, reason: "loader.entrypoint.uri is not a file: URI")
        }
        return (String(libosURI.dropFirst("file:".count)) as NSString).deletingLastPathComponent
    }

    /// Reads `application.manifest.sgx` and `application.sig`, measures the manifest with the installation's
    /// `libpal.so` and checks that the `.sig` was made for exactly this measurement.
    public static func load(application: String) throws(PlatformError) -> GramineEnclaveImage {
        let manifestPath = application + ".manifest.sgx"
        let manifestBytes = try read(manifestPath)
        let manifest: TOMLTable
        do {
            manifest = try TOMLReader().parse(manifestBytes)
        } catch {
            throw .gramineImage(path: manifestPath, reason: "\(error)")
        }
        let libraryDirectory = try libraryDirectory(of: manifest, path: manifestPath)
        let libpalPath = libraryDirectory + "/sgx/libpal.so"
        let libpal: ELFFile
        do {
            libpal = try ELFFile(bytes: try read(libpalPath))
        } catch let error as PlatformError {
            throw error
        } catch {
            throw .gramineImage(path: libpalPath, reason: "\(error)")
        }
        let measured: [UInt8]
        do {
            measured = try GramineSigner.measure(manifestSGX: manifestBytes, libpal: libpal).mrEnclave
        } catch {
            throw .gramineImage(path: manifestPath, reason: "it cannot be measured: \(error)")
        }
        let signaturePath = application + ".sig"
        let signature: SigStruct
        do {
            signature = try SigStruct(bytes: try read(signaturePath))
        } catch let error as PlatformError {
            throw error
        } catch {
            throw .gramineImage(path: signaturePath, reason: "\(error)")
        }
        guard signature.mrEnclave == measured else {
            throw .gramineImage(
                path: signaturePath,
                reason: "its ENCLAVEHASH \(signature.mrEnclave.hexadecimal) is not the MRENCLAVE \(measured.hexadecimal) of "
                    + "\(manifestPath) with \(libpalPath): the manifest or the Gramine installation changed after signing")
        }
        let description = try Self.description(of: manifest, path: manifestPath, signature: signature)
        let (fixed, passthrough) = try Self.environment(of: manifest, path: manifestPath)
        return GramineEnclaveImage(
            application: application, manifest: manifest,
            measurement: EnclaveMeasurement(
                mrEnclave: measured, mrSigner: signature.mrSigner, productID: signature.productID,
                securityVersion: signature.securityVersion, debug: signature.isDebug),
            description: description, fixedEnvironment: fixed, passthroughEnvironment: passthrough,
            gramineLibraryDirectory: libraryDirectory)
    }

    private static func description(of manifest: TOMLTable, path: String, signature: SigStruct) throws(PlatformError) -> EnclaveDescription {
        guard let entrypoint = manifest[path: ["libos", "entrypoint"]]?.string else {
            throw .gramineImage(path: path, reason: "libos.entrypoint is missing")
        }
        let arguments: EnclaveDescription.Arguments
        if let argv = manifest[path: ["loader", "argv"]]?.array {
            arguments = .trusted(argv.compactMap(\.string))
        } else if manifest[path: ["loader", "insecure__use_cmdline_argv"]]?.boolean == true {
            arguments = .fromHost
        } else {
            throw .gramineImage(path: path, reason: "it has neither loader.argv nor loader.insecure__use_cmdline_argv")
        }
        var trusted: [EnclaveDescription.TrustedFile] = []
        for entry in manifest[path: ["sgx", "trusted_files"]]?.array ?? [] {
            guard let uri = entry.table?["uri"]?.string, uri.hasPrefix("file:"), let hash = entry.table?["sha256"]?.string,
                let sha256 = [UInt8](hexadecimal: hash), sha256.count == 32
            else {
                throw .gramineImage(path: path, reason: "an sgx.trusted_files entry is not a {uri = \"file:...\", sha256} table")
            }
            trusted.append(EnclaveDescription.TrustedFile(path: String(uri.dropFirst("file:".count)), sha256: sha256))
        }
        return EnclaveDescription(
            entrypoint: entrypoint, arguments: arguments, trustedFiles: trusted, productID: signature.productID,
            securityVersion: signature.securityVersion, debug: signature.isDebug)
    }

    private static func environment(of manifest: TOMLTable, path: String) throws(PlatformError) -> ([String: String], [String]) {
        var fixed: [String: String] = [:]
        var passthrough: [String] = []
        for (name, value) in manifest[path: ["loader", "env"]]?.table?.entries ?? [] {
            switch value {
            case .string(let text): fixed[name] = text
            case .table(let table) where table["passthrough"]?.boolean == true: passthrough.append(name)
            case .table(let table) where table["value"]?.string != nil: fixed[name] = table["value"]?.string
            default: throw .gramineImage(path: path, reason: "loader.env.\(name) is neither a string, {value = ...} nor {passthrough = true}")
            }
        }
        return (fixed, passthrough)
    }

    /// The manifest's encrypted mounts (`fs.mounts` entries of type "encrypted"): the enclave path, the host uri and
    /// the key's name (Gramine's default is "default").
    public var encryptedMounts: [(path: String, uri: String, keyName: String)] {
        (manifest[path: ["fs", "mounts"]]?.array ?? []).compactMap { entry in
            guard let mount = entry.table, mount["type"]?.string == "encrypted", let path = mount["path"]?.string else { return nil }
            return (path, mount["uri"]?.string ?? "file:" + path, mount["key_name"]?.string ?? "default")
        }
    }

    /// The program's environment as Gramine builds it: the fixed values, and the passthrough names the host sets.
    public func enclaveEnvironment(host: [String: String]) -> [String: String] {
        var environment = fixedEnvironment
        for name in passthroughEnvironment {
            if let value = host[name] { environment[name] = value }
        }
        return environment
    }

    private static func read(_ path: String) throws(PlatformError) -> [UInt8] {
        do {
            return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw .gramineImage(path: path, reason: "it cannot be read (\(error.localizedDescription))")
        }
    }
}
