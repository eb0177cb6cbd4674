import StrictJSON

/// What an upload to `/api/v2/update` is, judged against the current manifest.
public enum UpdateKind: Sendable, Hashable {
    /// Only `Packages` with `SecurityVersion`: raises minimum SVNs; the stored manifest bytes stay unchanged.
    case packageUpdate(securityVersions: [String: UInt64])
    /// A complete replacement, applied once enough users acknowledge the same bytes.
    case fullManifest
}

/// The verdict on an update candidate: the faults (with paths) and, for a full update, what applying it would change.
public struct UpdateValidation: Sendable {
    public let kind: UpdateKind
    public let report: ValidationReport
    /// nil for a package update.
    public let changes: ManifestChanges?
}

/// How a full update changes the deployment (MarbleRun's `updateApply` and `updateSecrets`).
public struct ManifestChanges: Sendable, Hashable {
    public struct NameChanges: Sendable, Hashable {
        public var added: [String] = []
        public var removed: [String] = []
        public var changed: [String] = []

        public var isEmpty: Bool { added.isEmpty && removed.isEmpty && changed.isEmpty }
    }

    public var packages = NameChanges()
    public var marbles = NameChanges()
    public var users = NameChanges()
    public var tls = NameChanges()
    public var infrastructures = NameChanges()
    /// Secrets deleted with the update.
    public var removedSecrets: [String] = []
    /// Generated anew: new or redefined secrets, every certificate (the intermediate changes), and symmetric keys
    /// when `RotateRootSecret` is set.
    public var regeneratedSecrets: [String] = []
    /// Keep their value: unchanged symmetric keys (without rotation) and unchanged user-defined secrets.
    public var keptSecrets: [String] = []
    /// New or redefined user-defined secrets, which users must upload again.
    public var secretsToUpload: [String] = []
    /// A new data key is made and new recovery secrets are returned.
    public var recoveryKeysChanged = false
    public var rotatesRootSecret = false
}

extension Manifest {
    /// Users allowed to update the whole manifest (a role with ResourceType Manifest and UpdateManifest), sorted.
    public var manifestUpdaters: [String] {
        content.users.keys.sorted().filter { name in
            content.users[name]!.roles.contains { roleName in
                guard let role = content.roles[roleName], role.resourceType == "Manifest" else { return false }
                return role.actions.contains { $0.lowercased() == "updatemanifest" }
            }
        }
    }

    /// Acknowledgements a full update needs under this (current) manifest: `UpdateThreshold`, or all updaters if 0.
    public var requiredUpdateAcknowledgements: Int {
        content.config.updateThreshold == 0 ? manifestUpdaters.count : Int(clamping: content.config.updateThreshold)
    }

    /// Users allowed to raise the SecurityVersion of `package`.
    public func packageUpdaters(of package: String) -> [String] {
        content.users.keys.sorted().filter { name in
            content.users[name]!.roles.contains { roleName in
                guard let role = content.roles[roleName], role.resourceType == "Packages" else { return false }
                return role.resourceNames.contains(package) && role.actions.contains { $0.lowercased() == "updatesecurityversion" }
            }
        }
    }

    /// Judges `candidate` as an update of this manifest with MarbleRun's rules: a package update may only raise
    /// `SecurityVersion` of existing packages; a full update must be a valid manifest on its own. Problems that make
    /// the update impossible under this manifest (no user may perform it) are errors too.
    public func validateUpdate(_ candidate: Manifest) -> UpdateValidation {
        if candidate.content.isPackageUpdate {
            return validatePackageUpdate(candidate)
        }
        let standalone = candidate.validate()
        var findings = standalone.errors + standalone.warnings
        if manifestUpdaters.isEmpty {
            findings.append(
                Finding(
                    .error, .root, "the current manifest gives no user the UpdateManifest action, so it cannot be replaced",
                    hint: "this deployment's manifest is immutable; deploy a new Coordinator instead"))
        }
        if candidate.bytes == bytes {
            findings.append(
                Finding(.warning, .root, "the update is identical to the current manifest", hint: "change something, or do not submit it"))
        }
        for (name, package) in candidate.content.packages {
            if let old = content.packages[name]?.securityVersion, let new = package.securityVersion, new < old {
                findings.append(
                    Finding(
                        .warning, .root / "Packages" / name / "SecurityVersion",
                        "SecurityVersion goes down from \(old) to \(new), accepting older enclave versions again",
                        hint: "keep it at \(old) or higher unless the downgrade is intended"))
            }
        }
        return UpdateValidation(kind: .fullManifest, report: ValidationReport(findings: findings), changes: changes(to: candidate))
    }

    private func validatePackageUpdate(_ candidate: Manifest) -> UpdateValidation {
        var findings = candidate.readingFindings
        var versions: [String: UInt64] = [:]
        let packagesPath = JSONPath.root / "Packages"
        if candidate.content.packages.isEmpty {
            findings.append(
                Finding(
                    .error, packagesPath, "the update names no packages",
                    hint: "write {\"Packages\": {\"NAME\": {\"SecurityVersion\": N}}}, or upload a full manifest"))
        }
        if case .object(let members) = candidate.json, members.contains(where: { ManifestDecoder.fold($0.key) == "config" }) {
            findings.append(Finding(.warning, .root / "Config", "a package update ignores Config", hint: "change Config with a full manifest update"))
        }
        for name in candidate.content.packages.keys.sorted() {
            let update = candidate.content.packages[name]!
            let path = packagesPath / name
            guard let current = content.packages[name] else {
                findings.append(
                    Finding(
                        .error, path, "the current manifest has no package \"\(name)\"",
                        hint: "update one of: \(content.packages.keys.sorted().joined(separator: ", "))"))
                continue
            }
            if packageUpdaters(of: name).isEmpty {
                findings.append(
                    Finding(
                        .error, path, "no user of the current manifest may update package \"\(name)\"",
                        hint:
                            "a role with ResourceType Packages, ResourceNames [\"\(name)\"] and action UpdateSecurityVersion is needed; change it with a full update"
                    ))
            }
            let forbidden: [(String, Bool)] = [
                ("Debug", update.debug), ("UniqueID", !update.uniqueID.isEmpty), ("SignerID", !update.signerID.isEmpty),
                ("ProductID", update.productID != nil), ("AcceptedTCBStatuses", !update.acceptedTCBStatuses.isEmpty),
                ("AcceptedAdvisories", !update.acceptedAdvisories.isEmpty),
            ]
            for (field, present) in forbidden where present {
                let severity: Finding.Severity = field.hasPrefix("Accepted") ? .warning : .error
                let message = severity == .error ? "\(field) cannot be changed by a package update" : "\(field) is ignored by a package update"
                findings.append(
                    Finding(
                        severity, path / field, message,
                        hint: "a package update contains only SecurityVersion; change \(field) with a full manifest update"))
            }
            guard let version = update.securityVersion else {
                findings.append(
                    Finding(
                        .error, path / "SecurityVersion", "the package update sets no SecurityVersion",
                        hint: "write {\"SecurityVersion\": N} with N at least \(current.securityVersion ?? 0)"))
                continue
            }
            if let old = current.securityVersion {
                if version < old {
                    findings.append(
                        Finding(
                            .error, path / "SecurityVersion",
                            "SecurityVersion \(version) is lower than the current \(old); a package update may only raise it",
                            hint: "use \(old) or higher, or downgrade with a full manifest update"))
                    continue
                }
                if version == old {
                    findings.append(
                        Finding(
                            .warning, path / "SecurityVersion",
                            "SecurityVersion \(version) equals the current value, so nothing changes except new certificates",
                            hint: "raise it to require newer enclaves"))
                }
            } else if !current.uniqueID.isEmpty {
                findings.append(
                    Finding(
                        .warning, path / "SecurityVersion", "package \"\(name)\" is pinned by UniqueID; a SecurityVersion adds a second condition",
                        hint: "update UniqueID-pinned packages with a full manifest update"))
            }
            versions[name] = version
        }
        return UpdateValidation(kind: .packageUpdate(securityVersions: versions), report: ValidationReport(findings: findings), changes: nil)
    }

    private func changes(to candidate: Manifest) -> ManifestChanges {
        func compare<Value: Equatable>(_ old: [String: Value], _ new: [String: Value]) -> ManifestChanges.NameChanges {
            var result = ManifestChanges.NameChanges()
            result.added = new.keys.filter { old[$0] == nil }.sorted()
            result.removed = old.keys.filter { new[$0] == nil }.sorted()
            result.changed = new.keys.filter { old[$0] != nil && old[$0] != new[$0] }.sorted()
            return result
        }
        let old = content
        let new = candidate.content
        var changes = ManifestChanges()
        changes.packages = compare(old.packages, new.packages)
        changes.marbles = compare(old.marbles, new.marbles)
        changes.users = compare(old.users, new.users)
        changes.tls = compare(old.tls, new.tls)
        changes.infrastructures = compare(old.infrastructures, new.infrastructures)
        changes.rotatesRootSecret = new.config.rotateRootSecret
        changes.removedSecrets = old.secrets.keys.filter { new.secrets[$0] == nil }.sorted()
        for name in new.secrets.keys.sorted() {
            let definition = new.secrets[name]!
            let previous = old.secrets[name]
            let sameDefinition =
                previous.map {
                    $0.typeName == definition.typeName && $0.size == definition.size && $0.shared == definition.shared
                        && $0.userDefined == definition.userDefined && $0.validFor == definition.validFor
                } ?? false
            if definition.userDefined {
                if sameDefinition { changes.keptSecrets.append(name) } else { changes.secretsToUpload.append(name) }
            } else if sameDefinition && definition.type == .symmetricKey && !new.config.rotateRootSecret {
                changes.keptSecrets.append(name)
            } else {
                changes.regeneratedSecrets.append(name)
            }
        }
        changes.recoveryKeysChanged = Self.recoveryKeysChanged(from: old, to: new)
        return changes
    }

    /// MarbleRun's `recoveryKeysHaveChanged`: threshold 0 means "all keys", so 0 and the key count are the same.
    static func recoveryKeysChanged(from old: ManifestContent, to new: ManifestContent) -> Bool {
        if old.recoveryKeys.count != new.recoveryKeys.count { return true }
        let oldThreshold = old.config.recoveryThreshold == 0 ? UInt64(old.recoveryKeys.count) : old.config.recoveryThreshold
        let newThreshold = new.config.recoveryThreshold == 0 ? UInt64(new.recoveryKeys.count) : new.config.recoveryThreshold
        return oldThreshold != newThreshold || old.recoveryKeys != new.recoveryKeys
    }
}
