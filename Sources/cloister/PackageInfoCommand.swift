import ArgumentParser
import Foundation
import Gramine
import Hexadecimal

struct PackageInfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "package-info",
        abstract: "Print the enclave identity in a Gramine .sig file, and the matching manifest Package.",
        discussion: """
            The signature is checked with the key the file carries. The Package snippet pins the signer \
            (SignerID + ProductID + SecurityVersion), which survives rebuilds; pin UniqueID (MRENCLAVE) instead to \
            accept exactly this build.
            Example: cloister package-info python.sig --json
            Exit codes: 0 printed; 1 the file is not a valid SIGSTRUCT; 2 the file cannot be read.
            """
    )

    @Argument(help: "The .sig file written by gramine-sgx-sign.") var file: String
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        guard let data = FileManager.default.contents(atPath: file) else {
            try ClientOutput.fail(
                ClientInputError(message: "cannot read \(file)", hint: "Check the path to the .sig file."), json: json, exitCode: 2)
        }
        let sigstruct: SigStruct
        do {
            sigstruct = try SigStruct(bytes: Array(data))
        } catch {
            try ClientOutput.fail(ClientInputError(message: "\(file): \(error.description)", hint: error.hint), json: json, exitCode: 1)
        }
        let mrEnclave = sigstruct.mrEnclave.hexadecimal
        let mrSigner = sigstruct.mrSigner.hexadecimal
        let package: [String: ClientJSON] = [
            "SignerID": .string(mrSigner), "ProductID": .int(Int(sigstruct.productID)),
            "SecurityVersion": .int(Int(sigstruct.securityVersion)), "Debug": .bool(sigstruct.isDebug),
        ]
        if json {
            print(
                ClientOutput.encode([
                    "file": .string(file), "mrenclave": .string(mrEnclave), "mrsigner": .string(mrSigner),
                    "isvprodid": .int(Int(sigstruct.productID)), "isvsvn": .int(Int(sigstruct.securityVersion)),
                    "debug": .bool(sigstruct.isDebug), "date": .string(sigstruct.date), "package": .object(package),
                    "ok": ClientJSON.bool(true),
                ]))
        } else {
            print(
                """
                MRENCLAVE: \(mrEnclave)
                MRSIGNER:  \(mrSigner)
                ISVPRODID: \(sigstruct.productID)
                ISVSVN:    \(sigstruct.securityVersion)
                debug:     \(sigstruct.isDebug)
                signed:    \(sigstruct.date)
                manifest Package:
                \(ClientOutput.encode(package))
                """)
        }
    }
}
