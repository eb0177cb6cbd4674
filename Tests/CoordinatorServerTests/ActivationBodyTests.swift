import CoordinatorAPI
import Foundation
import Testing

@testable import CoordinatorServer

/// The activation answer is written without `JSONEncoder`; it must read back as the same value and be the same JSON
/// as the encoder writes.
@Suite struct ActivationBodyTests {
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
}
