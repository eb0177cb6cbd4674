import EncryptedVolume
import Foundation
import Launcher
import ProtectedFiles

// The marble launcher: everything it does is in the Launcher library; see `Launcher.run` and `LauncherSettings`.
// `cloister-premain --print-measurement` prints the simulated enclave's identity as a manifest package instead, and
// `cloister-premain --converted-image APP` is the entrypoint of an image made by `cloister convert`.
let signals = SignalState.capture()
let arguments = CommandLine.arguments
let environment = ProcessInfo.processInfo.environment

func fail(_ error: LauncherError) -> Never {
    FileHandle.standardError.write(Data("cloister-premain: error: \(error)\n".utf8))
    exit(error.exitCode)
}

switch arguments.dropFirst().first {
case EnclaveMeasurementReport.flag:
    do throws(LauncherError) {
        let report = try EnclaveMeasurementReport.simulated(
            environment: environment, workingDirectory: FileManager.default.currentDirectoryPath)
        print(report.json())
        exit(0)
    } catch {
        fail(error)
    }
case ConvertedImageEntry.flag:
    do throws(LauncherError) {
        switch try ConvertedImageEntry.plan(arguments: arguments, environment: environment) {
        case .simulate(let launcherEnvironment, let launcherArguments):
            await Launcher.run(environment: launcherEnvironment, arguments: launcherArguments, signals: signals)
        case .startEnclave(let loader, let loaderArguments):
            try ProcessReplacement.execute(
                path: loader, arguments: loaderArguments, environment: environment.mapValues { Array($0.utf8) }, signals: signals)
        }
    } catch {
        fail(error)
    }
case SimulatedEncryptedMount.serverFlag:
    serveEncryptedMount(arguments: arguments)
default:
    await Launcher.run(signals: signals)
}

/// The FUSE server of one simulated encrypted mount: the key arrives on standard input, "mounted" leaves on standard
/// output once the mount is in place; it serves until the launcher's process (then the program) is gone.
func serveEncryptedMount(arguments: [String]) -> Never {
    func stop(_ message: String) -> Never {
        FileHandle.standardError.write(Data("cloister-premain: encrypted mount: \(message)\n".utf8))
        exit(1)
    }
    guard arguments.count == 3 else { stop("usage: cloister-premain \(SimulatedEncryptedMount.serverFlag) PATH (key on standard input)") }
    // The launcher's connections and files are not this server's to keep open.
    for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? [] {
        if let descriptor = Int32(entry), descriptor > STDERR_FILENO { close(descriptor) }
    }
    let path = arguments[2]
    let line = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    let key: ProtectedFileKey
    do {
        key = try ProtectedFileKey(keyFileContents: Array(line.utf8))
    } catch {
        stop("the key on standard input: \(error.message)")
    }
    do {
        let directory = try EncryptedDirectory(directory: path, mountURI: "file:" + path, key: key)
        try EncryptedMountServer.serve(directory, at: path, parent: getppid()) {
            FileHandle.standardOutput.write(Data("mounted\n".utf8))
            let null = open("/dev/null", O_WRONLY)
            dup2(null, STDOUT_FILENO)
            close(null)
        }
        exit(0)
    } catch {
        stop(error.description)
    }
}
