import Foundation
import Manifest
import SealedStore

extension Coordinator {
    /// New data key and recovery secrets for an update that changed the recovery keys.
    func rotateDataKeyForRecovery(_ manifest: Manifest) throws(CoordinatorError) -> (secrets: [String: [UInt8]], recoveryData: Data) {
        guard manifest.content.recoveryKeys.isEmpty else {
            throw CoordinatorError(
                .internal, .featureDisabled, found: "\(manifest.content.recoveryKeys.count) recovery key(s)",
                expected: "a manifest without RecoveryKeys", hint: "recovery keys are not available in this build")
        }
        return ([:], Data())
    }
}
