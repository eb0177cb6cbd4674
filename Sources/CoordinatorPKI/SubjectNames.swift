import Foundation
import Hexadecimal
import SwiftASN1
import X509

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The DNS names and IP addresses that go into a certificate's subjectAltName extension.
public struct SubjectNames: Sendable, Hashable, Codable {
    public var dnsNames: [String]
    /// IP addresses in their textual form (`127.0.0.1`, `::1`).
    public var ipAddresses: [String]

    public init(dnsNames: [String] = [], ipAddresses: [String] = []) {
        self.dnsNames = dnsNames
        self.ipAddresses = ipAddresses
    }

    /// Sorts a mixed list (as in `EDG_COORDINATOR_DNS_NAMES` or `EDG_MARBLE_DNS_NAMES`) into DNS names and IP
    /// literals, the way MarbleRun does.
    public init(mixed names: [String]) {
        var dnsNames: [String] = []
        var ipAddresses: [String] = []
        for name in names.map({ $0.trimmingCharacters(in: .whitespaces) }) where !name.isEmpty {
            if Self.addressBytes(name) != nil { ipAddresses.append(name) } else { dnsNames.append(name) }
        }
        self.init(dnsNames: dnsNames, ipAddresses: ipAddresses)
    }

    /// These names plus the loopback addresses 127.0.0.1 and ::1, which MarbleRun adds to all its CA certificates.
    public var withLoopback: SubjectNames {
        var names = self
        for loopback in ["127.0.0.1", "::1"] where !names.ipAddresses.contains(loopback) {
            names.ipAddresses.append(loopback)
        }
        return names
    }

    var isEmpty: Bool { dnsNames.isEmpty && ipAddresses.isEmpty }

    func generalNames() throws(PKIError) -> [GeneralName] {
        var names = dnsNames.map { GeneralName.dnsName($0) }
        for address in ipAddresses {
            guard let bytes = Self.addressBytes(address) else {
                throw PKIError.invalidTemplate(
                    field: "IPAddresses",
                    found: "'\(address)'",
                    expected: "an IPv4 (a.b.c.d) or IPv6 address literal"
                )
            }
            names.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(bytes))))
        }
        return names
    }

    /// Reads the names of a subjectAltName extension; other kinds of names are ignored.
    init(_ alternativeNames: SubjectAlternativeNames?) {
        var dnsNames: [String] = []
        var ipAddresses: [String] = []
        for name in alternativeNames ?? SubjectAlternativeNames() {
            switch name {
            case .dnsName(let dnsName): dnsNames.append(dnsName)
            case .ipAddress(let octets): ipAddresses.append(Self.addressText(Array(octets.bytes)))
            default: continue
            }
        }
        self.init(dnsNames: dnsNames, ipAddresses: ipAddresses)
    }

    static func addressBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }

    static func addressText(_ bytes: [UInt8]) -> String {
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        guard bytes.count == 4 || bytes.count == 16 else {
            return bytes.hexadecimal
        }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let text = bytes.withUnsafeBytes { raw in
            inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count))
        }
        guard text != nil else { return bytes.hexadecimal }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
