import Foundation
import Platform

/// The entrypoint of an image made by `cloister convert`: `cloister-premain --converted-image APP`, where `APP` is the
/// signed Gramine application (`APP.manifest.sgx`, `APP.sig`). One image serves both worlds: on an SGX node it starts
/// the enclave through Gramine's loader, as `gramine-sgx APP` does (the launcher then runs again inside the enclave,
/// as its `libos.entrypoint`); where simulation is enabled explicitly (`CLOISTER_PLATFORM=simulation`), it runs the
/// launcher directly with the application's measured argv, environment and trusted files.
public enum ConvertedImageEntry {
    public static let flag = "--converted-image"

    public enum Plan: Sendable, Hashable {
        /// Run the launcher in simulation: these are its environment and arguments.
        case simulate(environment: [String: String], arguments: [String])
        /// Replace this process with Gramine's SGX loader.
        case startEnclave(loader: String, arguments: [String])
    }

    /// What to do for the launcher's own `arguments` (`[premain, --converted-image, APP]`) in `environment`.
    public static func plan(arguments: [String], environment: [String: String]) throws(LauncherError) -> Plan {
        guard arguments.count >= 3, arguments[1] == flag, !arguments[2].isEmpty else {
            throw LauncherError(
                .settings, flag, found: arguments.dropFirst().joined(separator: " ").quotedForError(),
                expected: "\(flag) APP, the signed Gramine application without extension",
                hint: "use the entrypoint cloister convert wrote into the image")
        }
        let application = arguments[2]
        guard arguments.count == 3 else {
            throw LauncherError(
                .settings, "command line", found: arguments.dropFirst(3).joined(separator: " ").quotedForError(),
                expected: "no arguments after \(flag) \(application)",
                hint: "the program's argv is measured (loader.argv in \(application).manifest.sgx); convert the image again "
                    + "to change it")
        }
        switch environment[LauncherSettings.Variable.platform] ?? "gramine" {
        case "simulation":
            var launcherEnvironment = environment
            launcherEnvironment[LauncherSettings.Variable.gramineApplication] = application
            return .simulate(environment: launcherEnvironment, arguments: [arguments[0]])
        case "gramine", "":
            let library: String
            do {
                library = try GramineEnclaveImage.libraryDirectory(application: application)
            } catch {
                throw LauncherError(
                    .platform, application, found: "\(error)", expected: "the signed Gramine application of this image",
                    hint: "use the entrypoint cloister convert wrote into the image")
            }
            let loader = library + "/sgx/loader"
            return .startEnclave(loader: loader, arguments: [loader, library + "/sgx/libpal.so", "init", application])
        case let other:
            throw LauncherError(
                .settings, LauncherSettings.Variable.platform, found: other.quotedForError(), expected: "'gramine' or 'simulation'",
                hint: "unset \(LauncherSettings.Variable.platform) on SGX nodes, or set it to 'simulation' for development")
        }
    }
}
