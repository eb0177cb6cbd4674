import Foundation

/// CPU time (user + system) consumed by a process, so that the Coordinator's share of a run can be told apart from the
/// load generator's on a machine where both share the same cores.
enum ProcessorTime {
    /// The CPU seconds of process `pid`, from fields 14 and 15 of `/proc/PID/stat` (clock ticks).
    static func ofProcess(_ pid: Int32) throws -> Double {
        let path = "/proc/\(pid)/stat"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw BenchmarkFailure("cannot read \(path): the Coordinator process \(pid) is gone; check its log")
        }
        // The command name (field 2) is in parentheses and may contain spaces: count fields after its closing one.
        guard let close = text.lastIndex(of: ")") else {
            throw BenchmarkFailure("\(path) has no ')' after the command name: found \(text.prefix(80))")
        }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state), so utime (field 14) is fields[11] and stime (field 15) fields[12].
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else {
            throw BenchmarkFailure("\(path) does not have numeric utime and stime fields: found \(text.prefix(200))")
        }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// The CPU seconds of this process, all threads.
    static func ofSelf() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    private static func seconds(_ time: timeval) -> Double {
        Double(time.tv_sec) + Double(time.tv_usec) / 1e6
    }
}

struct BenchmarkFailure: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
