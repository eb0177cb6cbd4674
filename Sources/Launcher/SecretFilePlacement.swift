/// Where a `Files` target keeps its content away from the host under Gramine.
///
/// Gramine maps most paths to the host's file system (`chroot` mounts), so a secret written there lands on the host's
/// disk in clear. Only `/dev/attestation/keys`, `tmpfs` mounts and `encrypted` mounts keep it inside the enclave. The
/// launcher cannot read the enclave's mount table, so the mounts come from its measured settings.
public struct SecretFilePlacement: Sendable, Hashable {
    /// What to do with a target outside every protected path.
    public enum Policy: String, Sendable, Hashable {
        case warn
        case refuse
    }

    /// Absolute paths of tmpfs and encrypted mounts.
    public var protectedPaths: [String]
    public var policy: Policy

    public init(protectedPaths: [String] = [], policy: Policy = .warn) {
        self.protectedPaths = protectedPaths
        self.policy = policy
    }

    init(reader: EnvironmentReader) throws(LauncherError) {
        let pathsVariable = LauncherSettings.Variable.protectedPaths
        let paths = (try reader.value([pathsVariable]) ?? "").split(separator: ":").map(String.init)
        if let relative = paths.first(where: { !$0.hasPrefix("/") }) {
            throw LauncherError(
                .settings, pathsVariable, found: "the relative path \(relative.quotedForError())",
                expected: "absolute mount paths separated by ':'", hint: "list the tmpfs and encrypted mounts of the Gramine manifest")
        }
        let policyVariable = LauncherSettings.Variable.unprotectedFiles
        let text = try reader.value([policyVariable]) ?? Policy.warn.rawValue
        guard let policy = Policy(rawValue: text) else {
            throw LauncherError(
                .settings, policyVariable, found: text.quotedForError(), expected: "'warn' or 'refuse'",
                hint: "set \(policyVariable)=refuse to refuse secrets on host-backed paths, or leave it unset to be warned")
        }
        self.init(protectedPaths: paths, policy: policy)
    }

    /// The targets among `paths` (absolute) that would land on a host-backed path.
    public func unprotected(_ paths: [String]) -> [String] {
        paths.filter { path in
            !path.hasPrefix(ParameterApplication.keyDirectory) && path != ParameterApplication.legacyKeyFile
                && !protectedPaths.contains { mount in
                    let prefix = mount.hasSuffix("/") ? mount : mount + "/"
                    return path == mount || path.hasPrefix(prefix)
                }
        }
    }

    /// Applies the policy to `paths`: a warning through `announce`, or a refusal.
    func review(_ paths: [String], announce: (String) -> Void) throws(LauncherError) {
        let exposed = unprotected(paths)
        guard !exposed.isEmpty else { return }
        let advice =
            "keep secrets in /dev/attestation/keys/NAME, a tmpfs mount or an encrypted mount (list them in "
            + "\(LauncherSettings.Variable.protectedPaths))"
        switch policy {
        case .warn:
            announce(
                "WARNING: the manifest's Files write \(exposed.joined(separator: ", ")) to paths Gramine maps to the host's "
                    + "disk, where the host reads them in clear; \(advice)")
        case .refuse:
            throw LauncherError(
                .parameters, exposed.joined(separator: ", "), found: "Files targets on host-backed paths",
                expected:
                    "targets under /dev/attestation/keys or \(protectedPaths.isEmpty ? "a protected mount" : protectedPaths.joined(separator: ", "))",
                hint: advice + ", or unset \(LauncherSettings.Variable.unprotectedFiles)")
        }
    }
}
