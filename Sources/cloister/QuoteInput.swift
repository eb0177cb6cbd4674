import ArgumentParser
import Attestation
import Foundation

/// Input that cannot be used at all (exit code 2): what was wrong and what to do.
struct UnusableInput: Error {
    let message: String
    let hint: String
}

enum QuoteInput {
    /// The quote bytes of `path`: raw binary as the quoting enclave writes it, or hexadecimal text (optionally with a
    /// `0x` prefix and whitespace), as quotes are often shared.
    static func read(_ path: String) throws(UnusableInput) -> [UInt8] {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            let exists = FileManager.default.fileExists(atPath: path)
            throw UnusableInput(
                message: exists ? "cannot read quote file \(path) (\(error.localizedDescription))" : "quote file \(path) does not exist",
                hint: "Give the path of a quote: raw binary or hexadecimal text.")
        }
        guard !data.isEmpty else {
            throw UnusableInput(message: "quote file \(path) is empty", hint: "Give the path of a quote: raw binary or hexadecimal text.")
        }
        let bytes = Array(data)
        let textual = bytes.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0a || $0 == 0x0d || (0x21...0x7e).contains($0) }
        guard textual else { return bytes }
        var text = String(decoding: bytes, as: UTF8.self).filter { !$0.isWhitespace }
        if text.hasPrefix("0x") || text.hasPrefix("0X") { text.removeFirst(2) }
        guard let decoded = [UInt8](hexadecimal: text), !decoded.isEmpty else {
            throw UnusableInput(
                message: "quote file \(path) is text but not hexadecimal (it starts with '\(text.prefix(24))')",
                hint: "Give the quote as raw binary or as hexadecimal digits; base64 quotes must be decoded first (base64 -d).")
        }
        return decoded
    }

    /// Parses quote bytes; a malformed quote is unusable input, with the structure and offset where it broke.
    static func parse(_ bytes: [UInt8], path: String) throws(UnusableInput) -> Quote {
        do {
            return try Quote(bytes: bytes)
        } catch {
            throw UnusableInput(message: "\(path) is not a valid DCAP quote: \(error.description)", hint: error.hint)
        }
    }

    /// `--at`: ISO-8601 (`2025-07-04T10:16:30Z`, fractional seconds and offsets allowed) or Unix seconds.
    static func instant(_ text: String) throws(UnusableInput) -> Date {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let seconds = Int64(trimmed) { return Date(timeIntervalSince1970: TimeInterval(seconds)) }
        if let seconds = Double(trimmed), seconds.isFinite { return Date(timeIntervalSince1970: seconds) }
        if let date = try? Date(trimmed, strategy: .iso8601) { return date }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: trimmed) { return date }
        throw UnusableInput(
            message: "--at '\(text)' is neither an ISO-8601 time nor Unix seconds",
            hint: "Write it like 2025-07-04T10:16:30Z or 1751624190.")
    }

    static func iso8601(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    static func iso8601(unixSeconds: Int64) -> String {
        iso8601(Date(timeIntervalSince1970: TimeInterval(unixSeconds)))
    }

    /// Writes the problem to standard error (or as JSON to standard output) and exits with code 2.
    static func fail(_ problem: UnusableInput, json: Bool, file: String) throws -> Never {
        if json {
            let tree = QuoteReportTree.object([
                ("file", .string(file)), ("verdict", .string("unusable")), ("exitCode", .integer(2)),
                ("problem", .object([("message", .string(problem.message)), ("hint", .string(problem.hint))])),
            ])
            print(tree.json())
        } else {
            FileHandle.standardError.write(Data("error: \(problem.message)\n  hint: \(problem.hint)\n".utf8))
        }
        throw ExitCode(2)
    }
}
