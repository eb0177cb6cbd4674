import Foundation
import Logging
import Synchronization

/// Structured log lines on standard error: `text` (time, level, label, message, key=value metadata) or `json` (one
/// object per line, for log collectors). Handed to each `Logger` explicitly, so no global logging state is touched.
struct CoordinatorLogHandler: LogHandler {
    let label: String
    let format: CoordinatorSettings.LogFormat
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    private static let output = Mutex(FileHandle.standardError)

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        let time = Date().formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true))
        let line: String
        switch format {
        case .text:
            let fields = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            line = "\(time) \(event.level.rawValue.uppercased()) \(label): \(event.message)\(fields.isEmpty ? "" : " " + fields)\n"
        case .json:
            var object: [String: String] = ["time": time, "level": event.level.rawValue, "logger": label, "message": "\(event.message)"]
            for (key, value) in merged where object[key] == nil { object[key] = "\(value)" }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            line = String(decoding: (try? encoder.encode(object)) ?? Data(), as: UTF8.self) + "\n"
        }
        Self.output.withLock { $0.write(Data(line.utf8)) }
    }

    static func logger(label: String, level: Logger.Level, format: CoordinatorSettings.LogFormat) -> Logger {
        Logger(label: label) { label in CoordinatorLogHandler(label: label, format: format, logLevel: level) }
    }
}
