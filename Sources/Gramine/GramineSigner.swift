/// Any failure of the signing pipeline, keeping the typed error of the step that failed.
public enum GramineSigningError: Error, Sendable, Hashable, CustomStringConvertible {
    case manifestSyntax(TOMLError)
    case manifest(GramineManifestError)
    case libpal(ELFError)
    case layout(MeasurementError)
    case sigStruct(SigStructError)
    case key(SigningKeyError)

    public var description: String {
        switch self {
        case .manifestSyntax(let error): error.description
        case .manifest(let error): error.description
        case .libpal(let error): error.description
        case .layout(let error): error.description
        case .sigStruct(let error): error.description
        case .key(let error): error.description
        }
    }

    public var hint: String {
        switch self {
        case .manifestSyntax(let error): error.hint
        case .manifest(let error): error.hint
        case .libpal(let error): error.hint
        case .layout(let error): error.hint
        case .sigStruct(let error): error.hint
        case .key(let error): error.hint
        }
    }
}

/// `gramine-sgx-sign` as one pure-ish function: manifest in, `.manifest.sgx` bytes and SIGSTRUCT out (files are
/// read for hashing; nothing is written).
public enum GramineSigner {
    public struct Output: Sendable, Hashable {
        /// The `.manifest.sgx` bytes to write; MRENCLAVE covers exactly these.
        public let manifestSGX: [UInt8]
        public let measurement: GramineMeasurement
        public let sigStruct: SigStruct
    }

    /// Signs a manifest like `gramine-sgx-sign --manifest M --output M.sgx --libpal L [--chroot DIR] --key K --date D`.
    ///
    /// - Parameters:
    ///   - trustedFiles: where `sgx.trusted_files` are read (`.chroot(dir)` for `--chroot dir`).
    ///   - entrypointFiles: where `loader.entrypoint.uri` is read; Gramine uses `.host` even with `--chroot`.
    public static func sign(
        manifest: [UInt8], libpal: ELFFile, key: SGXSigningKey, date: SigStructDate, trustedFiles: TrustedFileSystem,
        entrypointFiles: TrustedFileSystem, defaultLibOSURI: String = GramineManifest.gscLibOSURI
    ) throws(GramineSigningError) -> Output {
        let completed: GramineManifest
        do {
            completed = try GramineManifest(parsing: manifest)
                .addingSignerDefaults(entrypointFiles: entrypointFiles, defaultLibOSURI: defaultLibOSURI)
                .expandingTrustedFiles(in: trustedFiles)
        } catch let error as TOMLError {
            throw .manifestSyntax(error)
        } catch let error as GramineManifestError {
            throw .manifest(error)
        } catch {
            preconditionFailure("unexpected error \(error)")
        }
        let manifestSGX = completed.tomlBytes
        return try measureAndSign(manifestSGX: manifestSGX, manifest: completed.table, libpal: libpal, key: key, date: date)
    }

    /// Measures existing `.manifest.sgx` bytes and signs them (`get_tbssigstruct` + `Sigstruct.sign`).
    public static func measureAndSign(
        manifestSGX: [UInt8], libpal: ELFFile, key: SGXSigningKey, date: SigStructDate
    ) throws(GramineSigningError) -> Output {
        let table: TOMLTable
        do {
            table = try TOMLReader().parse(manifestSGX)
        } catch {
            throw .manifestSyntax(error)
        }
        return try measureAndSign(manifestSGX: manifestSGX, manifest: table, libpal: libpal, key: key, date: date)
    }

    /// MRENCLAVE of `.manifest.sgx` bytes.
    public static func measure(manifestSGX: [UInt8], libpal: ELFFile, recordingStream: Bool = false) throws(GramineSigningError) -> GramineMeasurement
    {
        do {
            let parameters = try EnclaveParameters(manifest: TOMLReader().parse(manifestSGX))
            return try GramineMeasurement.measure(manifestSGX: manifestSGX, libpal: libpal, parameters: parameters, recordingStream: recordingStream)
        } catch let error as TOMLError {
            throw .manifestSyntax(error)
        } catch let error as GramineManifestError {
            throw .manifest(error)
        } catch let error as MeasurementError {
            throw .layout(error)
        } catch {
            preconditionFailure("unexpected error \(error)")
        }
    }

    /// The `.sig` path Gramine derives from the manifest path: `.manifest` replaced by `.sig`, else `.sig` appended.
    public static func sigPath(forManifest path: String) -> String {
        (path.hasSuffix(".manifest") ? String(path.dropLast(".manifest".count)) : path) + ".sig"
    }

    private static func measureAndSign(
        manifestSGX: [UInt8], manifest: TOMLTable, libpal: ELFFile, key: SGXSigningKey, date: SigStructDate
    ) throws(GramineSigningError) -> Output {
        let measurement = try measure(manifestSGX: manifestSGX, libpal: libpal)
        do {
            let fields = try SigStruct.Fields(manifest: manifest, mrEnclave: measurement.mrEnclave, date: date)
            return Output(manifestSGX: manifestSGX, measurement: measurement, sigStruct: try SigStruct.signed(fields, with: key))
        } catch let error as GramineManifestError {
            throw .manifest(error)
        } catch let error as SigStructError {
            throw .sigStruct(error)
        } catch {
            preconditionFailure("unexpected error \(error)")
        }
    }
}
