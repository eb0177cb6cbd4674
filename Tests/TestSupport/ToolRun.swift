import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Why a tool could not be run at all.
public struct ToolRunFailure: Error, CustomStringConvertible {
    public let description: String
}

/// Runs a command-line tool found on PATH to completion, with `input` on its standard input, and returns its exit code
/// (128 + the signal when a signal ended it) and standard output; standard error is dropped.
///
/// Spawned with posix_spawn and reaped with waitpid, as the Coordinator launcher is: the pipes are close-on-exec and
/// the child closes every other descriptor, so a program another test starts meanwhile cannot hold this tool's output
/// open, and no monitoring thread of Foundation's `Process` is involved.
public func runTool(_ executable: String, _ arguments: [String], input: Data? = nil) throws -> (status: Int32, output: String) {
    var toChild: [Int32] = [-1, -1]
    var fromChild: [Int32] = [-1, -1]
    guard pipe(&toChild) == 0 else { throw ToolRunFailure(description: "pipe() failed: \(String(cString: strerror(errno)))") }
    guard pipe(&fromChild) == 0 else {
        toChild.forEach { close($0) }
        throw ToolRunFailure(description: "pipe() failed: \(String(cString: strerror(errno)))")
    }
    // pipe2(O_CLOEXEC) is hidden behind _GNU_SOURCE in Swift's Glibc module.
    for end in toChild + fromChild { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, toChild[0], STDIN_FILENO)
    posix_spawn_file_actions_adddup2(&actions, fromChild[1], STDOUT_FILENO)
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0)
    if let closeFrom = addCloseFrom { _ = closeFrom(&actions, STDERR_FILENO + 1) }
    let argv = (["/usr/bin/env", executable] + arguments).map { strdup($0) } + [nil]
    let envp = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { (argv + envp).forEach { free($0) } }
    var pid = pid_t()
    let spawned = posix_spawn(&pid, "/usr/bin/env", &actions, nil, argv, envp)
    close(toChild[0])
    close(fromChild[1])
    guard spawned == 0 else {
        close(toChild[1])
        close(fromChild[0])
        throw ToolRunFailure(description: "could not start \(executable): \(String(cString: strerror(spawned)))")
    }
    // Written beside the reading, so that a tool that answers before it has read all of its input cannot block both.
    let writer = toChild[1]
    let bytes = [UInt8](input ?? Data())
    Thread.detachNewThread {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(writer, $0.baseAddress, $0.count) }
            if written > 0 { offset += written } else if errno != EINTR { break }
        }
        close(writer)
    }
    var output = Data()
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
        let count = read(fromChild[0], &buffer, buffer.count)
        if count > 0 {
            output.append(contentsOf: buffer[..<count])
        } else if count == 0 || errno != EINTR {
            break
        }
    }
    close(fromChild[0])
    var status: Int32 = 0
    while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
    let code = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + status & 0x7f
    return (code, String(decoding: output, as: UTF8.self))
}

/// ``runTool(_:_:input:)`` on a thread of its own: a test whose Coordinator runs in the test process must not wait on
/// a thread of the cooperative pool, which the Coordinator's routes need to answer.
public func runToolOffPool(_ executable: String, _ arguments: [String], input: Data? = nil) async throws -> (status: Int32, output: String) {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(with: Result { try runTool(executable, arguments, input: input) })
        }
    }
}
