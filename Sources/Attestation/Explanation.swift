import Foundation

/// Every check performed while verifying (and appraising) a quote, in order, with its outcome: the "attestation doctor"
/// report printed by `cloister quote verify --explain`, or encoded as JSON.
public struct Explanation: Sendable, Hashable, Codable {
    public enum Outcome: String, Sendable, Hashable, Codable {
        case passed
        case failed
        /// The check does not apply (for example TDX rules on an SGX quote, or a policy rule left unset).
        case skipped
    }

    public struct Step: Sendable, Hashable, Codable {
        public let check: Check
        public let outcome: Outcome
        /// What was compared, or for a failure the error's found/expected/hint text.
        public let detail: String
        /// True when the result came from the verifier's cache of already-verified collateral.
        public let cached: Bool

        public init(check: Check, outcome: Outcome, detail: String, cached: Bool = false) {
            self.check = check
            self.outcome = outcome
            self.detail = detail
            self.cached = cached
        }
    }

    public internal(set) var steps: [Step] = []
    /// The failure that ended verification or appraisal, if any.
    public internal(set) var error: AttestationError?
    /// The TCB status, when verification got that far.
    public internal(set) var status: TCBStatus?
    public internal(set) var advisoryIDs: [String] = []
    /// True when the trust anchor was a simulation root.
    public internal(set) var isSimulation = false

    public init() {}

    public var accepted: Bool { error == nil && status != nil }

    /// A readable multi-line report: one line per check, then the verdict and, on failure, what to do.
    public func rendered() -> String {
        var lines = [String]()
        if isSimulation {
            lines.append("WARNING: verified against a SIMULATION trust anchor: this proves nothing about real SGX/TDX hardware.")
        }
        for step in steps {
            let mark =
                switch step.outcome {
                case .passed: "ok  "
                case .failed: "FAIL"
                case .skipped: "skip"
                }
            lines.append("[\(mark)] \(step.check.title)\(step.cached ? " (cached)" : ""): \(step.detail)")
        }
        if let error {
            lines.append("REJECTED: \(error.description)")
        } else if let status {
            let advisories = advisoryIDs.isEmpty ? "" : " (advisories \(advisoryIDs.joined(separator: ", ")))"
            lines.append("ACCEPTED: TCB status \(status.rawValue)\(advisories): \(status.advice).")
        }
        return lines.joined(separator: "\n")
    }
}

/// Collects explanation steps only when asked to, so that plain verification pays nothing for it.
struct Recorder {
    private(set) var explanation: Explanation?

    init(enabled: Bool) {
        explanation = enabled ? Explanation() : nil
    }

    var isEnabled: Bool { explanation != nil }

    mutating func passed(_ check: Check, cached: Bool = false, _ detail: @autoclosure () -> String) {
        explanation?.steps.append(.init(check: check, outcome: .passed, detail: detail(), cached: cached))
    }

    mutating func skipped(_ check: Check, _ detail: @autoclosure () -> String) {
        explanation?.steps.append(.init(check: check, outcome: .skipped, detail: detail()))
    }

    mutating func failed(_ error: AttestationError) {
        explanation?.steps.append(
            .init(check: error.check, outcome: .failed, detail: "found \(error.found); expected \(error.expected). \(error.hint)"))
        explanation?.error = error
    }

    mutating func update(_ body: (inout Explanation) -> Void) {
        if explanation != nil { body(&explanation!) }
    }
}
