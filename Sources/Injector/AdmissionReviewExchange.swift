import Foundation

/// Why an AdmissionReview could not be answered at all (the API server then applies the webhook's failurePolicy).
public struct AdmissionReviewError: Error, Sendable, Equatable, CustomStringConvertible {
    public let found: String
    public let expected: String
    public let hint: String

    public var description: String { "cannot answer the admission review: found \(found); expected \(expected). \(hint)" }
}

/// Turns the bytes of an AdmissionReview request into the bytes of its answer: a pure function of the request, so
/// that the HTTPS handler only moves bytes and the fuzzer reaches every decision.
public struct AdmissionReviewExchange: Sendable {
    /// Kubernetes keeps objects below 1.5 MiB (etcd's default); a review carries the object and possibly its old version.
    public static let maximumRequestBytes = 4 << 20

    public let injector: MarbleInjector

    public init(injector: MarbleInjector) { self.injector = injector }

    /// The review's answer, with the request and decision it answers (for the log).
    public struct Answer: Sendable {
        public let request: AdmissionRequest
        public let decision: AdmissionDecision
        public let bytes: [UInt8]
    }

    public func answer(_ body: [UInt8]) throws(AdmissionReviewError) -> Answer {
        guard body.count <= Self.maximumRequestBytes else {
            throw AdmissionReviewError(
                found: "a body of \(body.count) bytes", expected: "at most \(Self.maximumRequestBytes) bytes",
                hint: "the API server never sends a pod this large; check what is posting to /mutate")
        }
        let review: AdmissionReview
        do {
            review = try JSONDecoder().decode(AdmissionReview.self, from: Data(body))
        } catch {
            throw AdmissionReviewError(
                found: "a body that is not an AdmissionReview (\(Self.explain(error)))",
                expected: "an admission.k8s.io/v1 AdmissionReview with a request",
                hint: "the webhook must be registered with admissionReviewVersions [\"v1\"]")
        }
        guard review.apiVersion == "admission.k8s.io/v1", review.kind == "AdmissionReview" else {
            throw AdmissionReviewError(
                found: "apiVersion \(review.apiVersion.map { "'\($0)'" } ?? "(none)") kind \(review.kind.map { "'\($0)'" } ?? "(none)")",
                expected: "apiVersion 'admission.k8s.io/v1' kind 'AdmissionReview'",
                hint: "register the webhook with admissionReviewVersions [\"v1\"]")
        }
        guard let request = review.request else {
            throw AdmissionReviewError(
                found: "an AdmissionReview without a request", expected: "a request with uid, kind and object",
                hint: "only the API server's reviews can be answered")
        }
        let decision = injector.decide(request)
        return Answer(request: request, decision: decision, bytes: Self.response(uid: request.uid, decision: decision))
    }

    static func response(uid: String, decision: AdmissionDecision) -> [UInt8] {
        var members: [(String, PatchValue)] = [("uid", .string(uid))]
        switch decision {
        case .allowed(let patch, let warnings):
            members.append(("allowed", .bool(true)))
            if !patch.isEmpty {
                members += [("patchType", .string("JSONPatch")), ("patch", .string(Data(patch.jsonText.utf8).base64EncodedString()))]
            }
            if !warnings.isEmpty { members.append(("warnings", .array(warnings.map { .string($0) }))) }
        case .denied(let message):
            members.append(("allowed", .bool(false)))
            members.append(
                (
                    "status",
                    .object([
                        ("status", .string("Failure")), ("reason", .string("Forbidden")), ("message", .string(message)), ("code", .integer(403)),
                    ])
                ))
        }
        let review = PatchValue.object([
            ("apiVersion", .string("admission.k8s.io/v1")), ("kind", .string("AdmissionReview")), ("response", .object(members)),
        ])
        return Array(review.jsonText.utf8)
    }

    private static func explain(_ error: any Error) -> String {
        switch error as? DecodingError {
        case .keyNotFound(let key, let context)?: "'\(path(context.codingPath + [key]))' is missing"
        case .typeMismatch(let type, let context)?: "'\(path(context.codingPath))' is not \(type)"
        case .valueNotFound(let type, let context)?: "'\(path(context.codingPath))' is null, not \(type)"
        case .dataCorrupted(let context)?:
            context.codingPath.isEmpty ? "not JSON: \(context.debugDescription)" : "'\(path(context.codingPath))': \(context.debugDescription)"
        default: "\(error)"
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().drop { $0 == "." }.description
    }
}
