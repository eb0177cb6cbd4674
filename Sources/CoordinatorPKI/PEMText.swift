import Foundation

/// PEM text (RFC 7468): base64 in lines of 64 characters between BEGIN and END lines, ending with a newline.
///
/// SwiftASN1's `PEMDocument.pemString` gives the same text, but it builds it one character index at a time, and the
/// Coordinator writes a certificate chain and a private key for every marble activation: with Foundation's base64 this
/// is a fraction of the cost.
enum PEMText {
    static func encode(type: String, der: some DataProtocol) -> String {
        let body = Data(der).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
        return "-----BEGIN \(type)-----\n\(body)\n-----END \(type)-----\n"
    }
}
