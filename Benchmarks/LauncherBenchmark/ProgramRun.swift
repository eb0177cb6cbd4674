import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One start of a program, timed from just before `posix_spawn` on CLOCK_MONOTONIC.
struct ProgramRun {
    /// CLOCK_MONOTONIC, in nanoseconds, read immediately before `posix_spawn`.
    let spawnedAt: UInt64
    /// CLOCK_MONOTONIC after the program exited and both pipes reached end of file.
    let exitedAt: UInt64
    let standardOutput: [UInt8]
    let standardError: [UInt8]
    /// The exit status, or 128 + signal.
    let exitStatus: Int32

    static func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    /// Starts `path` with exactly `arguments` (argv[0] included) and `environment`, and waits for it. Argument and
    /// environment strings are copied to C before the clock is read, so the timed part is the kernel's and the
    /// program's.
    static func run(path: String, arguments: [String], environment: [String: String]) throws -> ProgramRun {
        let argv = CStringArray(arguments)
        let envp = CStringArray(environment.map { "\($0.key)=\($0.value)" })
        defer {
            argv.free()
            envp.free()
        }
        var output: [Int32] = [0, 0]
        var errors: [Int32] = [0, 0]
        guard pipe(&output) == 0, pipe(&errors) == 0 else {
            throw BenchmarkFailure("pipe failed: \(String(cString: strerror(errno))); check the open-file limit (ulimit -n)")
        }
        // Only the duplicates on 1 and 2 reach the program; nothing else spawns meanwhile in this process.
        for descriptor in output + errors { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, output[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errors[1], 2)

        var pid: pid_t = 0
        let spawnedAt = monotonicNanoseconds()
        let spawnResult = posix_spawn(&pid, path, &actions, nil, argv.pointers, envp.pointers)
        close(output[1])
        close(errors[1])
        defer {
            close(output[0])
            close(errors[0])
        }
        guard spawnResult == 0 else {
            throw BenchmarkFailure("cannot start \(path): \(String(cString: strerror(spawnResult))); check that it exists and is executable")
        }
        // The outputs are a few lines: reading one pipe to its end before the other cannot fill the second.
        let standardOutput = readAll(output[0])
        let standardError = readAll(errors[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exitedAt = monotonicNanoseconds()
        let signal = status & 0x7f
        let exitStatus = signal == 0 ? (status >> 8) & 0xff : 128 + signal
        return ProgramRun(
            spawnedAt: spawnedAt, exitedAt: exitedAt, standardOutput: standardOutput, standardError: standardError,
            exitStatus: exitStatus)
    }

    private static func readAll(_ descriptor: Int32) -> [UInt8] {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count > 0 {
                bytes += buffer[0..<count]
            } else if count < 0 && errno == EINTR {
                continue
            } else {
                return bytes
            }
        }
    }
}

/// A NULL-terminated array of C strings for `posix_spawn`, freed explicitly.
struct CStringArray {
    let pointers: [UnsafeMutablePointer<CChar>?]

    init(_ strings: [String]) {
        pointers = strings.map { strdup($0) } + [nil]
    }

    func free() {
        for pointer in pointers { Glibc.free(pointer) }
    }
}

struct BenchmarkFailure: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
