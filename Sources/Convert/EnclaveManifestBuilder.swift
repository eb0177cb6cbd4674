import Gramine
import Hexadecimal

/// The Gramine manifest of a converted image: the launcher is the LibOS entrypoint and the image's own argv is the
/// measured `loader.argv` (as MarbleRun's premain runs under Gramine), the image's environment is measured, the
/// settings the launcher takes from the pod pass through, and every trusted file is listed with its hash.
struct EnclaveManifestBuilder {
    let invocation: ProgramInvocation
    let trustedFiles: [(path: String, sha256: [UInt8])]
    let libosSHA256: [UInt8]
    let settings: EnclaveSettings

    /// Launcher settings the deployment gives each marble (the marble-injector sets them per pod).
    static let passthroughVariables = [
        "EDG_MARBLE_TYPE", "EDG_MARBLE_COORDINATOR_ADDR", "EDG_MARBLE_UUID_FILE", "EDG_MARBLE_DNS_NAMES", "CLOISTER_MARBLE_TYPE",
        "CLOISTER_COORDINATOR_ADDR", "CLOISTER_MARBLE_UUID_FILE", "CLOISTER_MARBLE_DNS_NAMES", "CLOISTER_COORDINATOR_ROOT_CA",
    ]

    var gramineLibraryDirectory: String { ConvertedImageLayout.graminePrefix + "/" + GramineInstallation.libraryDirectory }

    func manifest() -> GramineManifest {
        var root = TOMLTable()
        root["libos"] = .table(TOMLTable(["entrypoint": .string(ConvertedImageLayout.launcher)]))
        var loader = TOMLTable()
        loader["entrypoint"] = .table(
            TOMLTable([
                "uri": .string("file:" + gramineLibraryDirectory + "/libsysdb.so"), "sha256": .string(libosSHA256.hexadecimal),
            ]))
        loader["log_level"] = .string("error")
        loader["argv"] = .array(invocation.arguments.map(TOMLValue.string))
        loader["uid"] = .integer(Int64(invocation.userID))
        loader["gid"] = .integer(Int64(invocation.groupID))
        var environment = TOMLTable()
        let libraryPath = [gramineLibraryDirectory + "/runtime/glibc", "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib", "/usr/lib"]
        environment["LD_LIBRARY_PATH"] = .string(libraryPath.joined(separator: ":"))
        for variable in invocation.environment where variable.name != "LD_LIBRARY_PATH" {
            environment[variable.name] = .string(variable.value)
        }
        if environment["PATH"] == nil { environment["PATH"] = .string(ProgramInvocation.defaultPath) }
        for name in Self.passthroughVariables {
            environment[name] = .table(TOMLTable(["passthrough": .boolean(true)]))
        }
        if !settings.encryptedMounts.isEmpty {
            // Measured: the launcher then lets manifest Files land in these mounts without a warning.
            environment["CLOISTER_PROTECTED_PATHS"] = .string(settings.encryptedMounts.map(\.path).joined(separator: ":"))
        }
        loader["env"] = .table(environment)
        root["loader"] = .table(loader)
        var fileSystem = TOMLTable([
            "root": .table(TOMLTable(["uri": .string("file:/")])), "start_dir": .string(invocation.workingDirectory),
        ])
        if !settings.encryptedMounts.isEmpty {
            fileSystem["mounts"] = .array(
                settings.encryptedMounts.map { mount in
                    .table(
                        TOMLTable([
                            "type": .string("encrypted"), "path": .string(mount.path), "uri": .string("file:" + mount.path),
                            "key_name": .string(mount.keyName),
                        ]))
                })
        }
        root["fs"] = .table(fileSystem)
        var sgx = TOMLTable()
        sgx["remote_attestation"] = .string("dcap")
        sgx["enclave_size"] = .string(settings.size)
        sgx["max_threads"] = .integer(Int64(settings.maxThreads))
        sgx["edmm_enable"] = .boolean(settings.edmm)
        sgx["debug"] = .boolean(settings.debug)
        sgx["isvprodid"] = .integer(Int64(settings.productID))
        sgx["isvsvn"] = .integer(Int64(settings.securityVersion))
        sgx["trusted_files"] = .array(
            trustedFiles.map { file in
                .table(TOMLTable(["uri": .string("file:" + file.path), "sha256": .string(file.sha256.hexadecimal)]))
            })
        sgx["allowed_files"] = .array([.string("file:" + ConvertedImageLayout.runDirectory + "/")])
        root["sgx"] = .table(sgx)
        return GramineManifest(table: root)
    }
}

/// Advice on `sgx.enclave_size` and `sgx.max_threads` from the runtimes an image holds: their usual needs are far above
/// Gramine's defaults, and an enclave that is too small fails at run time, not at conversion.
enum EnclaveSizing {
    /// Runtime library name fragments, the size and threads they usually need.
    static let runtimes: [(fragment: String, name: String, size: UInt64, threads: Int)] = [
        ("libjvm.so", "a Java VM", 4 << 30, 64), ("libnode.so", "Node.js", 2 << 30, 32), ("/node", "Node.js", 2 << 30, 32),
        ("libpython3", "Python", 1 << 30, 16), ("/python3", "Python", 1 << 30, 16), ("/dotnet", ".NET", 4 << 30, 64),
    ]

    static func hints(for paths: [String], settings: EnclaveSettings) -> [String] {
        let size = EnclaveParameters.parseSize(settings.size) ?? 0
        var hints: [String] = []
        for runtime in runtimes where paths.contains(where: { $0.contains(runtime.fragment) }) {
            if size < runtime.size || settings.maxThreads < runtime.threads {
                hints.append(
                    "the image holds \(runtime.name), which usually needs --enclave-size \(runtime.size >> 30)G and --max-threads "
                        + "\(runtime.threads) or more (now \(settings.size), \(settings.maxThreads))")
            }
        }
        return Array(Set(hints)).sorted()
    }
}
