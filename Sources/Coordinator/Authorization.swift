import CoordinatorPKI
import Foundation
import Manifest
import SwiftASN1
import X509

/// What a user may do, as MarbleRun's roles grant it (`coordinator/user/user.go`).
public enum UserAction: String, Sendable, Hashable, CaseIterable {
    case updateSecurityVersion = "UpdateSecurityVersion"
    case readSecret = "ReadSecret"
    case writeSecret = "WriteSecret"
    case updateManifest = "UpdateManifest"

    /// The role `ResourceType` the action belongs to.
    public var resourceType: String {
        switch self {
        case .updateSecurityVersion: "Packages"
        case .readSecret, .writeSecret: "Secrets"
        case .updateManifest: "Manifest"
        }
    }
}

/// The manifest's users with their certificates and the union of their roles' permissions.
struct UserDirectory: Sendable {
    struct Entry: Sendable {
        let name: String
        let certificateDER: [UInt8]
        let certificate: Certificate
        /// (action, resource name); `UpdateManifest` has no resource name.
        let permissions: Set<Permission>
    }

    struct Permission: Hashable, Sendable {
        let action: UserAction
        let resource: String
    }

    let entries: [Entry]

    init(content: ManifestContent) {
        var entries: [Entry] = []
        for (name, user) in content.users {
            guard let der = Self.firstCertificateDER(user.certificate), let certificate = try? Certificate(derEncoded: der) else {
                continue
            }
            var permissions = Set<Permission>()
            for roleName in user.roles {
                guard let role = content.roles[roleName] else { continue }
                for actionName in role.actions {
                    guard let action = UserAction.allCases.first(where: { $0.rawValue.lowercased() == actionName.lowercased() }),
                        action.resourceType == role.resourceType
                    else { continue }
                    if action == .updateManifest {
                        permissions.insert(Permission(action: action, resource: ""))
                    } else {
                        for resource in role.resourceNames { permissions.insert(Permission(action: action, resource: resource)) }
                    }
                }
            }
            entries.append(Entry(name: name, certificateDER: der, certificate: certificate, permissions: permissions))
        }
        self.entries = entries.sorted { $0.name < $1.name }
    }

    /// Users who hold `action` (on `resource`, when the action has resources).
    func users(permitted action: UserAction, resource: String = "") -> [String] {
        entries.filter { $0.permissions.contains(Permission(action: action, resource: resource)) }.map(\.name)
    }

    /// The user who presented `certificateDER`, checked as MarbleRun does (exact DER equality) and, beyond MarbleRun,
    /// for being valid at `now`. A certificate of one of this Coordinator's marbles is named as such.
    func authenticate(_ certificateDER: [UInt8]?, now: Date, pki: CoordinatorPKI?) throws(CoordinatorError) -> Entry {
        guard let certificateDER, !certificateDER.isEmpty else {
            throw CoordinatorError(
                .unauthenticated, .noClientCertificate, found: "a request without a TLS client certificate",
                expected: "the certificate of a user in the manifest's Users",
                hint: "present the user's certificate and key (for example `--cert user.pem --key user-key.pem`)")
        }
        guard let entry = entries.first(where: { $0.certificateDER == certificateDER }) else {
            let certificate = try? Certificate(derEncoded: certificateDER)
            let subject = certificate.map { "'\($0.subject)'" } ?? "\(certificateDER.count) bytes that are not a certificate"
            if let certificate, let pki, let identity = try? pki.marbleIdentity(of: certificate, now: now) {
                throw CoordinatorError(
                    .unauthenticated, .marbleCertificateAsUser,
                    found: "the certificate of marble \(identity.uuid.uuidString.lowercased()) of type \(identity.marbleType)",
                    expected: "the certificate of a user in the manifest's Users",
                    hint: "marble certificates authenticate marbles only; use a user's certificate for client operations")
            }
            throw CoordinatorError(
                .unauthenticated, .unknownClientCertificate, found: "certificate \(subject)",
                expected: "one of the certificates of users \(entries.map(\.name).joined(separator: ", "))",
                hint: "present the certificate exactly as it appears in the manifest's Users section")
        }
        let certificate = entry.certificate
        guard certificate.notValidBefore <= now, now <= certificate.notValidAfter else {
            throw CoordinatorError(
                .unauthenticated, .expiredClientCertificate,
                found:
                    "user \(entry.name)'s certificate valid \(certificate.notValidBefore.ISO8601Format()) to \(certificate.notValidAfter.ISO8601Format())",
                expected: "a certificate valid at \(now.ISO8601Format())",
                hint: "issue the user a new certificate and put it into the manifest with a manifest update")
        }
        return entry
    }

    /// Throws unless `user` holds `action` on every resource in `resources` (or on the manifest for UpdateManifest).
    func require(_ action: UserAction, on resources: [String], for user: Entry) throws(CoordinatorError) {
        let needed = action == .updateManifest ? [""] : resources
        let missing = needed.filter { !user.permissions.contains(Permission(action: action, resource: $0)) }
        guard missing.isEmpty else {
            let what = action == .updateManifest ? "the manifest" : "\(action.resourceType) \(missing.joined(separator: ", "))"
            throw CoordinatorError(
                .permissionDenied, .missingPermission, found: "user \(entry(user))",
                expected: "a role with ResourceType \(action.resourceType) and action \(action.rawValue) on \(what)",
                hint: "assign the user such a role in the manifest (through a manifest update)")
        }
    }

    private func entry(_ user: Entry) -> String {
        let actions = Set(user.permissions.map(\.action.rawValue)).sorted()
        return "\(user.name) (permissions: \(actions.isEmpty ? "none" : actions.joined(separator: ", ")))"
    }

    /// The DER of the first PEM block of `text`, as MarbleRun's `GenerateUsers` reads it.
    static func firstCertificateDER(_ text: String) -> [UInt8]? {
        guard let begin = text.range(of: "-----BEGIN ") else { return nil }
        return (try? PEMDocument.parseMultiple(pemString: String(text[begin.lowerBound...])))?.first?.derBytes
    }
}
