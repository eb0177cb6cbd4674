import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Replaces the launcher with the program: same PID, so the program's exit code, signals and supervisor stay as if
/// it had been started directly (swift-stack.md, "Replacing the process").
public enum ProcessReplacement {
    /// Marks every open descriptor above standard error close-on-exec, so that nothing the launcher opened (NIO's
    /// epoll and eventfd descriptors, sockets, files) leaks into the program. Returns the descriptors seen.
    @discardableResult
    public static func markDescriptorsCloseOnExec() throws(LauncherError) -> [Int32] {
        let descriptors = try openDescriptors().filter { $0 > 2 }
        var marked: [Int32] = []
        for descriptor in descriptors {
            let flags = fcntl(descriptor, F_GETFD)
            if flags < 0 {
                // The descriptor of the directory listing itself is already closed by now.
                if errno == EBADF { continue }
                throw failure(descriptor)
            }
            guard fcntl(descriptor, F_SETFD, flags | FD_CLOEXEC) == 0 else { throw failure(descriptor) }
            marked.append(descriptor)
        }
        return marked
    }

    private static func failure(_ descriptor: Int32) -> LauncherError {
        LauncherError(
            .execution, "descriptor \(descriptor)", found: "fcntl failed (\(String(cString: strerror(errno))))",
            expected: "a descriptor that can be marked close-on-exec",
            hint: "the program must not inherit the launcher's descriptors; report this")
    }

    /// The open descriptors, from `/proc/self/fd`; where there is no `/proc`, every number below the descriptor limit
    /// is probed.
    static func openDescriptors() throws(LauncherError) -> [Int32] {
        if let directory = opendir("/proc/self/fd") {
            defer { closedir(directory) }
            var descriptors: [Int32] = []
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
                }
                if let descriptor = Int32(name) { descriptors.append(descriptor) }
            }
            return descriptors
        }
        var limit = rlimit()
        let maximum = getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 ? min(Int(limit.rlim_cur), 1 << 20) : 1024
        return (0..<Int32(maximum)).filter { fcntl($0, F_GETFD) >= 0 }
    }

    /// `execve(path, arguments, environment)` with the signal mask and dispositions of `signals`. Returns only by
    /// throwing.
    public static func execute(
        path: String, arguments: [String], environment: [String: [UInt8]], signals: SignalState
    ) throws(LauncherError) -> Never {
        let reason = replace(arguments: arguments, environment: environment, signals: signals) { execve(path, $0, $1) }
        throw LauncherError(
            .execution, path, found: "execve failed (\(reason))", expected: "an executable file",
            hint: "check the program path (argv[0] under Gramine, the command after cloister-premain in simulation) "
                + "and that it is executable")
    }

    /// `fexecve(descriptor, arguments, environment)`: runs exactly the file the descriptor holds (the kernel then
    /// denies writes to it), whatever is at its path now. Returns only by throwing.
    static func execute(
        descriptor: Int32, shownAs path: String, arguments: [String], environment: [String: [UInt8]], signals: SignalState
    ) throws(LauncherError) -> Never {
        let reason = replace(arguments: arguments, environment: environment, signals: signals) { fexecve(descriptor, $0, $1) }
        throw LauncherError(
            .execution, path, found: "fexecve of the measured file failed (\(reason))", expected: "an executable file",
            hint: "check that the program is executable")
    }

    /// Restores `signals` and calls `exec` with C copies of the vectors; returns the reason it failed.
    private static func replace(
        arguments: [String], environment: [String: [UInt8]], signals: SignalState,
        _ exec: ([UnsafeMutablePointer<CChar>?], [UnsafeMutablePointer<CChar>?]) -> Int32
    ) -> String {
        let argv = cStrings(arguments.map { Array($0.utf8) })
        let envp = cStrings(environment.sorted { $0.key < $1.key }.map { Array($0.key.utf8) + [UInt8(ascii: "=")] + $0.value })
        signals.restore()
        _ = exec(argv, envp)
        let reason = String(cString: strerror(errno))
        (argv + envp).forEach { $0?.deallocate() }
        return reason
    }

    /// NUL-terminated copies, followed by the terminating null pointer.
    private static func cStrings(_ strings: [[UInt8]]) -> [UnsafeMutablePointer<CChar>?] {
        strings.map { bytes in
            let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
            for (index, byte) in bytes.enumerated() { pointer[index] = CChar(bitPattern: byte) }
            pointer[bytes.count] = 0
            return pointer
        } + [nil]
    }
}
