import Coordinator
import CoordinatorAPI
import Foundation
import NIOCore
import Testing

@testable import CoordinatorServer

/// The activation request is read and its answer written without `JSONDecoder` and `JSONEncoder`: both must agree with
/// them, and a malformed request must be refused with what is wrong.
@Suite struct ActivationJSONTests {
    static let samples = [
        ActivationResponse(files: [:], env: [:], argv: []),
        ActivationResponse(
            files: ["/etc/tls/cert.pem": Data("-----BEGIN CERTIFICATE-----\nMIIB\n".utf8), "/data/\"quoted\"\\key": Data([0, 1, 2, 255])],
            env: ["B_ENV": Data("two\nlines".utf8), "A_ENV": Data(), "Ünïcode\u{1}": Data([0xE2, 0x82, 0xAC])],
            argv: ["/usr/bin/python3", "-c", "print(\"hi\")\t\\", "emoji 🙂", "\u{7}"]),
    ]

    @Test(arguments: samples)
    func readsBackAsTheSameValue(_ response: ActivationResponse) throws {
        let body = JSendResponse.activationBody(response)
        let bytes = Data(body.readableBytesView)
        let envelope = try JSONDecoder().decode(JSend<ActivationResponse>.self, from: bytes)
        #expect(envelope.status == .success)
        #expect(envelope.data == response)

        let written = try JSONSerialization.jsonObject(with: bytes) as? NSDictionary
        let encoded = try JSONSerialization.jsonObject(with: Data(JSendResponse.successBody(response).readableBytesView)) as? NSDictionary
        #expect(written == encoded)
    }

    @Test func readsWhatJSONEncoderWrites() throws {
        let request = ActivationRequest(quote: Data([1, 2, 3, 250]), csr: Data(repeating: 7, count: 300), marbleType: "back\"end", uuid: "u")
        let body = ByteBuffer(bytes: try JSONEncoder().encode(request))
        #expect(try ActivationEndpoint.decodeRequest(body) == request)
        let withExtras = ByteBuffer(string: #"{"uuid":"a","marbleType":"t","csr":"","quote":"AA==","extra":[1],"uuid":"b"}"#)
        #expect(try ActivationEndpoint.decodeRequest(withExtras) == ActivationRequest(quote: Data([0]), csr: Data(), marbleType: "t", uuid: "b"))
    }

    @Test(arguments: [
        ("[1]", "an array instead of an object"), (#"{"quote": 12}"#, "quote: the number 12 instead of a string"),
        (#"{"quote": "AA==", "csr": "AA=="}"#, "no member marbleType"), (#"{"quote": "not base64!"}"#, "quote: 11 characters that are not base64"),
        (#"{"quote": "#, "a body that is not JSON"),
    ])
    func refusesMalformedRequestsNamingTheProblem(_ body: String, _ found: String) {
        #expect {
            try ActivationEndpoint.decodeRequest(ByteBuffer(string: body))
        } throws: { error in
            guard let error = error as? CoordinatorError else { return false }
            return error.reason == .malformedRequest && error.found.hasPrefix(found) && error.expected.contains("base64")
        }
    }
}
