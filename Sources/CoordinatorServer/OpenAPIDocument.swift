import Foundation
import Hummingbird
import NIOCore

/// The OpenAPI 3.1 description of the client API and the marble API (`openapi.json` beside this file), served at
/// `/api/v2/openapi.json` byte for byte.
///
/// The servers take from it which methods each path has (the `Allow` header of a 405); `CoordinatorServerTests`
/// validates it with OpenAPIKit and checks real requests and answers against its schemas, and schemathesis fuzzes a
/// running Coordinator from it.
public enum OpenAPIDocument {
    public static let bytes: [UInt8] = PackageResources.openapi_json

    /// The documented methods of each path, upper-case and sorted ("GET", "POST").
    public static let methodsByPath: [String: [String]] = {
        let httpMethods: Set<String> = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]
        // The document is part of the build and checked by the tests: it is a JSON object with `paths`.
        let document = try! JSONSerialization.jsonObject(with: Data(bytes)) as! [String: Any]
        let paths = document["paths"] as! [String: [String: Any]]
        return paths.mapValues { item in item.keys.filter(httpMethods.contains).map { $0.uppercased() }.sorted() }
    }()

    /// The value of an `Allow` header for `path`: its documented methods, or none for a path that is not an endpoint.
    public static func allowHeader(for path: String) -> String {
        (methodsByPath[path] ?? []).joined(separator: ", ")
    }

    static func response() -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
