import Foundation
import OCI
import Tar

/// How the image's program is started, as OCI defines it from the image configuration: argv is `Entrypoint` followed
/// by `Cmd` (whatever their lengths), the program is found through the image's `PATH` when its name has no '/', the
/// user and group come from the image's `/etc/passwd` and `/etc/group`.
public struct ProgramInvocation: Sendable, Hashable {
    /// argv as the program receives it, its first element the resolved absolute path.
    public let arguments: [String]
    /// The image's `Env`, in order, a later entry of the same name replacing the earlier.
    public let environment: [EnvironmentVariable]
    public let workingDirectory: String
    public let userID: UInt32
    public let groupID: UInt32

    public struct EnvironmentVariable: Sendable, Hashable {
        public let name: String
        public let value: String
    }

    /// The default `PATH` of container runtimes when the image sets none.
    static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    init(configuration: ContainerConfiguration, root: RootFilesystem) throws(ConversionError) {
        let argv = (configuration.entrypoint ?? []) + (configuration.cmd ?? [])
        guard let program = argv.first, !program.isEmpty else {
            throw ConversionError(
                .refusedImage, "image configuration", found: "no Entrypoint and no Cmd", expected: "the program the image runs",
                hint: "set an ENTRYPOINT or CMD in the image")
        }
        var environment: [EnvironmentVariable] = []
        for entry in configuration.env ?? [] {
            let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw ConversionError(
                    .refusedImage, "image configuration Env", found: "the entry \"\(entry.prefix(80))\"", expected: "NAME=value",
                    hint: "fix the image's ENV instructions")
            }
            environment.removeAll { $0.name == String(parts[0]) }
            environment.append(EnvironmentVariable(name: String(parts[0]), value: String(parts[1])))
        }
        let workingDirectory = configuration.workingDir.flatMap { $0.isEmpty ? nil : $0 } ?? "/"
        let searchPath = environment.last { $0.name == "PATH" }?.value ?? Self.defaultPath
        arguments = [try Self.locate(program, searchPath: searchPath, workingDirectory: workingDirectory, root: root)] + argv.dropFirst()
        self.environment = environment
        self.workingDirectory = workingDirectory
        (userID, groupID) = try Self.user(configuration.user ?? "", root: root)
    }

    /// The absolute path of `program` inside the image: as given when it has a '/', else the first executable
    /// regular file of that name along `searchPath`.
    static func locate(_ program: String, searchPath: String, workingDirectory: String, root: RootFilesystem) throws(ConversionError) -> String {
        if program.contains("/") {
            let path = program.hasPrefix("/") ? program : (workingDirectory as NSString).appendingPathComponent(program)
            guard let target = try? root.resolve(path), target.metadata.kind == .regularFile else {
                throw ConversionError(
                    .refusedImage, "image program \(program)", found: "no regular file at \(path) in the image",
                    expected: "the program the image's Entrypoint or Cmd names", hint: "check the image's ENTRYPOINT and CMD")
            }
            return path
        }
        let directories = searchPath.split(separator: ":").map(String.init).filter { $0.hasPrefix("/") }
        for directory in directories {
            let candidate = (directory as NSString).appendingPathComponent(program)
            if let target = try? root.resolve(candidate), target.metadata.kind == .regularFile, target.metadata.mode & 0o111 != 0 {
                return candidate
            }
        }
        throw ConversionError(
            .refusedImage, "image program \(program)", found: "no executable \(program) in PATH \(searchPath)",
            expected: "the program the image's Entrypoint or Cmd names", hint: "check the image's ENTRYPOINT, CMD and PATH")
    }

    /// `User` as OCI defines it: `user`, `uid`, `user:group` or `uid:gid`; names are looked up in the image.
    static func user(_ text: String, root: RootFilesystem) throws(ConversionError) -> (UInt32, UInt32) {
        guard !text.isEmpty else { return (0, 0) }
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let passwd = Self.database(root.capturedContent(at: "/etc/passwd"))
        let userID: UInt32
        var groupID: UInt32
        if let number = UInt32(parts[0]) {
            userID = number
            groupID = passwd.first { UInt32($0[safe: 2] ?? "") == number }.flatMap { UInt32($0[safe: 3] ?? "") } ?? 0
        } else {
            guard let entry = passwd.first(where: { $0.first == parts[0] }), let uid = UInt32(entry[safe: 2] ?? ""),
                let gid = UInt32(entry[safe: 3] ?? "")
            else {
                throw ConversionError(
                    .refusedImage, "image User \(text)", found: "no user \(parts[0]) in the image's /etc/passwd",
                    expected: "a user the image defines, or a numeric uid", hint: "fix the image's USER instruction")
            }
            userID = uid
            groupID = gid
        }
        if parts.count == 2 {
            if let number = UInt32(parts[1]) {
                groupID = number
            } else {
                let group = Self.database(root.capturedContent(at: "/etc/group"))
                guard let entry = group.first(where: { $0.first == parts[1] }), let gid = UInt32(entry[safe: 2] ?? "") else {
                    throw ConversionError(
                        .refusedImage, "image User \(text)", found: "no group \(parts[1]) in the image's /etc/group",
                        expected: "a group the image defines, or a numeric gid", hint: "fix the image's USER instruction")
                }
                groupID = gid
            }
        }
        return (userID, groupID)
    }

    /// The lines of a colon-separated database file, split into fields.
    private static func database(_ content: [UInt8]?) -> [[String]] {
        String(decoding: content ?? [], as: UTF8.self).split(separator: "\n")
            .filter { !$0.hasPrefix("#") }
            .map { $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) }
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
