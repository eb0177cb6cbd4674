import Foundation
import Launcher

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
default:
    await Launcher.run(signals: signals)
}
