import Foundation
import Launcher

// The marble launcher: everything it does is in the Launcher library; see `Launcher.run` and `LauncherSettings`.
// `cloister-premain --print-measurement` prints the simulated enclave's identity as a manifest package instead.
if CommandLine.arguments.dropFirst().first == EnclaveMeasurementReport.flag {
    do throws(LauncherError) {
        let report = try EnclaveMeasurementReport.simulated(
            environment: ProcessInfo.processInfo.environment, workingDirectory: FileManager.default.currentDirectoryPath)
        print(report.json())
        exit(0)
    } catch {
        FileHandle.standardError.write(Data("cloister-premain: error: \(error)\n".utf8))
        exit(error.exitCode)
    }
}
await Launcher.run()
