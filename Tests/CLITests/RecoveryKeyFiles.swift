import Foundation
import TestSupport

/// A recovery key holder's RSA-3072 key pair made with openssl: the private key stays with the holder, the public key
/// goes into the manifest's RecoveryKeys under `name`.
struct ClientTestRecoveryKey {
    let name: String
    let privateKey: URL
    let publicKey: URL

    init(name: String, in directory: URL) throws {
        self.name = name
        privateKey = directory.appendingPathComponent("recovery-\(name).pem")
        publicKey = directory.appendingPathComponent("recovery-\(name).pub")
        for arguments in [["genrsa", "-out", privateKey.path, "3072"], ["rsa", "-in", privateKey.path, "-pubout", "-out", publicKey.path]] {
            let outcome = try ProgramRunner.run("openssl", arguments)
            guard outcome.exitCode == 0 else { throw ProgramLaunchFailure("openssl \(arguments[0]) failed: \(outcome.standardError)") }
        }
    }

    var publicKeyPEM: String { (try? String(contentsOf: publicKey, encoding: .utf8)) ?? "" }
}
