import Attestation
import Foundation
import Hexadecimal

/// The outcome of `cloister quote verify`, as a readable report or as JSON with the same content.
struct QuoteVerificationReport {
    let file: String
    let input: QuoteVerifyCommand.VerificationInput
    let explanation: Explanation
    let verified: VerifiedQuote?
    let includeSteps: Bool

    private var verdict: String { explanation.accepted ? "accepted" : "rejected" }

    private var instantNote: String {
        input.instantGiven ? "given with --at" : "the current time; pass --at to verify as of another instant"
    }

    var tree: QuoteReportTree {
        var members: [(String, QuoteReportTree)] = [
            ("file", .string(file)),
            ("verdict", .string(verdict)),
            ("exitCode", .integer(explanation.accepted ? 0 : 1)),
            ("tee", .string(input.quote.tee.rawValue)),
            ("quoteVersion", .number(input.quote.header.version)),
            ("verificationTime", .string(QuoteInput.iso8601(input.instant))),
            ("verificationTimeSource", .string(input.instantGiven ? "--at" : "current time")),
            ("collateralSource", .string(input.collateralSource)),
            ("policy", .string(input.policySource)),
            ("simulation", .bool(explanation.isSimulation)),
            ("status", .optional(explanation.status.map { .string($0.rawValue) })),
            ("advisoryIDs", .array(explanation.advisoryIDs.map { .string($0) })),
        ]
        if let verified {
            members += [
                ("platformStatus", .string(verified.platformStatus.rawValue)),
                ("qeStatus", .string(verified.qeStatus.rawValue)),
                ("tdxModuleStatus", .optional(verified.tdxModuleStatus.map { .string($0.rawValue) })),
                ("platformTCBLevel", level(verified.platformTCBLevel)),
                ("qeTCBLevel", level(verified.qeTCBLevel)),
                ("tdxModuleTCBLevel", .optional(verified.tdxModuleTCBLevel.map(level))),
                ("tcbDate", .string(QuoteInput.iso8601(verified.tcbDate))),
                ("fmspc", .string(verified.pck.fmspc.hexadecimal.uppercased())),
                ("collateralExpiry", .string(QuoteInput.iso8601(verified.collateralExpiry))),
            ]
        }
        if let error = explanation.error {
            var failure: [(String, QuoteReportTree)] = [
                ("check", .string(error.check.rawValue)),
                ("title", .string(error.check.title)),
                ("policy", .bool(error.check.isPolicy)),
                ("found", .string(error.found)),
                ("expected", .string(error.expected)),
                ("hint", .string(error.hint)),
            ]
            if let structure = error.structure { failure.append(("structure", .string(structure))) }
            if let offset = error.offset { failure.append(("offset", .number(offset))) }
            members.append(("error", .object(failure)))
        }
        if includeSteps {
            members.append(
                (
                    "explanation",
                    .array(
                        explanation.steps.map { step in
                            .object([
                                ("check", .string(step.check.rawValue)),
                                ("title", .string(step.check.title)),
                                ("outcome", .string(step.outcome.rawValue)),
                                ("detail", .string(step.detail)),
                                ("cached", .bool(step.cached)),
                            ])
                        })
                ))
        }
        return .object(members)
    }

    var text: String {
        var lines = [String]()
        if explanation.isSimulation {
            lines.append("WARNING: the trust anchor is a SIMULATION root: this proves nothing about real hardware.")
        }
        lines.append("quote:        \(file) (\(input.quote.tee.rawValue) quote v\(input.quote.header.version), \(input.quote.bytes.count) bytes)")
        lines.append("collateral:   \(input.collateralSource)")
        lines.append("verified at:  \(QuoteInput.iso8601(input.instant)) (\(instantNote))")
        lines.append("policy:       \(input.policySource)")
        lines.append("verdict:      \(verdict.uppercased())")
        if let status = explanation.status {
            let advisories = explanation.advisoryIDs.isEmpty ? "no advisories" : "advisories \(explanation.advisoryIDs.joined(separator: ", "))"
            lines.append("TCB status:   \(status.rawValue) (\(advisories)): \(status.advice)")
        }
        if let verified {
            var components = "platform \(verified.platformStatus.rawValue), QE \(verified.qeStatus.rawValue)"
            if let module = verified.tdxModuleStatus { components += ", TDX module \(module.rawValue)" }
            lines.append("components:   \(components)")
            lines.append("platform TCB: level of \(verified.platformTCBLevel.tcbDateText), \(verified.platformTCBLevel.svns)")
            lines.append("QE TCB:       level of \(verified.qeTCBLevel.tcbDateText), \(verified.qeTCBLevel.svns)")
            if let module = verified.tdxModuleTCBLevel {
                lines.append("TDX module:   level of \(module.tcbDateText), \(module.svns)")
            }
            lines.append("FMSPC:        \(verified.pck.fmspc.hexadecimal.uppercased())")
            lines.append("valid until:  \(QuoteInput.iso8601(verified.collateralExpiry)) (earliest nextUpdate/notAfter of the collateral used)")
        }
        if let error = explanation.error {
            lines.append("reason:       \(error.check.title) \(error.check.isPolicy ? "(policy)" : "(verification)")")
            lines.append("  found:      \(error.found)")
            lines.append("  expected:   \(error.expected)")
            lines.append("  what to do: \(error.hint)")
        }
        if includeSteps {
            lines.append("")
            lines.append("reasoning, check by check:")
            lines.append(explanation.rendered())
        }
        return lines.joined(separator: "\n")
    }

    private func level(_ summary: TCBLevelSummary) -> QuoteReportTree {
        .object([
            ("status", .string(summary.status.rawValue)),
            ("tcbDate", .string(summary.tcbDateText)),
            ("advisoryIDs", .array(summary.advisoryIDs.map { .string($0) })),
            ("svns", .string(summary.svns)),
        ])
    }
}
