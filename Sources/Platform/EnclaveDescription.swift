import Attestation
import Crypto
import Foundation

/// Gramine's measurement model, reduced to what the simulated platform needs: what an enclave runs and which files it
/// trusts.
///
/// In Gramine, MRENCLAVE is a hash over the enclave layout whose only variable content is the `.manifest.sgx` text,
/// which names the entrypoint, the argv policy, `sgx.isvprodid`, `sgx.isvsvn`, `sgx.debug` and the SHA-256 of every
/// trusted file. The simulation keeps exactly those inputs and hashes a canonical encoding of them instead of the TOML
/// bytes and the PAL pages (see `canonicalEncoding()`), so MRENCLAVE changes whenever any of them changes, and only
/// then. The signing key is not part of MRENCLAVE (it gives MRSIGNER), as in SGX.
public struct EnclaveDescription: Sendable, Hashable, Codable {
    /// Where the enclave's argv comes from.
    public enum Arguments: Sendable, Hashable, Codable {
        /// A fixed, measured argv (Gramine `loader.argv` or `loader.argv_src_file`).
        case trusted([String])
        /// The host's command line, unmeasured (Gramine `loader.insecure__use_cmdline_argv = true`).
        case fromHost

        /// JSON: `{"trusted": ["app", "--flag"]}` or `{"fromHost": true}`.
        enum CodingKeys: String, CodingKey { case trusted, fromHost }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            if let argv = try container.decodeIfPresent([String].self, forKey: .trusted) {
                self = .trusted(argv)
            } else if try container.decodeIfPresent(Bool.self, forKey: .fromHost) == true {
                self = .fromHost
            } else {
                throw DecodingError.dataCorrupted(
                    .init(
                        codingPath: decoder.codingPath,
                        debugDescription: "arguments must be {\"trusted\": [argv...]} or {\"fromHost\": true}; found "
                            + "keys \(container.allKeys.map(\.stringValue))"))
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            switch self {
            case .trusted(let argv): try container.encode(argv, forKey: .trusted)
            case .fromHost: try container.encode(true, forKey: .fromHost)
            }
        }
    }

    /// A file whose content is part of the measurement (Gramine `sgx.trusted_files`).
    public struct TrustedFile: Sendable, Hashable, Codable {
        /// Absolute path inside the enclave's file system.
        public var path: String
        /// SHA-256 of the whole file.
        public var sha256: [UInt8]

        public init(path: String, sha256: [UInt8]) {
            self.path = path
            self.sha256 = sha256
        }

        /// The entry for the file at `path`, hashed from disk (below `root` when given, like `gramine-sgx-sign
        /// --chroot`).
        public static func measuring(path: String, under root: URL? = nil) throws(PlatformError) -> TrustedFile {
            TrustedFile(path: path, sha256: try fileSHA256(hostURL(for: path, under: root), shownAs: path))
        }

        enum CodingKeys: String, CodingKey { case path, sha256 }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            path = try container.decode(String.self, forKey: .path)
            let text = try container.decode(String.self, forKey: .sha256)
            guard let bytes = [UInt8](hexadecimal: text), bytes.count == SHA256.byteCount else {
                throw DecodingError.dataCorruptedError(
                    forKey: .sha256, in: container,
                    debugDescription: "trusted file \(path): sha256 must be 64 hexadecimal digits, found '\(text.prefix(80))'")
            }
            sha256 = bytes
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(path, forKey: .path)
            try container.encode(sha256.hexadecimal, forKey: .sha256)
        }
    }

    /// The first program the enclave runs (Gramine `libos.entrypoint`).
    public var entrypoint: String
    public var arguments: Arguments
    public var trustedFiles: [TrustedFile]
    /// ISVPRODID (`sgx.isvprodid`).
    public var productID: UInt16
    /// ISVSVN (`sgx.isvsvn`).
    public var securityVersion: UInt16
    /// `sgx.debug`: the enclave is launched with the DEBUG attribute.
    public var debug: Bool

    public init(
        entrypoint: String, arguments: Arguments, trustedFiles: [TrustedFile],
        productID: UInt16 = 0, securityVersion: UInt16 = 0, debug: Bool = false
    ) {
        self.entrypoint = entrypoint
        self.arguments = arguments
        self.trustedFiles = trustedFiles
        self.productID = productID
        self.securityVersion = securityVersion
        self.debug = debug
    }

    /// The trusted files in canonical order (by path bytes), each listed once.
    public func canonicalTrustedFiles() throws(PlatformError) -> [TrustedFile] {
        var byPath: [String: TrustedFile] = [:]
        for file in trustedFiles {
            guard file.sha256.count == SHA256.byteCount else {
                throw .trustedFileHashSize(path: file.path, byteCount: file.sha256.count)
            }
            if let listed = byPath[file.path], listed.sha256 != file.sha256 {
                throw .conflictingTrustedFile(path: file.path)
            }
            byPath[file.path] = file
        }
        return byPath.values.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
    }

    /// The bytes MRENCLAVE is the SHA-256 of. Integers are little-endian; `text(s)` is `u32(byte count) ‖ UTF-8`:
    ///
    ///     "cloister-simulated-enclave-v1" 0x00
    ///     text(entrypoint)
    ///     u8 argv mode: 0 = trusted, then u32(count) and text(each argument); 1 = from host
    ///     u32(trusted file count), then for each file in path byte order: text(path) ‖ sha256[32]
    ///     u16(ISVPRODID) ‖ u16(ISVSVN) ‖ u8(debug ? 1 : 0)
    public func canonicalEncoding() throws(PlatformError) -> [UInt8] {
        var bytes = Array("cloister-simulated-enclave-v1".utf8) + [0]
        func append(text: String) {
            bytes.append(littleEndian: UInt32(text.utf8.count))
            bytes.append(contentsOf: text.utf8)
        }
        append(text: entrypoint)
        switch arguments {
        case .trusted(let argv):
            bytes.append(0)
            bytes.append(littleEndian: UInt32(argv.count))
            argv.forEach(append(text:))
        case .fromHost:
            bytes.append(1)
        }
        let files = try canonicalTrustedFiles()
        bytes.append(littleEndian: UInt32(files.count))
        for file in files {
            append(text: file.path)
            bytes.append(contentsOf: file.sha256)
        }
        bytes.append(littleEndian: productID)
        bytes.append(littleEndian: securityVersion)
        bytes.append(debug ? 1 : 0)
        return bytes
    }

    /// MRENCLAVE of this enclave in the simulation: SHA-256 of `canonicalEncoding()`.
    public func mrEnclave() throws(PlatformError) -> [UInt8] {
        Array(SHA256.hash(data: try canonicalEncoding()))
    }

    /// The identity this enclave reports when signed by `signer`.
    public func measurement(signer: EnclaveSigner) throws(PlatformError) -> EnclaveMeasurement {
        EnclaveMeasurement(
            mrEnclave: try mrEnclave(), mrSigner: signer.mrSigner,
            productID: productID, securityVersion: securityVersion, debug: debug)
    }

    /// Checks every trusted file on disk (below `root` when given) against its hash, in canonical order, and fails on
    /// the first one that differs or cannot be read, as Gramine refuses to open it. `alreadyVerified` names files the
    /// caller checked itself (through the descriptor it will use).
    public func verifyTrustedFiles(under root: URL? = nil, alreadyVerified: Set<String> = []) throws(PlatformError) {
        for file in try canonicalTrustedFiles() where !alreadyVerified.contains(file.path) {
            let found = try fileSHA256(hostURL(for: file.path, under: root), shownAs: file.path)
            guard found == file.sha256 else {
                throw .trustedFileMismatch(
                    path: file.path, expectedSHA256: file.sha256.hexadecimal, foundSHA256: found.hexadecimal)
            }
        }
    }
}

private func hostURL(for path: String, under root: URL?) -> URL {
    guard let root else { return URL(fileURLWithPath: path) }
    return root.appendingPathComponent(path.drop(while: { $0 == "/" }).description)
}

private func fileSHA256(_ url: URL, shownAs path: String) throws(PlatformError) -> [UInt8] {
    do {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            hasher.update(data: chunk)
        }
        return Array(hasher.finalize())
    } catch {
        throw .trustedFileUnreadable(path: path, reason: "\(url.path): \(error.localizedDescription)")
    }
}

extension Array where Element == UInt8 {
    mutating func append<Integer: FixedWidthInteger>(littleEndian value: Integer) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}
