import Attestation
import Foundation
import Platform

/// The identity a simulated enclave will report, in the shape of a manifest package, so that a deployment can pin
/// it: `cloister-premain --print-measurement` with `CLOISTER_ENCLAVE_DESCRIPTION` and `CLOISTER_ENCLAVE_SIGNER` set.
/// Under Gramine the measurement comes from `gramine-sgx-sign` instead.
public struct EnclaveMeasurementReport: Codable, Sendable, Hashable {
    public static let flag = "--print-measurement"

    public var uniqueID: String
    public var signerID: String
    public var productID: UInt16
    public var securityVersion: UInt16
    public var debug: Bool

    enum CodingKeys: String, CodingKey {
        case uniqueID = "UniqueID"
        case signerID = "SignerID"
        case productID = "ProductID"
        case securityVersion = "SecurityVersion"
        case debug = "Debug"
    }

    public init(_ measurement: EnclaveMeasurement) {
        uniqueID = measurement.mrEnclave.hexadecimal
        signerID = measurement.mrSigner.hexadecimal
        productID = measurement.productID
        securityVersion = measurement.securityVersion
        debug = measurement.debug
    }

    /// Reads the description and signer named in `environment` and computes their measurement. The trusted files are
    /// checked too, so that what is printed is what the launcher will start with.
    public static func simulated(
        environment: [String: String], workingDirectory: String
    ) throws(LauncherError)
        -> EnclaveMeasurementReport
    {
        let reader = EnvironmentReader(environment: environment, workingDirectory: workingDirectory)
        let hint = "set \(LauncherSettings.Variable.enclaveDescription) and \(LauncherSettings.Variable.enclaveSigner)"
        let descriptionPath = reader.absolutePath(
            try reader.required(LauncherSettings.Variable.enclaveDescription, expected: "the enclave description to measure", hint: hint))
        let signerPath = reader.absolutePath(
            try reader.required(LauncherSettings.Variable.enclaveSigner, expected: "the enclave signing key", hint: hint))
        let simulation = SimulationSettings(
            stateDirectory: "", enclave: .description(path: descriptionPath, signer: signerPath), attestationDirectory: nil)
        let description = try SimulationSettings.readDescription(descriptionPath)
        let signer = try simulation.readSigner(signerPath)
        do {
            try description.verifyTrustedFiles()
            return EnclaveMeasurementReport(try description.measurement(signer: signer))
        } catch {
            throw SimulationSettings.trustedFileError(error, descriptionPath: descriptionPath)
        }
    }

    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }
}
