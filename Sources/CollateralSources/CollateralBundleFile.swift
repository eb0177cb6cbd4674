import Attestation
import Foundation

/// Collateral recorded in a file: dcap-qvl's `QuoteCollateralV3` JSON (the format of the shared corpus).
///
/// The file holds the collateral of one platform family, so a request for another TEE type or FMSPC is refused
/// instead of producing a confusing verification failure later.
public struct CollateralBundleFile: CollateralSource {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    public var identity: String { "collateral file \(path)" }

    /// The bundle as it is, whatever platform it belongs to.
    public func load() throws(CollateralSourceError) -> Collateral {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            let reason = FileManager.default.fileExists(atPath: path) ? "\(error.localizedDescription)" : "no such file"
            throw .bundleUnreadable(path: path, reason: reason)
        }
        do {
            return try JSONDecoder().decode(Collateral.self, from: data)
        } catch let DecodingError.keyNotFound(key, _) {
            throw .bundleMalformed(path: path, reason: "the key '\(key.stringValue)' is missing")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw .bundleMalformed(path: path, reason: "'\(Self.path(context))' has the wrong type")
        } catch let DecodingError.dataCorrupted(context) {
            throw .bundleMalformed(
                path: path,
                reason: context.codingPath.isEmpty
                    ? "it is not JSON (\(data.count) bytes starting with \(FetchedResponse.preview(Array(data.prefix(32)))))"
                    : context.debugDescription)
        } catch {
            throw .bundleMalformed(path: path, reason: "\(error)")
        }
    }

    public func collateral(for request: CollateralRequest) async throws(CollateralSourceError) -> Collateral {
        let collateral = try load()
        struct TCBInfoPlatform: Decodable {
            let id: String?
            let fmspc: String?
        }
        let platform = try? JSONDecoder().decode(TCBInfoPlatform.self, from: Data(collateral.tcbInfo))
        let tee = platform?.id ?? "SGX"
        let fmspc = platform?.fmspc?.uppercased() ?? "unknown"
        guard tee == request.tee.rawValue, fmspc == request.fmspc else {
            throw .bundleDoesNotMatch(path: path, request: request, found: "\(tee) FMSPC \(fmspc)")
        }
        return collateral
    }

    private static func path(_ context: DecodingError.Context) -> String {
        context.codingPath.map(\.stringValue).joined(separator: ".")
    }
}
